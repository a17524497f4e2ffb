import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';

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

/** The URL schemes of a Redis Cluster: seed nodes after the scheme, comma-separated (`rediss+cluster://` with TLS). */
const clusterSchemes = ['redis+cluster:', 'rediss+cluster:'];

/** Whether `url` names a Redis Cluster (`redis+cluster://host:port,host:port`) rather than one server. */
export function isClusterUrl(url: string): boolean {
  return clusterSchemes.some((scheme) => url.startsWith(`${scheme}//`));
}

/** The cluster URL of `REDIS_CLUSTER_NODES` (`host:port,host:port`), with the credentials and TLS of `base` (a REDIS_URL) when one is given. */
export function clusterUrlOf(nodes: string, base?: string): string {
  const seeds = nodes
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean)
    .join(',');
  if (!base) {
    return `redis+cluster://${seeds}`;
  }
  const u = new URL(base);
  const auth = u.username || u.password ? `${u.username}${u.password ? `:${u.password}` : ''}@` : '';
  return `${u.protocol === 'rediss:' ? 'rediss+cluster' : 'redis+cluster'}://${auth}${seeds}`;
}

/** The seed nodes, credentials and TLS a cluster URL names. Throws on a malformed one (the message names the part). */
export function parseClusterUrl(url: string): { nodes: { host: string; port: number }[]; username?: string; password?: string; tls: boolean } {
  const scheme = clusterSchemes.find((s) => url.startsWith(`${s}//`));
  if (!scheme) {
    throw new Error('a cluster URL starts with redis+cluster:// or rediss+cluster://');
  }
  let rest = url.slice(scheme.length + 2);
  let username: string | undefined;
  let password: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    const [user, pass] = rest.slice(0, at).split(':', 2);
    username = user ? decodeURIComponent(user) : undefined;
    password = pass !== undefined ? decodeURIComponent(pass) : undefined;
    rest = rest.slice(at + 1);
  }
  const nodes = rest
    .replace(/\/.*$/, '')
    .split(',')
    .filter(Boolean)
    .map((hostPort) => {
      const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(hostPort);
      if (!m) {
        throw new Error(`cluster seed node "${hostPort}" is not host:port`);
      }
      return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2] ?? 6379) };
    });
  if (nodes.length === 0) {
    throw new Error('a cluster URL names at least one seed node (host:port)');
  }
  return { nodes, username, password, tls: scheme === 'rediss+cluster:' };
}

/**
 * One connection for `role`: an ioredis `Redis` for a server's URL, an ioredis `Cluster` for a
 * cluster URL ({@link isClusterUrl}). Every connection of the program is made here.
 *
 * A `Cluster` is returned under the `Redis` type on purpose: it carries every command the stores,
 * queues and workers send under the same names and signatures (ioredis builds both from one
 * command table), BullMQ takes either, and the few things only a single server has (`stream`,
 * per-node INFO, SCAN over every key) are read through {@link isCluster}, {@link scanKeys} and
 * {@link eachMaster}. Typing every store against `Redis | Cluster` would change ~40 files for no
 * behaviour.
 */
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
  const redis = isClusterUrl(url) ? (createCluster(url, role, options) as unknown as Redis) : new Redis(url, options);
  openConnections.add(redis);
  redis.on('ready', () => openConnections.add(redis));
  redis.on('end', () => openConnections.delete(redis));
  return redis;
}

/**
 * A cluster connection with the role's per-node options. A MOVED or ASK is followed (that is what
 * a cluster client does), a CLUSTERDOWN or TRYAGAIN during a failover is retried after a pause, and
 * the slot map is refreshed on every redirection, so a seed node that owns no slot, or a master
 * that was replaced, is only a detour.
 */
function createCluster(url: string, role: ConnectionRole, perNode: RedisOptions): Cluster {
  const { nodes, username, password, tls } = parseClusterUrl(url);
  const { retryStrategy, enableOfflineQueue, ...nodeOptions } = perNode;
  const options: ClusterOptions = {
    redisOptions: { ...nodeOptions, username, password, ...(tls ? { tls: {} } : {}) },
    // Keep looking for the cluster, backing off like a single server's connection.
    clusterRetryStrategy: (times) => retryStrategy?.(times) ?? 5_000,
    enableOfflineQueue: role === 'client' ? enableOfflineQueue : true,
    // The cluster's ready check (CLUSTER INFO) is itself a command: without an offline queue (the
    // client role fails fast) it would fail before the first node is connected, every time. A
    // cluster that is not ok answers CLUSTERDOWN instead, which is retried.
    enableReadyCheck: role !== 'client',
    retryDelayOnClusterDown: 300,
    retryDelayOnTryAgain: 100,
    retryDelayOnFailover: 200,
    // A failover takes a few seconds: a command waits through as many redirections as that needs.
    maxRedirections: role === 'client' ? 16 : 64,
    slotsRefreshTimeout: 2_000,
    // Managed clusters (ElastiCache, MemoryDB) present certificates for their own names.
    ...(tls ? { dnsLookup: (address: string, callback: (err: Error | null, address: string) => void) => callback(null, address) } : {}),
  };
  return new Cluster(nodes, options);
}

/** Whether a connection {@link createRedis} made is a cluster connection. */
export function isCluster(redis: Redis): boolean {
  return (redis as unknown as { isCluster?: boolean }).isCluster === true;
}

/**
 * Runs `work` on every master's connection (a cluster), or on the one server. What has to see every
 * key or every server (SCAN, INFO, DBSIZE, CLIENT LIST) runs through it: on a cluster each of those
 * answers for one node only.
 */
export async function eachMaster<T>(redis: Redis, work: (node: Redis) => Promise<T>): Promise<T[]> {
  if (!isCluster(redis)) {
    return [await work(redis)];
  }
  const cluster = redis as unknown as Cluster;
  return Promise.all(cluster.nodes('master').map((node) => work(node)));
}

/** Every key matching the glob `match`, on every master: SCAN in pages of `count`. */
export async function scanKeys(redis: Redis, match: string, count = 1000): Promise<string[]> {
  const perNode = await eachMaster(redis, async (node) => {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, page] = await node.scan(cursor, 'MATCH', match, 'COUNT', count);
      cursor = next;
      keys.push(...page);
    } while (cursor !== '0');
    return keys;
  });
  return perNode.flat();
}

/**
 * Whether the server at `url` runs in cluster mode (`cluster_enabled:1`): a REDIS_URL that names one
 * node of a cluster is used as the cluster's seed instead of failing on the first MOVED.
 */
export async function serverIsClusterNode(url: string, timeoutMs = 2_000): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return /^cluster_enabled:1\b/m.test(await probe.info('cluster'));
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** Where a URL points, as one server's URL without credentials: a cluster URL's first seed node (what the residency answer reads the host of). */
export function firstNodeUrl(url: string): string {
  if (!isClusterUrl(url)) {
    return url;
  }
  const c = parseClusterUrl(url);
  const first = c.nodes[0] as { host: string; port: number };
  return `${c.tls ? 'rediss' : 'redis'}://${first.host.includes(':') ? `[${first.host}]` : first.host}:${first.port}`;
}

/** A single server's URL as the seed of a cluster URL (same credentials and TLS). */
export function clusterUrlFromNode(url: string): string {
  const u = new URL(url);
  return clusterUrlOf(`${u.hostname.includes(':') ? `[${u.hostname}]` : u.hostname}:${u.port || 6379}`, url);
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
const unansweredClasses = new Set(['MaxRetriesPerRequestError', 'AbortError', 'InterruptError', 'ParserError', 'ConnectionClosedError', 'ClusterAllFailedError']);
/**
 * Replies of a cluster that is moving slots or failing over (or of a cluster node asked by a
 * single-server connection): answers, but not about the command; retried like an outage.
 * `UNBLOCKED` is what a worker's blocking read gets from a master that has just become a replica.
 */
const clusterInTransit = /^(MOVED|ASK|CLUSTERDOWN|TRYAGAIN|LOADING|MASTERDOWN|READONLY|UNBLOCKED) /;
/** ioredis' texts for a cluster it cannot reach or whose slot map it has not got yet. */
const clusterUnreachable = /^(Failed to refresh slots cache|None of startup nodes is available|Cluster isn't ready)/;
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
  if (!(err instanceof Error)) {
    return false;
  }
  if (err.name === 'ReplyError') {
    return clusterInTransit.test(err.message);
  }
  if (clusterUnreachable.test(err.message)) {
    return true;
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
