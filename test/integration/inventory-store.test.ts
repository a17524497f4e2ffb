import { afterAll, describe, expect, it } from 'vitest';
import { builtInInventory, inventorySchema, type Inventory } from '../../src/domain/audit/inventory.js';
import { createInventoryStore, inventoryVersionsKept } from '../../src/store/inventory.store.js';
import { StoredDataError } from '../../src/store/parse.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const redis = testRedis();
const prefix = `{${uniquePrefix('inventory')}}`;
let stores = 0;
const freshPrefix = () => `${prefix}:${++stores}`;

afterAll(async () => {
  await deleteKeys(redis, prefix);
  redis.disconnect();
});

const at = (minute: number) => new Date(Date.UTC(2026, 0, 1, 9, minute));
const apiInventory = (budget: number): Inventory =>
  inventorySchema.parse({
    targets: [
      { id: 'api-health', kind: 'http', component: 'api', criticality: 'high', url: 'https://api.example.test/health', latencyBudgetMs: budget, headers: { Authorization: { env: 'API_TOKEN' } } },
      { id: 'db', kind: 'tcp', component: 'db', criticality: 'critical', host: 'db.internal', port: 5432 },
    ],
  });

describe('inventory store', () => {
  it('has nothing in force at first, then numbers each replacement and keeps who set it', async () => {
    const store = createInventoryStore(redis, freshPrefix());
    expect(await store.current()).toBeNull();
    expect(await store.get(1)).toBeNull();

    const first = await store.replace(builtInInventory(), { source: 'built-in', setBy: 'built-in', at: at(0) });
    expect(first).toMatchObject({ version: 1, source: 'built-in', setBy: 'built-in', setAt: at(0).toISOString() });
    const second = await store.replace(apiInventory(500), { source: 'api', setBy: 'admin-key', at: at(1) });
    expect(second.version).toBe(2);
    expect(await store.current()).toEqual(second);
    expect(await store.get(1)).toEqual(first);
    expect((await store.get(2))?.inventory).toEqual(apiInventory(500));
    expect(await store.get(3)).toBeNull();
    expect(await store.get(0)).toBeNull();
  });

  it(`keeps the last ${inventoryVersionsKept} versions`, async () => {
    const store = createInventoryStore(redis, freshPrefix());
    for (let i = 1; i <= inventoryVersionsKept + 3; i++) {
      await store.replace(apiInventory(100 * i), { source: 'api', setBy: 'admin-key', at: at(i) });
    }
    expect((await store.current())?.version).toBe(inventoryVersionsKept + 3);
    expect(await store.get(3)).toBeNull();
    expect((await store.get(4))?.inventory.targets[0]).toMatchObject({ latencyBudgetMs: 400 });
  });

  it('seeds once: the same inventory again writes nothing, another one is the next version', async () => {
    const store = createInventoryStore(redis, freshPrefix());
    const file = { source: 'file' as const, setBy: '/etc/bsm/inventory.yaml', at: at(0) };
    const seeded = await store.seed(apiInventory(500), file);
    expect(seeded.version).toBe(1);

    // The same content, its keys in another order, from a later start-up.
    const reordered = JSON.parse(JSON.stringify({ targets: apiInventory(500).targets.map((t) => Object.fromEntries(Object.entries(t).reverse())), defaults: apiInventory(500).defaults })) as Inventory;
    expect(await store.seed(reordered, { ...file, at: at(5) })).toEqual(seeded);
    expect((await store.current())?.version).toBe(1);

    const changed = await store.seed(apiInventory(900), { ...file, at: at(9) });
    expect(changed).toMatchObject({ version: 2, setAt: at(9).toISOString() });
    expect(await store.current()).toEqual(changed);
  });

  it('several processes seeding at once make one version', async () => {
    const prefixOfAll = freshPrefix();
    const others = [testRedis(), testRedis(), testRedis()];
    try {
      await Promise.all(others.map((r) => r.ping()));
      const results = await Promise.all(others.map((r, i) => createInventoryStore(r, prefixOfAll).seed(apiInventory(500), { source: 'file', setBy: `process-${i}`, at: at(i) })));
      expect(results.map((r) => r.version)).toEqual([1, 1, 1]);
      expect((await createInventoryStore(redis, prefixOfAll).current())?.version).toBe(1);
    } finally {
      others.forEach((r) => r.disconnect());
    }
  });

  it('refuses an invalid inventory, and a stored version that does not parse', async () => {
    const base = freshPrefix();
    const store = createInventoryStore(redis, base);
    const duplicate = { ...apiInventory(500), targets: [...apiInventory(500).targets, ...apiInventory(500).targets] };
    await expect(store.replace(duplicate, { source: 'api', setBy: 'admin-key', at: at(0) })).rejects.toThrow(/used twice/);
    expect(await store.current()).toBeNull();

    await store.replace(apiInventory(500), { source: 'api', setBy: 'admin-key', at: at(0) });
    await redis.hset(`${base}:inventory:versions`, '1', JSON.stringify({ source: 'api', setBy: 'x', setAt: 'y', inventory: { targets: [] } }));
    await expect(store.current()).rejects.toThrow(StoredDataError);
  });
});
