import type { Redis } from 'ioredis';
import { z } from 'zod';
import { canonicalJson } from '../domain/audit-trail/canonical.js';
import { inventorySchema, type Inventory, type InventoryChange, type InventoryStore, type InventoryVersion } from '../domain/audit/inventory.js';
import { parseStored, StoredDataError } from './parse.js';
import { bindScript, luaScript } from './redis-scripts.js';

/** Versions of the inventory kept in Redis, the one in force among them. */
export const inventoryVersionsKept = 10;

/**
 * Stores the next version: INCR the counter, write the version, drop the ones no longer kept.
 * KEYS: counter, versions. ARGV: expected current version (`any`, or a number: refused with 0
 * when the counter is elsewhere), JSON, versions kept. Returns the new version, or 0.
 */
const writeScript = luaScript({
  name: 'bsmInventoryWrite',
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
  name: 'bsmInventoryCurrent',
  keys: ['counter', 'versions'],
  reply: z.union([z.null(), z.tuple([z.number().int(), z.string().nullable()])]),
  lua: `
local version = redis.call('GET', KEYS[1])
if not version then return nil end
return { tonumber(version), redis.call('HGET', KEYS[2], version) }
`,
});

/** A version as stored: its number is the hash field. */
const storedVersionSchema = z.object({
  source: z.enum(['built-in', 'file', 'api']),
  setBy: z.string(),
  setAt: z.string(),
  inventory: inventorySchema,
});

/**
 * The inventory in force, versioned: `<prefix>:inventory:version` counts versions (INCR), and
 * `<prefix>:inventory:versions` holds the last {@link inventoryVersionsKept} as JSON, one field
 * per version number.
 */
export function createInventoryStore(redis: Redis, keyPrefix: string): InventoryStore {
  const keys = { counter: `${keyPrefix}:inventory:version`, versions: `${keyPrefix}:inventory:versions` };
  const write = bindScript(redis, writeScript);
  const readCurrent = bindScript(redis, currentScript);

  const parse = (version: number, raw: string): InventoryVersion => {
    const parsed = storedVersionSchema.safeParse(parseStored(raw, `inventory version ${version}`));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StoredDataError(`inventory version ${version} does not match its schema at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? ''}`);
    }
    return { version, ...parsed.data };
  };

  const current = async (): Promise<InventoryVersion | null> => {
    const reply = await readCurrent(keys);
    if (reply === null) {
      return null;
    }
    const [version, raw] = reply;
    if (raw === null) {
      throw new StoredDataError(`inventory version ${version} is in force but not stored`);
    }
    return parse(version, raw);
  };

  /** Writes the next version; with `expected`, only if the version in force is still that one (else null). */
  const writeVersion = async (inventory: Inventory, change: InventoryChange, expected: number | 'any'): Promise<InventoryVersion | null> => {
    const valid = inventorySchema.parse(inventory);
    const stored = { source: change.source, setBy: change.setBy, setAt: change.at.toISOString(), inventory: valid };
    const version = await write(keys, expected, JSON.stringify(stored), inventoryVersionsKept);
    return version === 0 ? null : { version, ...stored };
  };

  return {
    current,
    async get(version) {
      if (!Number.isSafeInteger(version) || version < 1) {
        return null;
      }
      const raw = await redis.hget(keys.versions, String(version));
      return raw === null ? null : parse(version, raw);
    },
    async replace(inventory, change) {
      const written = await writeVersion(inventory, change, 'any');
      if (written === null) {
        throw new Error('inventory: an unconditional write was refused'); // the script refuses only with an expected version
      }
      return written;
    },
    async seed(inventory, change) {
      const wanted = canonicalJson(inventorySchema.parse(inventory));
      // Several processes start at once: the first writes, the others then find it in force.
      for (let attempt = 0; attempt < 10; attempt++) {
        const inForce = await current();
        if (inForce !== null && canonicalJson(inForce.inventory) === wanted) {
          return inForce;
        }
        const written = await writeVersion(inventory, change, inForce?.version ?? 0);
        if (written !== null) {
          return written;
        }
      }
      throw new Error('inventory: the version in force kept changing while seeding (10 attempts)');
    },
  };
}
