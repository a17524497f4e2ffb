import { pino, type Logger } from 'pino';

export type { Logger };

/** The one logger of the process; components take child loggers bound to their fields. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({ level, base: { pid: process.pid, ...base }, timestamp: pino.stdTimeFunctions.isoTime });
}
