import { builtInInventory, type Inventory, type InventoryVersion } from './inventory.js';

/** What the inventory's Redis store offers (`store/inventory.store.ts`). */
export interface InventoryStoreLike {
  current(): Promise<InventoryVersion | null>;
  replace(inventory: Inventory, meta: { source: InventoryVersion['source']; setBy: string; at: Date }): Promise<InventoryVersion>;
  seed(inventory: Inventory, meta: { source: InventoryVersion['source']; setBy: string; at: Date }): Promise<InventoryVersion>;
}

/** The inventory every process probes from: the stored version, or the built-in one seeded when Redis holds none (a Redis that came back empty). */
export interface InventoryInForce {
  current(): Promise<InventoryVersion>;
  /** An admin's replacement (`PUT …/audit/config`), already validated. */
  replace(inventory: Inventory, setBy: string): Promise<InventoryVersion>;
}

export function inventoryInForce(store: InventoryStoreLike, clock: () => Date): InventoryInForce {
  return {
    async current() {
      return (await store.current()) ?? store.seed(builtInInventory(), { source: 'built-in', setBy: 'built-in', at: clock() });
    },
    replace: (inventory, setBy) => store.replace(inventory, { source: 'api', setBy, at: clock() }),
  };
}
