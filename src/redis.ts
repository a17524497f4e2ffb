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

/** Every connection {@link createRedis} made that has not ended: what {@link isRedisUnreachable} consults by default. */
const openConnections = new Set<Redis>();

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
  const redis = new Redis(url, options);
  openConnections.add(redis);
  redis.on('ready', () => openConnections.add(redis));
  redis.on('end', () => openConnections.delete(redis));
  return redis;
}

/** What {@link isRedisUnreachable} reads of a connection (an ioredis `Redis` has both). */
export interface ConnectionView {
  readonly status: string;
  readonly stream?: { readonly writable: boolean } | undefined;
}

/** Whether a connection can carry a command now: its handshake is done and its socket takes writes. */
export function connectionUsable(connection: ConnectionView): boolean {
  return connection.status === 'ready' && connection.stream?.writable !== false;
}

/** Socket error codes: the operating system says the server cannot be reached. */
const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/**
 * Error classes that mean the command never got an answer: ioredis gave up on it
 * (`MaxRetriesPerRequestError` and the `AbortError`/`InterruptError` of redis-errors it builds on),
 * the reply stream was garbled (`ParserError`), BullMQ found its connection closed. ioredis does not
 * export them, so they are told by class name (each class sets it on its prototype).
 */
const unansweredClasses = new Set(['MaxRetriesPerRequestError', 'AbortError', 'InterruptError', 'ParserError', 'ConnectionClosedError']);
/**
 * ioredis rejects a command that outlived `commandTimeout` with a plain `Error` of this text, and it
 * is the one failure it raises while the connection still reads `ready` (a Redis that hangs). It has
 * no class to test, so this one text is compared, whole; test/integration/health-snapshot.test.ts
 * provokes it on a real server (CLIENT PAUSE) and would fail if ioredis changed it.
 */
const commandTimedOut = 'Command timed out';

/**
 * Whether `err` says Redis could not be reached, as opposed to a command Redis answered with an
 * error (a `ReplyError`) or a bug. Decided by the error's class or socket code, then by the state
 * of the connections: ioredis raises a plain `Error` ("Connection is closed", "Stream isn't
 * writeable…") for a command it could not send, which only happens while a connection is down.
 * `connections` defaults to every connection this process made with {@link createRedis}.
 */
export function isRedisUnreachable(err: unknown, connections: Iterable<ConnectionView> = openConnections): boolean {
  if (!(err instanceof Error) || err.name === 'ReplyError') {
    return false;
  }
  const code = (err as NodeJS.ErrnoException).code;
  // A numeric code is an answer: BullMQ's scripts reply with one (`Missing key for job N`, -1…).
  if (typeof code === 'number') {
    return false;
  }
  if (unansweredClasses.has(err.name) || (typeof code === 'string' && socketCodes.has(code)) || err.message === commandTimedOut) {
    return true;
  }
  for (const connection of connections) {
    if (!connectionUsable(connection)) {
      return true;
    }
  }
  return false;
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
