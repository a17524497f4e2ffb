import type { Redis } from 'ioredis';
import { z } from 'zod';
import { breakerStates, type BreakerStore } from '../domain/llm/ports.js';
import type { RemotePath } from '../domain/llm/routing-matrix.js';
import { intText, numberText, parseFrom } from './llm-values.js';
import { bindScript, luaScript } from './redis-scripts.js';

/*
 * One hash per remote path (keys: see llm.store.ts), changed only by the scripts below so that
 * every transition is atomic across processes. Times come from the caller's clock.
 */

const state = z.enum(breakerStates);
const flag = z.union([z.literal(0), z.literal(1)]).transform((v) => v === 1);
const transition = z.tuple([state, flag]).transform(([s, changed]) => ({ state: s, changed }));

// ARGV: now, openMs, trialUntil, trial ticket. Returns {allowed 0|1, state, changed 0|1}.
const tryPassScript = luaScript({
  name: 'bsmBreakerTryPass',
  keys: ['breaker'],
  reply: z.tuple([flag, state, flag]),
  lua: `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local state = redis.call('HGET', key, 'state')
if (not state) or state == 'closed' then
  return {1, 'closed', 0}
end
if state == 'open' then
  local openedAt = tonumber(redis.call('HGET', key, 'openedAt')) or 0
  if now < openedAt + tonumber(ARGV[2]) then
    return {0, 'open', 0}
  end
  redis.call('HSET', key, 'state', 'half_open', 'halfOpenSuccesses', 0, 'trialUntil', ARGV[3], 'trial', ARGV[4], 'changedAt', ARGV[1])
  return {1, 'half_open', 1}
end
local trialUntil = tonumber(redis.call('HGET', key, 'trialUntil')) or 0
if trialUntil > now then
  return {0, 'half_open', 0}
end
redis.call('HSET', key, 'trialUntil', ARGV[3], 'trial', ARGV[4])
return {1, 'half_open', 0}
`,
});

// ARGV: now, closeAfterSuccesses, trial ticket ('' when none). Returns {state, changed 0|1}.
const recordSuccessScript = luaScript({
  name: 'bsmBreakerRecordSuccess',
  keys: ['breaker'],
  reply: transition,
  lua: `
local key = KEYS[1]
local state = redis.call('HGET', key, 'state') or 'closed'
redis.call('HSET', key, 'lastSuccessAt', ARGV[1])
if state == 'half_open' then
  if ARGV[3] == '' or redis.call('HGET', key, 'trial') ~= ARGV[3] then
    return {'half_open', 0}
  end
  local successes = redis.call('HINCRBY', key, 'halfOpenSuccesses', 1)
  if successes >= tonumber(ARGV[2]) then
    redis.call('HSET', key, 'state', 'closed', 'failures', 0, 'halfOpenSuccesses', 0, 'changedAt', ARGV[1])
    redis.call('HDEL', key, 'openedAt', 'trialUntil', 'trial')
    return {'closed', 1}
  end
  redis.call('HDEL', key, 'trialUntil', 'trial')
  return {'half_open', 0}
end
if state == 'open' then
  return {'open', 0}
end
redis.call('HSET', key, 'state', 'closed', 'failures', 0)
return {'closed', 0}
`,
});

// ARGV: now, failureThreshold, message. Returns {state, changed 0|1}.
const recordFailureScript = luaScript({
  name: 'bsmBreakerRecordFailure',
  keys: ['breaker'],
  reply: transition,
  lua: `
local key = KEYS[1]
local state = redis.call('HGET', key, 'state') or 'closed'
redis.call('HSET', key, 'lastError', ARGV[3], 'lastErrorAt', ARGV[1])
local failures = redis.call('HINCRBY', key, 'failures', 1)
if state == 'half_open' then
  redis.call('HSET', key, 'state', 'open', 'openedAt', ARGV[1], 'halfOpenSuccesses', 0, 'changedAt', ARGV[1])
  redis.call('HDEL', key, 'trialUntil', 'trial')
  return {'open', 1}
end
if state == 'open' then
  return {'open', 0}
end
if failures >= tonumber(ARGV[2]) then
  redis.call('HSET', key, 'state', 'open', 'openedAt', ARGV[1], 'changedAt', ARGV[1])
  return {'open', 1}
end
redis.call('HSET', key, 'state', 'closed')
return {'closed', 0}
`,
});

// ARGV: trial ticket. Frees the half-open slot if that ticket holds it.
const releaseTrialScript = luaScript({
  name: 'bsmBreakerReleaseTrial',
  keys: ['breaker'],
  reply: flag,
  lua: `
local key = KEYS[1]
if redis.call('HGET', key, 'state') == 'half_open' and redis.call('HGET', key, 'trial') == ARGV[1] then
  redis.call('HDEL', key, 'trialUntil', 'trial')
  return 1
end
return 0
`,
});

const breakerHash = z.object({
  state: state.default('closed'),
  failures: intText.default(0),
  openedAt: numberText.nullable().default(null),
  halfOpenSuccesses: intText.default(0),
  trialUntil: numberText.nullable().default(null),
  lastSuccessAt: numberText.nullable().default(null),
  lastError: z.string().nullable().default(null),
  lastErrorAt: numberText.nullable().default(null),
  changedAt: numberText.nullable().default(null),
});

/** The circuit breakers of the remote paths, under `<base>:breaker:`. */
export function createBreakerStore(redis: Redis, base: string): BreakerStore {
  const key = (path: RemotePath) => ({ breaker: `${base}:breaker:${path}` });
  const tryPass = bindScript(redis, tryPassScript);
  const recordSuccess = bindScript(redis, recordSuccessScript);
  const recordFailure = bindScript(redis, recordFailureScript);
  const releaseTrial = bindScript(redis, releaseTrialScript);
  return {
    async tryPass(path, input) {
      const [allowed, s, changed] = await tryPass(key(path), input.now, input.openMs, input.now + input.trialLeaseMs, input.trial);
      return { allowed, state: s, trial: allowed && s === 'half_open' ? input.trial : null, changed };
    },
    recordSuccess: (path, input) => recordSuccess(key(path), input.now, input.closeAfterSuccesses, input.trial ?? ''),
    recordFailure: (path, input) => recordFailure(key(path), input.now, input.failureThreshold, input.message),
    async releaseTrial(path, trial) {
      await releaseTrial(key(path), trial);
    },
    async read(path) {
      const h = parseFrom(breakerHash, await redis.hgetall(key(path).breaker), `breaker ${path}`);
      const { failures, ...rest } = h;
      return { ...rest, consecutiveFailures: failures };
    },
    async reset(path) {
      await redis.del(key(path).breaker);
    },
  };
}
