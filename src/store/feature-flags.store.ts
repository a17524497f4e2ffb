import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { flagStateSchema, isFeatureFlagName, masterSwitch, type FlagState, type StoredFlagName } from '../domain/feature-flags.js';
import { FeatureFlagBusyError } from '../domain/feature-flags.js';

export { FeatureFlagBusyError } from '../domain/feature-flags.js';
import type { FeatureFlagStore } from '../domain/feature-flags.service.js';

/** KEYS: lock. ARGV: token. Deletes the lock only if we still hold it. */
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;


const parse = (raw: string): FlagState => flagStateSchema.parse(JSON.parse(raw));

/**
 * The flags other than the master switch: one Redis hash, `<prefix>:feature-flags`, a field per
 * flag holding its state as JSON. Changes take `<prefix>:feature-flags:lock`.
 */
export function createFeatureFlagStore(redis: Redis, keyPrefix: string, options: { lockTtlMs?: number } = {}): FeatureFlagStore {
  const key = `${keyPrefix}:feature-flags`;
  const lockKey = `${keyPrefix}:feature-flags:lock`;
  const lockTtlMs = options.lockTtlMs ?? 10_000;
  return {
    async readAll() {
      const out: Partial<Record<StoredFlagName, FlagState>> = {};
      for (const [name, raw] of Object.entries(await redis.hgetall(key))) {
        // A field of a flag this version no longer declares is left alone.
        if (isFeatureFlagName(name) && name !== masterSwitch) {
          out[name] = parse(raw);
        }
      }
      return out;
    },
    async read(name) {
      const raw = await redis.hget(key, name);
      return raw === null ? null : parse(raw);
    },
    async write(name, state) {
      await redis.hset(key, name, JSON.stringify(state));
    },
    async exclusive(work) {
      const token = randomBytes(12).toString('hex');
      // Waiting as long as the lock lives: a holder that died lets go before anyone gives up.
      const deadline = Date.now() + lockTtlMs;
      while ((await redis.set(lockKey, token, 'PX', lockTtlMs, 'NX')) !== 'OK') {
        if (Date.now() > deadline) {
          throw new FeatureFlagBusyError(`another feature-flag change has held the lock for over ${lockTtlMs} ms; try again`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      try {
        return await work();
      } finally {
        await redis.eval(releaseScript, 1, lockKey, token);
      }
    },
  };
}
