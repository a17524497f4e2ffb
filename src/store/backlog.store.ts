import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { handItemSchema, priorityOverrideSchema, type BacklogStore, type HandItem, type PriorityOverride } from '../domain/implementation/backlog.js';
import { parseStored, StoredDataError } from './parse.js';

function parseAs<T>(schema: z.ZodType<T>, raw: string, what: string): T {
  const parsed = schema.safeParse(parseStored(raw, what));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoredDataError(`${what} does not match its schema at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? ''}`);
  }
  return parsed.data;
}

/**
 * The backlog's own state, apart from the gaps (`P` is the key prefix):
 * - `P:backlog:items`: hash, hand item id → the item as JSON;
 * - `P:backlog:overrides`: hash, item or gap id → the priority override as JSON.
 * A gap seen again rewrites only `P:gaps:*`, so its override stays. A batch of overrides is one
 * HSET: all of it is written, or none.
 */
export function createBacklogStore(redis: Redis, keyPrefix: string): BacklogStore {
  const itemsKey = `${keyPrefix}:backlog:items`;
  const overridesKey = `${keyPrefix}:backlog:overrides`;
  return {
    async addItem(item) {
      const checked = handItemSchema.parse(item);
      const added = await redis.hsetnx(itemsKey, checked.id, JSON.stringify(checked));
      if (added !== 1) {
        throw new StoredDataError(`backlog item ${checked.id} exists already`);
      }
    },

    async items(ids) {
      if (ids === undefined) {
        const all = await redis.hgetall(itemsKey);
        return Object.entries(all)
          .map(([id, raw]) => parseAs(handItemSchema, raw, `backlog item ${id}`))
          .sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : a.id < b.id ? -1 : 1));
      }
      if (ids.length === 0) {
        return [];
      }
      const raws = await redis.hmget(itemsKey, ...ids);
      return raws.flatMap((raw, i): HandItem[] => (raw === null ? [] : [parseAs(handItemSchema, raw, `backlog item ${ids[i] ?? ''}`)]));
    },

    async overrides() {
      const all = await redis.hgetall(overridesKey);
      return new Map(Object.entries(all).map(([id, raw]): [string, PriorityOverride] => [id, parseAs(priorityOverrideSchema, raw, `priority override of ${id}`)]));
    },

    async setOverrides(batch) {
      if (batch.size === 0) {
        return;
      }
      const fields = [...batch].flatMap(([id, o]) => [id, JSON.stringify(priorityOverrideSchema.parse(o))]);
      await redis.hset(overridesKey, ...fields);
    },
  };
}
