import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';

/** The Redis every integration test uses: `npm test` points REDIS_URL at a throwaway server. */
export const testRedisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A key prefix no other test file (or earlier run) shares. */
export function uniquePrefix(label: string): string {
  return `bsmtest-${label}-${randomBytes(4).toString('hex')}`;
}

export function testRedis(): Redis {
  return new Redis(testRedisUrl, { maxRetriesPerRequest: null });
}

/** Deletes every key that starts with `pattern` (e.g. `{bsmtest-x-1234}`). */
export async function deleteKeys(redis: Redis, keyStart: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${escapeGlob(keyStart)}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) {
      await redis.del(...keys);
    }
  } while (cursor !== '0');
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
