import type { Redis } from 'ioredis';
import { RemediationError, type RemediationStore } from '../domain/implementation/remediation-service.js';
import { isFinishedRemediation, isPendingRemediation, remediationRequestSchema, type RemediationRequest } from '../domain/implementation/remediation.js';
import { redisLock } from './lock.js';
import { parseStored, StoredDataError } from './parse.js';

/** Requests are kept this long after their last change. */
export const remediationRetentionMs = 90 * 86_400_000;
/** Auto-resolution outcomes are counted over at most 30 days: kept a day longer. */
const outcomeRetentionMs = 31 * 86_400_000;

function parse(raw: string, id: string): RemediationRequest {
  const parsed = remediationRequestSchema.safeParse(parseStored(raw, `remediation ${id}`));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoredDataError(`remediation ${id} does not match its schema at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

/**
 * Implementation support's remediation requests (`P` is the key prefix):
 * - `P:remediations`: hash, `act-…` → the request as JSON;
 * - `P:remediations:by-update`: sorted set, id by its last change (ms): listing, and the trim;
 * - `P:remediations:pending`: hash, gap id → the id of its request still pending;
 * - `P:remediations:auto:verified` / `…:auto:failed`: sorted sets, id by when an auto-resolution
 *   finished: the success rate over 24 h, 7 d, 30 d is two ZCOUNTs each;
 * - `P:remediations:lock:<id>`: one request's lock.
 * Each save writes every index in one MULTI; requests unchanged for 90 days and outcomes older
 * than 31 days are trimmed as others are written.
 */
export function createRemediationStore(redis: Redis, keyPrefix: string): RemediationStore {
  const key = `${keyPrefix}:remediations`;
  const byUpdate = `${key}:by-update`;
  const pending = `${key}:pending`;
  const verified = `${key}:auto:verified`;
  const failed = `${key}:auto:failed`;

  async function write(r: RemediationRequest, create: boolean): Promise<void> {
    const checked = remediationRequestSchema.parse(r);
    const at = Date.parse(checked.updatedAt);
    if (create && (await redis.hexists(key, checked.id)) === 1) {
      throw new StoredDataError(`remediation ${checked.id} exists already`);
    }
    const tx = redis.multi().hset(key, checked.id, JSON.stringify(checked)).zadd(byUpdate, at, checked.id);
    if (isPendingRemediation(checked.status)) {
      tx.hset(pending, checked.gapId, checked.id);
    } else if (!create) {
      // Only this request's own entry: a newer request of the gap keeps its.
      tx.eval("if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end return 0", 1, pending, checked.gapId, checked.id);
    }
    if (checked.autoResolve && isFinishedRemediation(checked.status) && checked.finishedAt !== null) {
      tx.zadd(checked.status === 'verified' ? verified : failed, Date.parse(checked.finishedAt), checked.id);
    }
    tx.zremrangebyscore(verified, '-inf', at - outcomeRetentionMs).zremrangebyscore(failed, '-inf', at - outcomeRetentionMs);
    await tx.exec();
    const old = await redis.zrangebyscore(byUpdate, '-inf', at - remediationRetentionMs, 'LIMIT', 0, 500);
    if (old.length > 0) {
      await redis.multi().hdel(key, ...old).zrem(byUpdate, ...old).exec();
    }
  }

  return {
    create: (r) => write(r, true),
    save: (r) => write(r, false),
    async get(id) {
      const raw = await redis.hget(key, id);
      return raw === null ? null : parse(raw, id);
    },
    exclusive: (id, work) =>
      redisLock(redis, `${key}:lock:${id}`, {
        ttlMs: 15_000,
        waitMs: 15_000,
        busy: () => new RemediationError('conflict', `remediation ${id} is being changed by another request; try again`),
      })(work),
    async pendingFor(gapId) {
      return redis.hget(pending, gapId);
    },
    async pending() {
      const ids = await redis.hvals(pending);
      if (ids.length === 0) {
        return [];
      }
      const raws = await redis.hmget(key, ...ids);
      return raws.flatMap((raw, i) => (raw === null ? [] : [parse(raw, ids[i] ?? '?')]));
    },
    async list(filter) {
      const limit = Math.max(1, filter.limit);
      const min = filter.since ? filter.since.getTime() : '-inf';
      const out: RemediationRequest[] = [];
      // Newest first, a page at a time, until `limit` match the status filter.
      for (let offset = 0; out.length < limit; offset += 200) {
        const ids = await redis.zrevrangebyscore(byUpdate, '+inf', min, 'LIMIT', offset, 200);
        if (ids.length === 0) {
          break;
        }
        const raws = await redis.hmget(key, ...ids);
        for (const [i, raw] of raws.entries()) {
          if (raw === null) {
            continue;
          }
          const r = parse(raw, ids[i] ?? '?');
          if (!filter.status || filter.status.includes(r.status)) {
            out.push(r);
          }
        }
        if (ids.length < 200) {
          break;
        }
      }
      return out.slice(0, limit);
    },
    async autoResolutions(since) {
      const [v, f] = await Promise.all([redis.zcount(verified, since.getTime(), '+inf'), redis.zcount(failed, since.getTime(), '+inf')]);
      return { verified: v, failed: f };
    },
  };
}
