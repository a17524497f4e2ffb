import type { Logger } from '../observability/logger.js';

/**
 * Re-applies what is declared here but lives in Redis (support mode's queue states, the job
 * schedulers) whenever Redis comes back: it may come back empty or from an older snapshot.
 * A failed try is retried every `retryMs` until it succeeds; calls are serialised.
 */
export function reapplier(apply: () => Promise<Record<string, unknown>>, logger: Logger, retryMs = 5_000): { trigger(): void; stop(): Promise<void> } {
  let chain = Promise.resolve();
  let retryTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  const trigger = () => {
    clearTimeout(retryTimer);
    if (stopped) {
      return;
    }
    chain = chain.then(async () => {
      try {
        const fields = await apply();
        logger.info(fields, 'reconnected to redis: support-mode queue states and job schedulers re-applied');
      } catch (err) {
        logger.warn({ err: (err as Error).message, retryMs }, 'reconnected to redis but could not re-apply queue states and schedulers yet: retrying');
        if (!stopped) {
          retryTimer = setTimeout(trigger, retryMs).unref();
        }
      }
    });
  };
  return {
    trigger,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      await chain;
    },
  };
}
