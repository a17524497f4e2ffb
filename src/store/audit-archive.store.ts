import type { Redis } from 'ioredis';
import { z } from 'zod';
import { archivedSegmentSchema, checkpointHeadSchema, lastArchivedSchema, type ArchiveRegistry } from '../domain/audit-trail/registry.js';
import { parseStored, StoredDataError } from './parse.js';
import { bindScript, luaScript } from './redis-scripts.js';

/** KEYS: checkpoint head. ARGV: number, json. Moves the cached newest checkpoint forward only. */
const setHeadScript = luaScript({
  name: 'bsmAuditCheckpointHead',
  keys: ['head'],
  reply: z.number().int(),
  lua: `
local cur = tonumber(redis.call('HGET', KEYS[1], 'number') or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('HSET', KEYS[1], 'number', ARGV[1], 'json', ARGV[2])
return 1
`,
});

/** KEYS: segments, last archived. ARGV: file, segment json, last seq, last archived json. */
const recordScript = luaScript({
  name: 'bsmAuditArchiveRecord',
  keys: ['segments', 'last'],
  reply: z.number().int(),
  lua: `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[2], 'seq') or '0')
if tonumber(ARGV[3]) > cur then redis.call('HSET', KEYS[2], 'seq', ARGV[3], 'json', ARGV[4]) end
return 1
`,
});

function parse<T>(schema: z.ZodType<T>, raw: string, what: string): T {
  const parsed = schema.safeParse(parseStored(raw, what));
  if (!parsed.success) {
    throw new StoredDataError(`${what}: stored value is not what this version writes`);
  }
  return parsed.data;
}

/**
 * What Redis keeps about the audit trail's archive: the newest checkpoint (a cache: the file is
 * the anchor), the public keys signers published, and the segments written and cleaned up.
 */
export function createArchiveRegistry(redis: Redis, keyPrefix: string): ArchiveRegistry {
  const keys = {
    head: `${keyPrefix}:audit-trail:checkpoint`,
    publicKeys: `${keyPrefix}:audit-trail:public-keys`,
    currentKey: `${keyPrefix}:audit-trail:public-key`,
    segments: `${keyPrefix}:audit-trail:segments`,
    last: `${keyPrefix}:audit-trail:archived`,
  };
  const setHead = bindScript(redis, setHeadScript);
  const record = bindScript(redis, recordScript);
  return {
    async checkpointHead() {
      const raw = await redis.hget(keys.head, 'json');
      return raw === null ? null : parse(checkpointHeadSchema, raw, 'audit-trail checkpoint head');
    },
    async setCheckpointHead(head) {
      await setHead({ head: keys.head }, head.number, JSON.stringify(head));
    },
    async publicKeys() {
      const [all, current] = await Promise.all([redis.hgetall(keys.publicKeys), redis.get(keys.currentKey)]);
      return { current, keys: all };
    },
    async publishKey(fingerprint, pem) {
      await redis.multi().hset(keys.publicKeys, fingerprint, pem).set(keys.currentKey, fingerprint).exec();
    },
    async segments() {
      const all = await redis.hgetall(keys.segments);
      return Object.entries(all).map(([file, raw]) => parse(archivedSegmentSchema, raw, `audit-trail archive segment ${file}`));
    },
    async lastArchived() {
      const raw = await redis.hget(keys.last, 'json');
      return raw === null ? null : parse(lastArchivedSchema, raw, 'last archived audit-trail entry');
    },
    async recordSegment(segment) {
      await record({ segments: keys.segments, last: keys.last }, segment.file, JSON.stringify(segment), segment.lastSeq, JSON.stringify({ seq: segment.lastSeq, id: segment.lastId, hash: segment.chainAfter }));
    },
    async markCleaned(file, at) {
      const raw = await redis.hget(keys.segments, file);
      if (raw === null) {
        return;
      }
      const segment = parse(archivedSegmentSchema, raw, `audit-trail archive segment ${file}`);
      await redis.hset(keys.segments, file, JSON.stringify({ ...segment, cleanedAt: at }));
    },
  };
}
