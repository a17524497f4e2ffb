import type { Logger } from '../observability/logger.js';

/** A repeat of the stop signal within this window is the same request, not "exit now". */
const repeatSignalWindowMs = 2_000;

/**
 * SIGTERM and SIGINT: runs the stop steps in order, once, then exits 0. One Ctrl-C can arrive
 * twice (from the terminal and relayed by `npm start`): only a signal well after the first
 * means "stop waiting" and exits at once.
 */
export function onStopSignals(steps: () => readonly (() => Promise<void>)[], logger: Logger, bounds: { graceMs: number; cancelWaitMs: number }): void {
  const { graceMs } = bounds;
  // Whatever Redis does, the process is gone by then: jobs it could not hand back are left to
  // the stalled-job check of the other workers (their locks expire).
  const hardStopMs = graceMs + bounds.cancelWaitMs + 5_000;
  let stoppingSince: number | undefined;
  const shutdown = async (signal: string) => {
    if (stoppingSince !== undefined) {
      if (Date.now() - stoppingSince < repeatSignalWindowMs) {
        return;
      }
      logger.warn({ signal }, 'second signal: exiting now; jobs still running are left to the stalled-job check');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal, graceMs }, 'shutting down: running jobs get the grace period, then are cancelled back to waiting (signal again to exit at once)');
    setTimeout(() => {
      logger.error({ hardStopMs }, 'shutdown did not finish in time (is Redis reachable?): exiting; running jobs are left to the stalled-job check');
      process.exit(1);
    }, hardStopMs);
    for (const step of steps()) {
      await step();
    }
    logger.info('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void shutdown(signal));
  }
}
