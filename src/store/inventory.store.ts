import type { Redis } from 'ioredis';
import { z } from 'zod';
import { canonicalJson } from '../domain/audit-trail/canonical.js';
import { inventorySchema, type Inventory, type InventoryChange, type InventoryStore, type InventoryVersion } from '../domain/audit/inventory.js';
import { createVersionedDocument } from './versioned-document.js';

/** Versions of the inventory kept in Redis, the one in force among them. */
export const inventoryVersionsKept = 10;

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
  const document = createVersionedDocument(redis, `${keyPrefix}:inventory`, storedVersionSchema, { kept: inventoryVersionsKept, what: 'inventory' });
  const current = (): Promise<InventoryVersion | null> => document.current();

  /** Writes the next version; with `expected`, only if the version in force is still that one (else null). */
  const writeVersion = (inventory: Inventory, change: InventoryChange, expected: number | 'any'): Promise<InventoryVersion | null> =>
    document.write({ source: change.source, setBy: change.setBy, setAt: change.at.toISOString(), inventory: inventorySchema.parse(inventory) }, expected);

  return {
    current,
    get: (version) => document.get(version),
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
