import type { Redis } from 'ioredis';
import { FeatureFlagBusyError, flagStateSchema, isFeatureFlagName, masterSwitch, type FlagState, type StoredFlagName } from '../domain/feature-flags.js';
import type { FeatureFlagStore } from '../domain/feature-flags.service.js';
import { redisLock } from './lock.js';
import { parseStored } from './parse.js';

export { FeatureFlagBusyError } from '../domain/feature-flags.js';

const parse = (raw: string): FlagState => flagStateSchema.parse(parseStored(raw, 'feature flag'));

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
    // Waiting as long as the lock lives: a holder that died lets go before anyone gives up.
    exclusive: redisLock(redis, lockKey, {
      ttlMs: lockTtlMs,
      waitMs: lockTtlMs,
      busy: () => new FeatureFlagBusyError(`another feature-flag change has held the lock for over ${lockTtlMs} ms; try again`),
    }),
  };
}
