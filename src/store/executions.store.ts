import type { Redis } from 'ioredis';
import { z } from 'zod';
import { isStoredExecutionRecord, storedRecordFault } from '../domain/meta-monitor/execution-check.js';
import type { ExecutionRecord, ExecutionStore } from '../domain/meta-monitor/executions.js';
import { parseStored, StoredDataError } from './parse.js';
import { bindManyKeyScript, type ManyKeyLuaScript } from './redis-scripts.js';
import { scanKeys } from '../redis.js';

const hourMs = 3_600_000;
/** Records sent to Redis in one script call (bounds the script's argument list and its time). */
const chunk = 1_000;
/** Records read per ZRANGEBYSCORE page in {@link ExecutionStore.window}. */
const page = 1_000;

/**
 * KEYS: the id index, then one hour's bucket. ARGV: the bucket's expire-at (seconds), then n ids,
 * n scores and n JSON records. A record whose id the index holds, unexpired, is a duplicate (as is
 * the second of one id within the call); the others go into the bucket in one ZADD, and their ids
 * into the index, scored by when their record expires. Atomic: no id is indexed without its record.
 * The index drops ids whose record has expired, and itself expires with the last of them.
 */
const addScript: ManyKeyLuaScript<number> = {
  name: 'bsmExecutionsAddBucket',
  lua: `
local index, bucket = KEYS[1], KEYS[2]
local at = ARGV[1]
local n = (#ARGV - 1) / 3
local now = tonumber(redis.call('TIME')[1])
local known = redis.call('ZMSCORE', index, unpack(ARGV, 2, n + 1))
local taken = {}
local ids = {}
local members = {}
for i = 1, n do
  local id = ARGV[i + 1]
  local expires = known[i]
  if (not expires or tonumber(expires) <= now) and not taken[id] then
    taken[id] = true
    ids[#ids + 1] = at
    ids[#ids + 1] = id
    members[#members + 1] = ARGV[n + i + 1]
    members[#members + 1] = ARGV[2 * n + i + 1]
  end
end
if #ids > 0 then
  redis.call('ZADD', bucket, unpack(members))
  redis.call('EXPIREAT', bucket, at)
  redis.call('ZADD', index, unpack(ids))
  if redis.call('TTL', index) < 0 then
    redis.call('EXPIREAT', index, at)
  else
    redis.call('EXPIREAT', index, at, 'GT')
  end
end
redis.call('ZREMRANGEBYSCORE', index, '-inf', now)
return #ids / 2`,
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
 *
 * Given several key prefixes (the shards of a cluster layout, `src/key-layout.ts`), a record goes
 * to the shard its `executionId` hashes to, with that shard's own id index and hour buckets, so a
 * duplicate meets its first copy in the same shard (and slot) and every shard takes a share of
 * the ingest. A window is read from every shard's bucket of each hour at once, merged in time
 * order. One prefix is the single-server layout, unchanged.
 */
export function createExecutionStore(redis: Redis, keyPrefix: string | readonly string[], options: { retentionDays: number }): ExecutionStore {
  const add = bindManyKeyScript(redis, addScript);
  const shards = typeof keyPrefix === 'string' ? [keyPrefix] : [...keyPrefix];
  if (shards.length === 0) {
    throw new Error('the execution store needs at least one key prefix');
  }
  const indexKey = (shard: number) => `${shards[shard]}:executions:ids`;
  const bucketKey = (shard: number, hour: number) => `${shards[shard]}:executions:${hourOf(hour * hourMs)}`;
  const shardOf = (executionId: string) => (shards.length === 1 ? 0 : shardIndex(executionId, shards.length));
  const expireAt = (hour: number) => Math.ceil(((hour + 1) * hourMs + options.retentionDays * 86_400_000) / 1000);
  return {
    async add(records) {
      // Each shard's and hour's records, in batch order (the first of an id within a call is the one kept).
      const groups = new Map<string, { shard: number; hour: number; list: ExecutionRecord[] }>();
      for (const r of records) {
        const hour = Math.floor(r.timestamp / hourMs);
        const shard = shardOf(r.executionId);
        const group = `${shard}/${hour}`;
        const found = groups.get(group);
        if (found) {
          found.list.push(r);
        } else {
          groups.set(group, { shard, hour, list: [r] });
        }
      }
      const calls: Promise<number>[] = [];
      for (const { shard, hour, list } of groups.values()) {
        for (let start = 0; start < list.length; start += chunk) {
          const part = list.slice(start, start + chunk);
          const args: (string | number)[] = new Array<string | number>(1 + 3 * part.length);
          args[0] = expireAt(hour);
          const n = part.length;
          for (let i = 0; i < n; i++) {
            const r = part[i] as ExecutionRecord;
            args[1 + i] = r.executionId;
            args[1 + n + i] = r.timestamp;
            args[1 + 2 * n + i] = JSON.stringify(r);
          }
          // Not awaited one by one: ioredis sends them back to back, one round trip for all.
          calls.push(add([indexKey(shard), bucketKey(shard, hour)], ...args));
        }
      }
      // Within a batch, one id in two hours: the calls run in order (one id, one shard, one node), so the later call sees the first.
      const accepted = (await Promise.all(calls)).reduce((a, b) => a + b, 0);
      return { accepted, duplicates: records.length - accepted };
    },
    window(from, to) {
      const f = from.getTime();
      const t = to.getTime();
      if (shards.length === 1) {
        return readWindow(redis, (hour) => bucketKey(0, hour), f, t);
      }
      return mergeByTime(shards.map((_, shard) => readWindow(redis, (hour) => bucketKey(shard, hour), f, t)));
    },
    async oldest() {
      // Hour buckets are named by their UTC hour, so the smallest name is the oldest hour kept.
      // One SCAN (per master) for every shard: the shards' common start, then any shard's hour keys.
      const common = shards.reduce((a, b) => {
        let i = 0;
        while (i < a.length && a[i] === b[i]) {
          i++;
        }
        return a.slice(0, i);
      });
      const pattern = shards.length === 1 ? `${escapeGlob(common)}:executions:[0-9]*` : `${escapeGlob(common)}*:executions:[0-9]*`;
      const found = (await scanKeys(redis, pattern)).filter((key) => shards.some((p) => key.startsWith(`${p}:executions:`)));
      const byHour = (key: string) => key.slice(key.lastIndexOf(':executions:'));
      let oldest: number | null = null;
      let oldestHour: string | null = null;
      for (const key of found.sort((a, b) => byHour(a).localeCompare(byHour(b)))) {
        // Every shard of the oldest hour is looked at: its earliest record may be in any of them.
        if (oldestHour !== null && byHour(key) !== oldestHour) {
          break;
        }
        const [, score] = await redis.zrange(key, '0', '0', 'WITHSCORES');
        if (score !== undefined) {
          oldestHour = byHour(key);
          oldest = oldest === null ? Number(score) : Math.min(oldest, Number(score));
        }
      }
      return oldest === null ? null : new Date(oldest);
    },
  };
}

/** The shard of an execution id: FNV-1a of its UTF-16 units, modulo `count` (stable across processes and versions). */
export function shardIndex(executionId: string, count: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < executionId.length; i++) {
    h ^= executionId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % count;
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The records of several time-ordered streams as one time-ordered stream: each step hands out the
 * earliest head (ties: the first stream's). Every stream has its next page asked for while its
 * current one is handed out (see {@link readWindow}), so the shards are read side by side.
 */
async function* mergeByTime(streams: AsyncGenerator<ExecutionRecord>[]): AsyncGenerator<ExecutionRecord> {
  const heads = await Promise.all(streams.map((s) => s.next()));
  try {
    for (;;) {
      let best = -1;
      for (let i = 0; i < heads.length; i++) {
        const h = heads[i] as IteratorResult<ExecutionRecord>;
        if (!h.done && (best < 0 || h.value.timestamp < (heads[best] as IteratorYieldResult<ExecutionRecord>).value.timestamp)) {
          best = i;
        }
      }
      if (best < 0) {
        return;
      }
      const record = (heads[best] as IteratorYieldResult<ExecutionRecord>).value;
      heads[best] = await (streams[best] as AsyncGenerator<ExecutionRecord>).next();
      yield record;
    }
  } finally {
    await Promise.all(streams.map((s) => s.return(undefined)));
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
