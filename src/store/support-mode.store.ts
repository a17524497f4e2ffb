import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { initialState, type SupportModeState } from '../domain/support-mode/state.js';
import { SupportModeBusyError } from '../domain/support-mode/state.js';
import { bindScript, luaScript } from './redis-scripts.js';

export { SupportModeBusyError } from '../domain/support-mode/state.js';

/** KEYS: state. ARGV: expected version, new JSON. Writes only if the stored version is the expected one. */
const casScript = luaScript({
  name: 'bsmSupportModeCas',
  keys: ['state'],
  reply: z.union([z.literal(0), z.literal(1)]),
  lua: `
local cur = redis.call('GET', KEYS[1])
local version = 0
if cur then version = cjson.decode(cur)['version'] end
if tonumber(version) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`,
});

export interface SupportModeStore {
  read(): Promise<SupportModeState>;
  /**
   * Runs `work` holding the fleet-wide support-mode lock, so a transition and the queue
   * changes it makes are not interleaved with another process's.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** Reads, applies `change`, and writes only if nobody else wrote in between (retrying). */
  update(change: (state: SupportModeState) => SupportModeState): Promise<{ before: SupportModeState; after: SupportModeState }>;
}

/** KEYS: lock. ARGV: token. Deletes the lock only if we still hold it. */
const releaseScript = luaScript({
  name: 'bsmSupportModeRelease',
  keys: ['lock'],
  reply: z.number().int(),
  lua: `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`,
});


/**
 * Nested fields added since a state was written. A `lastEmergency` from before `reactivatedAt`
 * existed counts as reactivated (at its recovery): nothing then tracked the gradual step, and
 * reading it as still recovering would refuse `activate all` for good.
 */
function upgrade(state: SupportModeState): SupportModeState {
  const last = state.lastEmergency as (Omit<NonNullable<SupportModeState['lastEmergency']>, 'reactivatedAt'> & { reactivatedAt?: string | null }) | null;
  if (last !== null && last.reactivatedAt === undefined) {
    return { ...state, lastEmergency: { ...last, reactivatedAt: last.recoveredAt } };
  }
  return state;
}

export function createSupportModeStore(redis: Redis, keyPrefix: string, options: { lockTtlMs?: number; waitMs?: number } = {}): SupportModeStore {
  const key = `${keyPrefix}:support-mode`;
  const lockKey = `${keyPrefix}:support-mode:lock`;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const waitMs = options.waitMs ?? 10_000;
  const compareAndSet = bindScript(redis, casScript);
  const release = bindScript(redis, releaseScript);
  const read = async () => {
    const raw = await redis.get(key);
    // Fields added since a state was written take their initial values.
    return raw === null ? initialState() : upgrade({ ...initialState(), ...(JSON.parse(raw) as SupportModeState) });
  };
  return {
    read,
    async exclusive(work) {
      const token = randomBytes(12).toString('hex');
      const deadline = Date.now() + waitMs;
      while ((await redis.set(lockKey, token, 'PX', lockTtlMs, 'NX')) !== 'OK') {
        if (Date.now() > deadline) {
          throw new SupportModeBusyError(`another support-mode transition has held the lock for over ${waitMs} ms; try again`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      try {
        return await work();
      } finally {
        await release({ lock: lockKey }, token);
      }
    },
    async update(change) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const before = await read();
        const after = change(before);
        if (after === before) {
          return { before, after }; // nothing to write
        }
        if ((await compareAndSet({ state: key }, before.version, JSON.stringify(after))) === 1) {
          return { before, after };
        }
      }
      throw new Error('support mode: concurrent updates did not settle after 50 attempts');
    },
  };
}
