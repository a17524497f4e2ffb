import type { Redis } from 'ioredis';
import { combineRedisFacts, parseRedisInfo, type RedisFacts } from '../domain/audit/redis-facts.js';
import { eachMaster } from '../redis.js';

/** Reads what the auditor checks about the Redis the fleet runs on: INFO of the server, or of every master of a cluster, combined. */
export async function readRedisFacts(redis: Redis): Promise<RedisFacts> {
  return combineRedisFacts(await eachMaster(redis, async (node) => parseRedisInfo(await node.info())));
}
