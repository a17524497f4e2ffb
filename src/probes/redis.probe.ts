/**
 * The `redis` kind: a Redis answers PING within its budget and is configured as expected
 * (eviction policy, AOF, memory headroom), read from `INFO`. A target with a URL gets a
 * connection of its own, made for the probe and closed after it; without one the fleet's own
 * connection is used (and left open).
 */
import { Redis } from 'ioredis';
import { combineRedisFacts, parseRedisInfo } from '../domain/audit/redis-facts.js';
import { eachMaster } from '../redis.js';
import type { TargetOf } from '../domain/audit/inventory.js';
import type { Observation, UnreachableCause } from '../domain/audit/probe.js';
import { causeOf, describeError, describeTarget, latencyObservation, misconfigured, observation, onAbort, reachedObservation, resolveSecret, unreachable, unsetVariable, type Findings, type ProbeContext } from './findings.js';

export interface RedisProbeDeps {
  /** The fleet's own connection: probed when a target names no URL. */
  fleetRedis: Redis;
  /** Where a URL given as `{ env: NAME }` is read. */
  env: NodeJS.ProcessEnv;
}

export async function probeRedis(target: TargetOf<'redis'>, deps: RedisProbeDeps, ctx: ProbeContext): Promise<Findings> {
  let client: Redis;
  let own = false;
  // ioredis rejects connect() with "Connection is closed." and tells why only in its error event.
  const failure: { last?: Error } = {};
  if (target.url === undefined) {
    client = deps.fleetRedis;
  } else {
    const url = resolveSecret(target.url, deps.env);
    if ('missing' in url) {
      return misconfigured(target, [unsetVariable(url.missing)]);
    }
    client = new Redis(url.value, {
      lazyConnect: true,
      // One attempt: a probe reports what it finds, it does not wait for a Redis to come back.
      retryStrategy: () => null,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      enableReadyCheck: false,
      connectTimeout: ctx.timeoutMs,
      commandTimeout: ctx.timeoutMs,
    });
    own = true;
    client.on('error', (err: Error) => {
      failure.last = err;
    });
  }
  const stopListening = own ? onAbort(ctx.signal, () => client.disconnect()) : () => undefined;
  try {
    return await inspect(target, client, own, failure);
  } finally {
    stopListening();
    if (own) {
      client.disconnect();
    }
  }
}

async function inspect(target: TargetOf<'redis'>, client: Redis, own: boolean, failure: { last?: Error }): Promise<Findings> {
  const what = describeTarget(target);
  let pingMs: number;
  let facts: ReturnType<typeof parseRedisInfo>;
  try {
    if (own) {
      await client.connect();
    }
    const started = performance.now();
    await client.ping();
    pingMs = performance.now() - started;
    // The fleet's own Redis may be a cluster: INFO of every master, combined.
    facts = combineRedisFacts(await eachMaster(client, async (node) => parseRedisInfo(await node.info())));
  } catch (err) {
    const why = failure.last ?? err;
    return unreachable(target, redisCause(why), describeError(why));
  }
  const observations: Observation[] = [reachedObservation(target), latencyObservation(`${what} (PING)`, pingMs, target.latencyBudgetMs)];
  if (target.expectEvictionPolicy !== undefined) {
    const policy = facts.maxmemoryPolicy ?? 'not reported';
    observations.push(observation('eviction-policy', `${what} evicts keys by ${target.expectEvictionPolicy}`, target.expectEvictionPolicy, policy, policy === target.expectEvictionPolicy, 'configuration_drift'));
  }
  if (target.expectAof !== undefined) {
    const aof = facts.aofEnabled === undefined ? 'not reported' : facts.aofEnabled ? 'on' : 'off';
    const want = target.expectAof ? 'on' : 'off';
    observations.push(observation('aof', `${what} has its append-only file ${want}`, want, aof, aof === want, 'configuration_drift'));
  }
  if (target.maxMemoryShare !== undefined) {
    observations.push(memoryObservation(what, target.maxMemoryShare, facts.usedMemoryBytes, facts.maxmemoryBytes));
  }
  return { reach: { reachable: true }, observations };
}

function memoryObservation(what: string, maxShare: number, used: number | undefined, max: number | undefined): Observation {
  const title = `${what} uses at most ${Math.round(maxShare * 100)}% of its maxmemory`;
  const expected = `<= ${Math.round(maxShare * 100)}% of maxmemory`;
  if (used === undefined || max === undefined) {
    return observation('memory', title, expected, 'not reported', false, 'performance_issue');
  }
  if (max === 0) {
    // No limit: Redis grows until the machine runs out; the eviction policy check speaks to that.
    return observation('memory', title, expected, `no maxmemory set (${mb(used)} used)`, true, 'performance_issue');
  }
  const share = used / max;
  return observation('memory', title, expected, `${Math.round(share * 100)}% of maxmemory (${mb(used)} of ${mb(max)})`, share <= maxShare, 'performance_issue');
}

function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/**
 * Redis names the kind of an error reply by its first word (`NOAUTH`, `WRONGPASS`): the protocol's
 * error code, read as such. Everything else is a socket error with its code.
 */
function redisCause(err: unknown): UnreachableCause {
  if (err instanceof Error && err.name === 'ReplyError' && /^(NOAUTH|WRONGPASS|NOPERM)\b/.test(err.message)) {
    return 'unauthorized';
  }
  if (err instanceof Error && err.message === 'Command timed out') {
    return 'timeout';
  }
  return causeOf(err);
}
