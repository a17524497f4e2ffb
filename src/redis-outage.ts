import type { Logger } from './observability/logger.js';
import { isRedisUnreachable } from './redis.js';

export interface RedisOutageLog {
  /** Logs an error from any connection, queue or worker: the first one of an outage once, every other kind always. */
  error(source: string, err: Error): void;
  /** Called when any connection is ready again; logs the end of an outage (how long, how many errors were folded). */
  restored(): void;
  readonly down: boolean;
}

/**
 * One line when Redis goes away and one when it is back, instead of an error per connection,
 * queue and worker on every reconnect attempt (about 30 lines a second with five queues).
 */
export function redisOutageLog(logger: Logger, clock: () => number = Date.now): RedisOutageLog {
  let since: number | null = null;
  let folded = 0;
  return {
    error(source, err) {
      if (!isRedisUnreachable(err)) {
        logger.error({ source, err: err.message }, `${source} error`);
        return;
      }
      if (since === null) {
        since = clock();
        folded = 0;
        logger.warn({ source, err: err.message }, 'redis unreachable: retrying; further connection errors are folded into one line when it is back');
        return;
      }
      folded += 1;
    },
    restored() {
      if (since === null) {
        return;
      }
      logger.info({ downSeconds: Math.round((clock() - since) / 100) / 10, foldedErrors: folded }, 'redis reachable again');
      since = null;
    },
    get down() {
      return since !== null;
    },
  };
}
