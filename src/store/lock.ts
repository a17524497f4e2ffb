import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { bindScript, luaScript } from './redis-scripts.js';

/** KEYS: lock. ARGV: token, ttl ms. Extends the lock only if we still hold it. */
const extendScript = luaScript({
  name: 'bsmLockExtend',
  keys: ['lock'],
  reply: z.number().int(),
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`,
});

/** KEYS: lock. ARGV: token. Deletes the lock only if we still hold it. */
const releaseScript = luaScript({
  name: 'bsmLockRelease',
  keys: ['lock'],
  reply: z.number().int(),
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
});

export interface LockOptions {
  /** How long the lock lives without its holder (a holder that died lets go then). */
  ttlMs: number;
  /** How long to wait for it before giving up. */
  waitMs: number;
  /** The error to throw when the wait is over. */
  busy: () => Error;
}

/**
 * A fleet-wide lock on one key (SET NX PX with a random token, released only by its holder): runs
 * `work` while holding it. While `work` runs the holder extends the lock every third of its TTL,
 * so slow work (an HTTP hook, a probe) keeps it; a holder that died stops extending and lets go
 * within one TTL.
 */
export function redisLock(redis: Redis, lockKey: string, options: LockOptions): <T>(work: () => Promise<T>) => Promise<T> {
  const release = bindScript(redis, releaseScript);
  const extend = bindScript(redis, extendScript);
  return async (work) => {
    const token = randomBytes(12).toString('hex');
    const deadline = Date.now() + options.waitMs;
    while ((await redis.set(lockKey, token, 'PX', options.ttlMs, 'NX')) !== 'OK') {
      if (Date.now() > deadline) {
        throw options.busy();
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    const renew = setInterval(() => {
      extend({ lock: lockKey }, token, String(options.ttlMs)).catch(() => undefined);
    }, Math.max(10, Math.floor(options.ttlMs / 3)));
    renew.unref();
    try {
      return await work();
    } finally {
      clearInterval(renew);
      await release({ lock: lockKey }, token);
    }
  };
}
