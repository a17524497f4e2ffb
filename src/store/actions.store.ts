import type { Redis } from 'ioredis';
import type { ActionRecordStore } from '../domain/actions/catalog.js';
import { ActionBusyError, applicationSchema, type StoredApplication } from '../domain/actions/types.js';
import { redisLock } from './lock.js';
import { parseStored } from './parse.js';

const parse = (raw: string): StoredApplication => applicationSchema.parse(parseStored(raw, 'action application'));

/**
 * The action catalog's application records: `<prefix>:actions` (a hash, id → record JSON) and
 * `<prefix>:actions:by-time` (a sorted set, id by the time it was applied). Applications and
 * rollbacks take `<prefix>:actions:lock`. Records are kept: they are how an action is rolled back.
 */
export function createActionRecordStore(redis: Redis, keyPrefix: string, options: { lockTtlMs?: number } = {}): ActionRecordStore {
  const key = `${keyPrefix}:actions`;
  const index = `${keyPrefix}:actions:by-time`;
  const lockTtlMs = options.lockTtlMs ?? 15_000;
  return {
    async save(record) {
      await redis.multi().hset(key, record.id, JSON.stringify(record)).zadd(index, 'NX', Date.parse(record.appliedAt), record.id).exec();
    },
    async get(id) {
      const raw = await redis.hget(key, id);
      return raw === null ? null : parse(raw);
    },
    async recent(limit) {
      const ids = await redis.zrevrange(index, 0, Math.max(0, limit - 1));
      if (ids.length === 0) {
        return [];
      }
      const raws = await redis.hmget(key, ...ids);
      return raws.filter((raw): raw is string => raw !== null).map(parse);
    },
    // Waiting as long as the lock lives: a holder that died lets go before anyone gives up.
    exclusive: redisLock(redis, `${keyPrefix}:actions:lock`, {
      ttlMs: lockTtlMs,
      waitMs: lockTtlMs,
      busy: () => new ActionBusyError(`another action has held the action lock for over ${lockTtlMs} ms; try again`),
    }),
  };
}
