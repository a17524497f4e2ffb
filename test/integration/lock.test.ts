import { afterAll, describe, expect, it } from 'vitest';
import { redisLock } from '../../src/store/lock.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const redis = testRedis();
const prefix = uniquePrefix('lock');

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

describe('the fleet-wide lock', () => {
  it('is kept past its TTL while the work runs, and let go when it ends', async () => {
    const key = `${prefix}:slow`;
    const lock = redisLock(redis, key, { ttlMs: 1_000, waitMs: 10_000, busy: () => new Error('busy') });
    const order: string[] = [];
    const slow = lock(async () => {
      order.push('slow start');
      await new Promise((r) => setTimeout(r, 3_000)); // three TTLs: a busy machine may stall the renewal a little, never a whole TTL
      order.push('slow end');
    });
    await new Promise((r) => setTimeout(r, 50));
    const next = lock(async () => {
      order.push('next');
      return Promise.resolve();
    });
    await Promise.all([slow, next]);
    expect(order).toEqual(['slow start', 'slow end', 'next']);
    expect(await redis.exists(key)).toBe(0);
  });

  it('gives up with the busy error when the holder keeps it past the wait', async () => {
    const key = `${prefix}:busy`;
    const lock = redisLock(redis, key, { ttlMs: 1_000, waitMs: 1_500, busy: () => new Error('busy') });
    const holder = lock(() => new Promise((r) => setTimeout(r, 3_000)));
    await new Promise((r) => setTimeout(r, 30));
    await expect(lock(() => Promise.resolve())).rejects.toThrow('busy');
    await holder;
  });
});
