import type { Redis } from 'ioredis';
import { z } from 'zod';
import { isStoredExecutionRecord, storedRecordFault } from '../domain/meta-monitor/execution-check.js';
import type { ExecutionRecord, ExecutionStore } from '../domain/meta-monitor/executions.js';
import { parseStored, StoredDataError } from './parse.js';
import { bindManyKeyScript, type ManyKeyLuaScript } from './redis-scripts.js';

const hourMs = 3_600_000;
/** Records sent to Redis in one script call (bounds the script's argument list and its time). */
const chunk = 1_000;
/** Records read per ZRANGEBYSCORE page in {@link ExecutionStore.window}. */
const page = 1_000;

/**
 * KEYS: the id index, one hour's bucket, then the user indexes of the call's users. ARGV: the
 * bucket's expire-at (seconds), then n ids, n scores, n JSON records and n user slots (0: the record
 * has no user; k: its user's index is KEYS[2 + k]). A record whose id the index holds, unexpired, is
 * a duplicate (as is the second of one id within the call); the others go into the bucket in one
 * ZADD, their ids into the index and, for a record with a user, `<time>:<id>` into its user's index,
 * each scored by when the record expires. Atomic: no id is indexed without its record. The indexes
 * drop entries whose record has expired, and expire themselves with the last of them.
 */
const addScript: ManyKeyLuaScript<number> = {
  name: 'bsmExecutionsAddBucketByUser',
  lua: `
local index, bucket = KEYS[1], KEYS[2]
local at = ARGV[1]
local n = (#ARGV - 1) / 4
local now = tonumber(redis.call('TIME')[1])
local known = redis.call('ZMSCORE', index, unpack(ARGV, 2, n + 1))
local taken = {}
local ids = {}
local members = {}
local users = {}
for i = 1, n do
  local id = ARGV[i + 1]
  local expires = known[i]
  if (not expires or tonumber(expires) <= now) and not taken[id] then
    taken[id] = true
    ids[#ids + 1] = at
    ids[#ids + 1] = id
    members[#members + 1] = ARGV[n + i + 1]
    members[#members + 1] = ARGV[2 * n + i + 1]
    local slot = tonumber(ARGV[3 * n + i + 1])
    if slot > 0 then
      local key = KEYS[2 + slot]
      users[key] = users[key] or {}
      local list = users[key]
      list[#list + 1] = at
      list[#list + 1] = ARGV[n + i + 1] .. ':' .. id
    end
  end
end
local function keep(key)
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIREAT', key, at)
  else
    redis.call('EXPIREAT', key, at, 'GT')
  end
end
if #ids > 0 then
  redis.call('ZADD', bucket, unpack(members))
  redis.call('EXPIREAT', bucket, at)
  redis.call('ZADD', index, unpack(ids))
  keep(index)
  for key, list in pairs(users) do
    redis.call('ZADD', key, unpack(list))
    redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
    keep(key)
  end
end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
return #ids / 2`,
  reply: z.number().int().min(0),
};

/**
 * KEYS: one hour's bucket, the id index, the user's index. ARGV: the user's HMAC, then pairs of a
 * record's time and id. Removes each record of that time and id whose `context.userId` is the
 * HMAC, its id from the id index and its entry from the user's index. Returns the records removed.
 */
const eraseScript: ManyKeyLuaScript<number> = {
  name: 'bsmExecutionsEraseUser',
  lua: `
local bucket, index, user = KEYS[1], KEYS[2], KEYS[3]
local hmac = ARGV[1]
local removed = 0
for i = 2, #ARGV, 2 do
  local at, id = ARGV[i], ARGV[i + 1]
  for _, json in ipairs(redis.call('ZRANGEBYSCORE', bucket, at, at)) do
    local ok, r = pcall(cjson.decode, json)
    if ok and type(r) == 'table' and r.executionId == id and type(r.context) == 'table' and r.context.userId == hmac then
      removed = removed + redis.call('ZREM', bucket, json)
    end
  end
  redis.call('ZREM', index, id)
  redis.call('ZREM', user, at .. ':' .. id)
end
return removed`,
  reply: z.number().int().min(0),
};

/** `2026-11-30T19` of an epoch-ms time (UTC). */
const hourOf = (ms: number) => new Date(ms).toISOString().slice(0, 13);

/**
 * Execution records in one sorted set per UTC hour, `<prefix>:executions:<yyyy-mm-ddThh>`, scored
 * by the record's time. Not a stream: a stream's ids must increase, and agents send late and out
 * of order; a sorted set takes any time and still reads back a window in time order. Each bucket
 * expires `retentionDays` after its hour ends, so Redis itself deletes what is older than the
 * retention.
 *
 * Duplicates are found by `executionId` across the whole retention, whatever hour a record falls
 * in: `<prefix>:executions:ids` is a sorted set of the ids kept, each scored by the second its
 * record's bucket expires; an id past that is forgotten (and dropped from the index) with its
 * record. One script call per bucket and chunk, sent together: each is atomic, none spans buckets.
 */
export function createExecutionStore(redis: Redis, keyPrefix: string, options: { retentionDays: number }): ExecutionStore {
  const add = bindManyKeyScript(redis, addScript);
  const erase = bindManyKeyScript(redis, eraseScript);
  const indexKey = `${keyPrefix}:executions:ids`;
  const userKey = (hmac: string) => `${keyPrefix}:executions:user:${hmac}`;
  // Since when every stored record with a user is in its user's index (records of an older version are not).
  // Outside `executions:*`: it holds a time, no record data, and outlives every bucket on purpose.
  const sinceKey = `${keyPrefix}:meta:executions-user-index-since`;
  let sinceMarked = false;
  const bucketKey = (hour: number) => `${keyPrefix}:executions:${hourOf(hour * hourMs)}`;
  const expireAt = (hour: number): number => Math.ceil(((hour + 1) * hourMs + options.retentionDays * 86_400_000) / 1000);
  return {
    async add(records) {
      // Each hour's records, in batch order (the first of an id within a call is the one kept).
      const byHour = new Map<number, ExecutionRecord[]>();
      for (const r of records) {
        const hour = Math.floor(r.timestamp / hourMs);
        const list = byHour.get(hour);
        if (list) {
          list.push(r);
        } else {
          byHour.set(hour, [r]);
        }
      }
      if (!sinceMarked) {
        await redis.set(sinceKey, String(Date.now()), 'NX');
        sinceMarked = true;
      }
      const calls: Promise<number>[] = [];
      for (const [hour, list] of byHour) {
        for (let start = 0; start < list.length; start += chunk) {
          const part = list.slice(start, start + chunk);
          const args: (string | number)[] = new Array<string | number>(1 + 4 * part.length);
          args[0] = expireAt(hour);
          const n = part.length;
          const users = new Map<string, number>();
          for (let i = 0; i < n; i++) {
            const r = part[i] as ExecutionRecord;
            args[1 + i] = r.executionId;
            args[1 + n + i] = r.timestamp;
            args[1 + 2 * n + i] = JSON.stringify(r);
            const user = r.context?.userId;
            let slot = 0;
            if (user !== undefined) {
              slot = users.get(user) ?? users.size + 1;
              users.set(user, slot);
            }
            args[1 + 3 * n + i] = slot;
          }
          // Not awaited one by one: ioredis sends them back to back, one round trip for all.
          calls.push(add([indexKey, bucketKey(hour), ...[...users.keys()].map(userKey)], ...args));
        }
      }
      // Within a batch, one id in two hours: the calls run in order, so the later call sees the first.
      const accepted = (await Promise.all(calls)).reduce((a, b) => a + b, 0);
      return { accepted, duplicates: records.length - accepted };
    },
    window(from, to) {
      return readWindow(redis, bucketKey, from.getTime(), to.getTime());
    },
    async eraseUser(hmac, now) {
      const user = userKey(hmac);
      const entries = await redis.zrange(user, '0', '-1');
      // Each hour's records of the user, one script call each: atomic per bucket.
      const byHour = new Map<number, (string | number)[]>();
      for (const member of entries) {
        const colon = member.indexOf(':');
        const at = Number(member.slice(0, colon));
        const id = member.slice(colon + 1);
        if (!Number.isFinite(at) || colon < 0) {
          continue;
        }
        const hour = Math.floor(at / hourMs);
        const list = byHour.get(hour) ?? [];
        list.push(at, id);
        byHour.set(hour, list);
      }
      let indexed = 0;
      for (const [hour, list] of byHour) {
        for (let i = 0; i < list.length; i += 2 * chunk) {
          indexed += await erase([bucketKey(hour), indexKey, user], hmac, ...list.slice(i, i + 2 * chunk));
        }
      }
      const scanned = await eraseUnindexed(hmac, now);
      await redis.del(user);
      return { records: indexed + scanned.records, indexEntries: entries.length, scannedHours: scanned.hours };
    },
    async oldest() {
      return oldestKept();
    },
  };

  /**
   * The records of the user stored before this version kept a user index (a bounded scan: only the
   * hours from the retention's start to when the index began, none once the retention has passed).
   */
  async function eraseUnindexed(hmac: string, now: Date): Promise<{ records: number; hours: number }> {
    const raw = await redis.get(sinceKey);
    const since = raw === null ? now.getTime() : Number(raw);
    const first = Math.floor((now.getTime() - options.retentionDays * 86_400_000) / hourMs) - 1;
    const last = Math.floor(since / hourMs);
    const needle = `"userId":${JSON.stringify(hmac)}`;
    let records = 0;
    let hours = 0;
    for (let hour = first; hour <= last; hour++) {
      const key = bucketKey(hour);
      hours++;
      let cursor = '0';
      do {
        const [next, flat] = await redis.zscan(key, cursor, 'COUNT', 1000);
        cursor = next;
        for (let i = 0; i < flat.length; i += 2) {
          const json = flat[i] ?? '';
          if (!json.includes(needle)) {
            continue;
          }
          const record = parseStored(json, 'a stored execution record') as { executionId?: unknown; context?: { userId?: unknown } };
          if (record.context?.userId === hmac && typeof record.executionId === 'string') {
            records += await redis.zrem(key, json);
            await redis.zrem(indexKey, record.executionId);
          }
        }
      } while (cursor !== '0');
    }
    return { records, hours };
  }

  async function oldestKept(): Promise<Date | null> {
    // Hour buckets are named by their UTC hour, so the smallest name is the oldest hour kept.
    const hours: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:executions:[0-9]*`, 'COUNT', 1000);
      cursor = next;
      hours.push(...keys);
    } while (cursor !== '0');
    for (const key of hours.sort()) {
      const [, score] = await redis.zrange(key, '0', '0', 'WITHSCORES');
      if (score !== undefined) {
        return new Date(Number(score));
      }
    }
    return null;
  }
}

/**
 * The records with `from <= timestamp < to`, hour by hour, each hour page by page. A page starts at
 * the last time read and skips the records of that time already read (records of one time are
 * ordered by their JSON), so a page costs the same wherever it is in a large bucket, unlike a
 * growing LIMIT offset; the next page is asked for before the current one is handed out.
 */
async function* readWindow(redis: Redis, bucketKey: (hour: number) => string, from: number, to: number): AsyncGenerator<ExecutionRecord> {
  for (let hour = Math.floor(from / hourMs); hour * hourMs < to; hour++) {
    const key = bucketKey(hour);
    const end = Math.min(to, (hour + 1) * hourMs);
    let min = Math.max(from, hour * hourMs);
    let skip = 0;
    let next = redis.zrangebyscore(key, min, `(${end}`, 'LIMIT', skip, page);
    for (;;) {
      const members = await next;
      const records = members.map((json) => parseRecord(json, min, end));
      const last = records.at(-1)?.timestamp;
      const full = last !== undefined && members.length === page;
      if (full) {
        let ties = 0;
        for (let i = records.length - 1; i >= 0 && records[i]?.timestamp === last; i--) {
          ties++;
        }
        // A page all of the time it started at adds to the records of that time read before it.
        skip = last === min ? skip + ties : ties;
        min = last;
        next = redis.zrangebyscore(key, min, `(${end}`, 'LIMIT', skip, page);
      }
      yield* records;
      if (!full) {
        break;
      }
    }
  }
}

/** A stored record, checked for the shape the store writes and for a time within the range it was read by. */
function parseRecord(json: string, min: number, end: number): ExecutionRecord {
  const raw = parseStored(json, 'a stored execution record');
  if (!isStoredExecutionRecord(raw)) {
    throw new StoredDataError(`a stored execution record does not parse: ${storedRecordFault(raw) ?? '(record)'} is not what the store writes`);
  }
  if (raw.timestamp < min || raw.timestamp >= end) {
    throw new StoredDataError('a stored execution record does not parse: its timestamp is not the time it is stored under');
  }
  return raw;
}
