import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { PublishWindows } from '../domain/cloudwatch/ports.js';
import { bindScript, luaScript } from './redis-scripts.js';

/**
 * Claims the window up to ARGV[1] (epoch ms): from the end of the last one (KEYS[1]), or ARGV[2] ms
 * back when there is none, and never more than ARGV[3] ms back. Replies {from, to}, or {-1, -1}
 * when the last window already reaches `to`; atomic, so two publishers never claim the same time.
 */
const claimScript = luaScript({
  name: 'bsmCloudWatchClaim',
  keys: ['mark'],
  lua: `
local to = tonumber(ARGV[1])
local last = redis.call('GET', KEYS[1])
local from = last and tonumber(last) or (to - tonumber(ARGV[2]))
local earliest = to - tonumber(ARGV[3])
if from < earliest then from = earliest end
if from >= to then return {-1, -1} end
redis.call('SET', KEYS[1], ARGV[1])
return {from, to}
`,
  reply: z.tuple([z.number(), z.number()]),
});

/** Moves the mark back to ARGV[1] if it still is ARGV[2] (nobody claimed a later window since). */
const releaseScript = luaScript({
  name: 'bsmCloudWatchRelease',
  keys: ['mark'],
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1])
  return 1
end
return 0
`,
  reply: z.number(),
});

/** The end of the last window published to CloudWatch, in `<prefix>:cloudwatch:published-until` (epoch ms). */
export function createPublishWindows(redis: Redis, prefix: string): PublishWindows {
  const mark = `${prefix}:cloudwatch:published-until`;
  const claim = bindScript(redis, claimScript);
  const release = bindScript(redis, releaseScript);
  return {
    async claim(to, options) {
      const [from, until] = await claim({ mark }, to.getTime(), options.firstMs, options.maxMs);
      return from < 0 ? null : { from: new Date(from), to: new Date(until) };
    },
    async release(window) {
      await release({ mark }, window.from.getTime(), window.to.getTime());
    },
  };
}
