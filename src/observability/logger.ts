import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** The `component` of a line whose logger binds none: the process itself. */
export const processComponent = 'bsm';

/**
 * The one logger of the process; components take child loggers bound to their fields.
 *
 * Lines are JSON with the level as an upper-case name (`"level":"ERROR"`) and a `component` on
 * every line, so CloudWatch Logs filters (`"ERROR"`, `{ $.component = "api" }`) work: a child
 * bound to `{ component }` names its own, every other line says `bsm`. `destination` defaults to
 * standard output.
 */
export function createLogger(level: string, base: Record<string, unknown> = {}, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, ...base },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label.toUpperCase() }) },
      // Added only where no binding names the component: pino would write a bound key twice.
      mixin: (_fields, _level, logger) => ('component' in logger.bindings() ? {} : { component: processComponent }),
    },
    destination,
  );
}
