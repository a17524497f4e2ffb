import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import type { ExecutionRecord } from '../../src/domain/meta-monitor/executions.js';
import { keyLayout } from '../../src/key-layout.js';
import { createExecutionStore, shardIndex } from '../../src/store/executions.store.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

/**
 * The execution store over the cluster layout's sixteen shards (key names only: on one server they
 * are ordinary keys, so the store's logic is tested here and on a real cluster in test/cluster).
 */
describe('the execution store over shards', () => {
  const install = uniquePrefix('exec-shards');
  const tags = keyLayout(install, 'spread').executionTags();
  let redis: Redis;
  const hour = 3_600_000;
  const base = Math.floor(Date.now() / hour) * hour - 3 * hour;
  const rec = (id: string, timestamp: number): ExecutionRecord => ({ executionId: id, timestamp, operation: 'op', status: 'success', latencyMs: 1 });

  beforeAll(() => {
    redis = testRedis();
  });

  afterAll(async () => {
    await deleteKeys(redis, `{${install}:`);
    redis.disconnect();
  });

  it('puts each record in the shard of its id, finds duplicates there, and reads a window back in time order', async () => {
    const store = createExecutionStore(redis, tags, { retentionDays: 1 });
    // Over three hours, out of order, ids spread over the shards.
    const records = Array.from({ length: 600 }, (_, i) => rec(`sh-${i}`, base + ((i * 7919) % (3 * hour))));
    expect(await store.add(records)).toEqual({ accepted: 600, duplicates: 0 });
    expect(await store.add([...records.slice(0, 50), rec('sh-new', base + 10)])).toEqual({ accepted: 1, duplicates: 50 });
    const shardsUsed = new Set(records.map((r) => shardIndex(r.executionId, tags.length)));
    expect(shardsUsed.size).toBe(tags.length);
    for (const [i, tag] of tags.entries()) {
      const inShard = records.filter((r) => shardIndex(r.executionId, tags.length) === i).length + (shardIndex('sh-new', tags.length) === i ? 1 : 0);
      expect(await redis.zcard(`${tag}:executions:ids`)).toBe(inShard);
    }
    const read: ExecutionRecord[] = [];
    for await (const r of store.window(new Date(base), new Date(base + 3 * hour))) {
      read.push(r);
    }
    expect(read).toHaveLength(601);
    const times = read.map((r) => r.timestamp);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(new Set(read.map((r) => r.executionId)).size).toBe(601);
    expect((await store.oldest())?.getTime()).toBe(Math.min(...times));
  });

  it('reads part of a window: only the records inside it', async () => {
    const store = createExecutionStore(redis, tags, { retentionDays: 1 });
    const from = base + hour + 123_000;
    const to = base + 2 * hour + 456_000;
    let n = 0;
    let last = -Infinity;
    for await (const r of store.window(new Date(from), new Date(to))) {
      expect(r.timestamp).toBeGreaterThanOrEqual(from);
      expect(r.timestamp).toBeLessThan(to);
      expect(r.timestamp).toBeGreaterThanOrEqual(last);
      last = r.timestamp;
      n++;
    }
    expect(n).toBeGreaterThan(0);
  });
});
