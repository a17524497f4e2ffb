import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is for.
 * - `blocking`: BullMQ workers and schedulers; commands wait through outages (`maxRetriesPerRequest: null`).
 * - `client`: the API and queues used from request handlers; while Redis is down a command
 *   fails at once instead of hanging the request.
 * - `job`: what job handlers read and write; a command waits through a Redis restart (about
 *   90 s of reconnecting) instead of failing the job's attempt at the first dropped socket.
 */
export type ConnectionRole = 'blocking' | 'client' | 'job';

/** Reconnects a `job` command waits through before it fails: with the back-off below, about 90 s. */
const jobCommandRetries = 20;

export function createRedis(url: string, role: ConnectionRole, name?: string): Redis {
  const common: RedisOptions = {
    connectionName: name,
    lazyConnect: false,
    // Keep trying to reconnect, backing off up to 5 s, for as long as the process lives.
    retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 5), 5_000),
  };
  const options: RedisOptions = {
    blocking: { ...common, maxRetriesPerRequest: null, enableReadyCheck: true },
    job: { ...common, maxRetriesPerRequest: jobCommandRetries, enableOfflineQueue: true, enableReadyCheck: true },
    client: { ...common, maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 2_000, commandTimeout: 2_000 },
  }[role];
  return new Redis(url, options);
}

/** Resolves once the connection is ready, or rejects after `timeoutMs`. */
export async function waitReady(redis: Redis, timeoutMs = 5_000): Promise<void> {
  if (redis.status === 'ready') {
    return;
  }
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`Redis did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const cleanup = () => {
      clearTimeout(timer);
      redis.off('ready', onReady);
    };
    redis.on('ready', onReady);
  });
}

/** Round-trip time of one PING, in milliseconds (fractional). */
export async function pingLatencyMs(redis: Redis): Promise<number> {
  const started = process.hrtime.bigint();
  await redis.ping();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/**
 * Closes a connection without waiting on a Redis that is not there: QUIT when it is ready
 * (bounded by `timeoutMs`), otherwise, or when QUIT does not answer in time, a plain
 * disconnect. A worker's or subscriber's QUIT would otherwise wait for a reconnect that may
 * never come.
 */
export async function closeRedis(redis: Redis, timeoutMs = 1_000): Promise<void> {
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      redis.quit().then(
        () => true,
        () => false,
      ),
      new Promise<false>((done) => (timer = setTimeout(() => done(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (answered) {
      return;
    }
  }
  redis.disconnect();
}
