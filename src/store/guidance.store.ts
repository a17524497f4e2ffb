import type { Redis } from 'ioredis';
import { guidanceNarrativeSchema, guidanceNarrativeTtlSeconds, type GuidanceNarrativeCache } from '../domain/implementation/guidance-narrative.js';
import { parseStored, StoredDataError } from './parse.js';

/**
 * The narratives of gap guidance (`P` is the key prefix): `P:guidance:narrative:<gap id>:<request
 * hash>`, the narrative as JSON, expiring after an hour. A value that does not parse (written by
 * another version) counts as absent: the next narrative replaces it.
 */
export function createGuidanceNarrativeCache(redis: Redis, keyPrefix: string, ttlSeconds = guidanceNarrativeTtlSeconds): GuidanceNarrativeCache {
  const key = (gapId: string, hash: string) => `${keyPrefix}:guidance:narrative:${gapId}:${hash}`;
  return {
    async get(gapId, hash) {
      const raw = await redis.get(key(gapId, hash));
      if (raw === null) {
        return null;
      }
      let value: unknown;
      try {
        value = parseStored(raw, `guidance narrative of ${gapId}`);
      } catch (err) {
        if (err instanceof StoredDataError) {
          return null;
        }
        throw err;
      }
      const parsed = guidanceNarrativeSchema.safeParse(value);
      return parsed.success ? parsed.data : null;
    },
    async put(gapId, hash, narrative) {
      await redis.set(key(gapId, hash), JSON.stringify(guidanceNarrativeSchema.parse(narrative)), 'EX', ttlSeconds);
    },
  };
}
