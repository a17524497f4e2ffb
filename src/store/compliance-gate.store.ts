import type { Redis } from 'ioredis';
import { z } from 'zod';
import { criticalChecks, type ChainVerdictStore } from '../domain/compliance/llm-gate.js';
import { parseStored, StoredDataError } from './parse.js';

const violationSchema = z.object({ check: z.enum(criticalChecks), detail: z.string(), measuredAt: z.string(), source: z.string() });

/**
 * The audit trail's last failing verdict, `<prefix>:compliance:chain-violation` (JSON), until a full
 * verification passes: what blocks LLM calls across the fleet while the trail is broken.
 */
export function createChainVerdictStore(redis: Redis, keyPrefix: string): ChainVerdictStore {
  const key = `${keyPrefix}:compliance:chain-violation`;
  return {
    async read() {
      const raw = await redis.get(key);
      if (raw === null) {
        return null;
      }
      const parsed = violationSchema.safeParse(parseStored(raw, 'the audit trail verdict'));
      if (!parsed.success) {
        throw new StoredDataError('the audit trail verdict: stored value is not what this version writes');
      }
      return parsed.data;
    },
    async set(violation) {
      await redis.set(key, JSON.stringify(violation));
    },
    async clear() {
      await redis.del(key);
    },
  };
}
