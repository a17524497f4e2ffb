import type { Redis } from 'ioredis';
import { z } from 'zod';
import { parseStored, StoredDataError } from './parse.js';
import { bindScript, luaScript } from './redis-scripts.js';

/**
 * Stores the next version: INCR the counter, write the version, drop the ones no longer kept.
 * KEYS: counter, versions. ARGV: expected current version (`any`, or a number: refused with 0
 * when the counter is elsewhere), JSON, versions kept. Returns the new version, or 0.
 */
const writeScript = luaScript({
  name: 'bsmVersionedWrite',
  keys: ['counter', 'versions'],
  reply: z.number().int().min(0),
  lua: `
if ARGV[1] ~= 'any' and tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return 0 end
local version = redis.call('INCR', KEYS[1])
redis.call('HSET', KEYS[2], version, ARGV[2])
for _, field in ipairs(redis.call('HKEYS', KEYS[2])) do
  local kept = tonumber(field)
  if kept and kept <= version - tonumber(ARGV[3]) then redis.call('HDEL', KEYS[2], field) end
end
return version
`,
});

/** KEYS: counter, versions. The version in force and its JSON, or nil before the first. */
const currentScript = luaScript({
  name: 'bsmVersionedCurrent',
  keys: ['counter', 'versions'],
  reply: z.union([z.null(), z.tuple([z.number().int(), z.string().nullable()])]),
  lua: `
local version = redis.call('GET', KEYS[1])
if not version then return nil end
return { tonumber(version), redis.call('HGET', KEYS[2], version) }
`,
});

/** A document kept in versions: the one in force and the last few before it. */
export interface VersionedDocument<T> {
  /** The version in force, or null before the first. */
  current(): Promise<(T & { version: number }) | null>;
  get(version: number): Promise<(T & { version: number }) | null>;
  /** Writes the next version; with a number `expected`, only if that version is still in force (else null). */
  write(document: T, expected: number | 'any'): Promise<(T & { version: number }) | null>;
}

/**
 * A versioned JSON document in Redis: `<base>:version` counts versions (INCR) and `<base>:versions`
 * holds the last `kept` as JSON, one field per version number. What is read back is parsed
 * through `schema`, so a damaged version is a StoredDataError naming it, never a cast.
 */
export function createVersionedDocument<S extends z.ZodType<object>>(redis: Redis, base: string, schema: S, options: { kept: number; what: string }): VersionedDocument<z.output<S>> {
  const keys = { counter: `${base}:version`, versions: `${base}:versions` };
  const write = bindScript(redis, writeScript);
  const readCurrent = bindScript(redis, currentScript);
  type Versioned = z.output<S> & { version: number };
  const parse = (version: number, raw: string): Versioned => {
    const parsed = schema.safeParse(parseStored(raw, `${options.what} version ${version}`));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StoredDataError(`${options.what} version ${version} does not match its schema at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? ''}`);
    }
    return { ...parsed.data, version };
  };
  return {
    async current() {
      const reply = await readCurrent(keys);
      if (reply === null) {
        return null;
      }
      const [version, raw] = reply;
      if (raw === null) {
        throw new StoredDataError(`${options.what} version ${version} is in force but not stored`);
      }
      return parse(version, raw);
    },
    async get(version) {
      if (!Number.isSafeInteger(version) || version < 1) {
        return null;
      }
      const raw = await redis.hget(keys.versions, String(version));
      return raw === null ? null : parse(version, raw);
    },
    async write(document, expected) {
      const valid = schema.parse(document);
      const version = await write(keys, expected, JSON.stringify(valid), options.kept);
      return version === 0 ? null : { ...valid, version };
    },
  };
}
