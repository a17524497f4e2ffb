import type { Redis } from 'ioredis';
import { z } from 'zod';
import { storedExecutionSchema, type ExecutionRecord, type ExecutionStore } from '../domain/meta-monitor/executions.js';
import { parseStored, StoredDataError } from './parse.js';
import { bindManyKeyScript, type ManyKeyLuaScript } from './redis-scripts.js';

const hourMs = 3_600_000;
/** Records sent to Redis in one script call (bounds the script's argument list). */
const chunk = 1_000;
/** Records read per ZRANGE page in {@link ExecutionStore.window}. */
const page = 500;

/**
 * KEYS: (seen key, bucket key) per record; ARGV: (expire-at seconds, score, JSON) per record. A
 * record whose id was seen is a duplicate; otherwise its id is marked seen and it is added to its
 * hour's sorted set, both expiring with that bucket. Atomic: no id is marked without its record.
 */
const addScript: ManyKeyLuaScript<number> = {
  name: 'bsmExecutionsAdd',
  lua: `
local added = 0
local expiring = {}
for i = 1, #KEYS, 2 do
  local j = (i - 1) / 2 * 3
  local at = ARGV[j + 1]
  if redis.call('SET', KEYS[i], '1', 'NX', 'EXAT', at) then
    local bucket = KEYS[i + 1]
    redis.call('ZADD', bucket, ARGV[j + 2], ARGV[j + 3])
    if not expiring[bucket] then
      redis.call('EXPIREAT', bucket, at)
      expiring[bucket] = true
    end
    added = added + 1
  end
end
return added`,
  reply: z.number().int().min(0),
};

/** `2026-11-30T19` of an epoch-ms time (UTC). */
const hourOf = (ms: number) => new Date(ms).toISOString().slice(0, 13);

/**
 * Execution records in one sorted set per UTC hour, `<prefix>:executions:<yyyy-mm-ddThh>`, scored
 * by the record's time. Not a stream: a stream's ids must increase, and agents send late and out
 * of order; a sorted set takes any time and still reads back a window in time order. Each bucket
 * and each seen-id key expire `retentionDays` after the bucket's hour ends, so Redis itself deletes
 * what is older than the retention.
 */
export function createExecutionStore(redis: Redis, keyPrefix: string, options: { retentionDays: number }): ExecutionStore {
  const add = bindManyKeyScript(redis, addScript);
  const bucketKey = (ms: number) => `${keyPrefix}:executions:${hourOf(ms)}`;
  const seenKey = (id: string) => `${keyPrefix}:executions:seen:${id}`;
  const expireAt = (ms: number) => Math.ceil((Math.floor(ms / hourMs) * hourMs + hourMs + options.retentionDays * 86_400_000) / 1000);
  return {
    async add(records) {
      let accepted = 0;
      for (let start = 0; start < records.length; start += chunk) {
        const part = records.slice(start, start + chunk);
        const keys: string[] = [];
        const args: (string | number)[] = [];
        for (const r of part) {
          keys.push(seenKey(r.executionId), bucketKey(r.timestamp));
          args.push(expireAt(r.timestamp), r.timestamp, JSON.stringify(r));
        }
        accepted += await add(keys, ...args);
      }
      return { accepted, duplicates: records.length - accepted };
    },
    async *window(from, to) {
      const end = to.getTime();
      for (let hour = Math.floor(from.getTime() / hourMs) * hourMs; hour < end; hour += hourMs) {
        const key = bucketKey(hour);
        for (let offset = 0; ; offset += page) {
          const members = await redis.zrangebyscore(key, from.getTime(), `(${end}`, 'LIMIT', offset, page);
          for (const json of members) {
            yield parseRecord(json);
          }
          if (members.length < page) {
            break;
          }
        }
      }
    },
  };
}

function parseRecord(json: string): ExecutionRecord {
  const raw = parseStored(json, 'a stored execution record');
  const parsed = storedExecutionSchema.safeParse(raw);
  if (!parsed.success) {
    throw new StoredDataError(`a stored execution record does not parse: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  }
  return parsed.data;
}
