import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { RateLimiter } from '../domain/rate-limit.js';
import { bindScript, luaScript } from './redis-scripts.js';

/**
 * Counts an attempt unless the window's count is at the limit: a refused attempt writes nothing,
 * so a caller held at the limit cannot lengthen or grow its own window. Replies {allowed, count, ttl ms}.
 */
const takeScript = luaScript({
  name: 'bsmRateLimitTake',
  keys: ['counter'],
  lua: `
local limit = tonumber(ARGV[1])
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= limit then
  return {0, n, redis.call('PTTL', KEYS[1])}
end
n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return {1, n, redis.call('PTTL', KEYS[1])}
`,
  reply: z.tuple([z.number(), z.number(), z.number()]),
});

export interface RateLimitSettings {
  /** Attempts per window and key; 0 turns the limit off. */
  max: number;
  windowMs: number;
}

/** A {@link RateLimiter} on Redis: one counter per key and window (`<prefix>:rate-limit:<name>:<key>`). */
export function createRateLimiter(redis: Redis, prefix: string, name: string, settings: RateLimitSettings): RateLimiter {
  const take = bindScript(redis, takeScript);
  return {
    async take(key) {
      if (settings.max === 0) {
        return { allowed: true, limit: 0, remaining: Number.POSITIVE_INFINITY, retryAfterMs: 0 };
      }
      const [allowed, count, ttl] = await take({ counter: `${prefix}:rate-limit:${name}:${key}` }, settings.max, settings.windowMs);
      const remaining = Math.max(0, settings.max - count);
      return { allowed: allowed === 1, limit: settings.max, remaining, retryAfterMs: allowed === 1 && remaining > 0 ? 0 : Math.max(ttl, 0) };
    },
  };
}
