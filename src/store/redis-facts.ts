import type { Redis } from 'ioredis';
import { parseRedisInfo, type RedisFacts } from '../domain/audit/redis-facts.js';

/** Reads what the auditor checks about the Redis the fleet runs on. */
export async function readRedisFacts(redis: Redis): Promise<RedisFacts> {
  return parseRedisInfo(await redis.info());
}
