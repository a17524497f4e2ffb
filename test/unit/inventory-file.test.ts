import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskSecrets } from '../../src/domain/audit/inventory.js';
import { InventoryFileError, loadInventoryFile } from '../../src/store/inventory-file.js';

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bsm-inventory-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

/** The error loading `path` throws: an InventoryFileError, its message on one line. */
async function failure(path: string): Promise<string> {
  const err: unknown = await loadInventoryFile(path).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InventoryFileError);
  const message = (err as InventoryFileError).message;
  expect(message).not.toContain('\n');
  return message;
}

const goodYaml = `# What the auditor checks
defaults:
  timeoutMs: 3000
targets:
  - id: api-health
    kind: http
    component: api
    criticality: high
    url: https://api.example.test/health
    headers:
      Authorization: { env: API_TOKEN }
    expectJson: { status: ok }
  - id: db
    kind: tcp
    component: database
    criticality: critical
    host: db.internal
    port: 5432
  - id: queue-infrastructure-auditor
    kind: queue
    component: auditor
    criticality: medium
    queue: infrastructure-auditor
`;

/** Three targets, the third (http, "api-health") on lines 12-17; `field` goes on line 18. */
const yamlWith = (field: string) => `targets:
  - id: db
    kind: tcp
    component: database
    criticality: critical
    host: db.internal
    port: 5432
  - id: cache
    kind: redis
    component: cache
    criticality: low
  - id: api-health
    kind: http
    component: api
    criticality: high
    url: https://api.example.test/health
    method: GET
${field}
`;

describe('inventory file', () => {
  it('reads a YAML inventory, defaults filled in', async () => {
    const inventory = await loadInventoryFile(await file('good.yaml', goodYaml));
    expect(inventory.defaults).toEqual({ timeoutMs: 3000, concurrency: 16 });
    expect(inventory.targets.map((t) => t.id)).toEqual(['api-health', 'db', 'queue-infrastructure-auditor']);
    expect(inventory.targets[0]).toMatchObject({ kind: 'http', method: 'GET', expectStatus: 200, latencyBudgetMs: 1000, headers: { Authorization: { env: 'API_TOKEN' } }, expectJson: { status: 'ok' } });
    expect(inventory.targets[2]).toMatchObject({ kind: 'queue', minWorkers: 1 });
  });

  it('reads the same inventory from JSON', async () => {
    const fromYaml = await loadInventoryFile(await file('same.yml', goodYaml));
    const json = JSON.stringify(
      {
        defaults: { timeoutMs: 3000 },
        targets: [
          { id: 'api-health', kind: 'http', component: 'api', criticality: 'high', url: 'https://api.example.test/health', headers: { Authorization: { env: 'API_TOKEN' } }, expectJson: { status: 'ok' } },
          { id: 'db', kind: 'tcp', component: 'database', criticality: 'critical', host: 'db.internal', port: 5432 },
          { id: 'queue-infrastructure-auditor', kind: 'queue', component: 'auditor', criticality: 'medium', queue: 'infrastructure-auditor' },
        ],
      },
      null,
      2,
    );
    expect(await loadInventoryFile(await file('good.json', json))).toEqual(fromYaml);
  });

  it('names the target, the field, what was wrong and the line', async () => {
    const path = await file('type.yaml', yamlWith('    latencyBudgetMs: fast'));
    expect(await failure(path)).toBe(`BSM_INVENTORY ${path}: target "api-health" (targets[2]) field latencyBudgetMs: expected a number, got "fast" (line 18)`);

    const nested = await file('nested.yaml', yamlWith('    headers:\n      Authorization: { env: 12 }'));
    expect(await failure(nested)).toBe(`BSM_INVENTORY ${nested}: target "api-health" (targets[2]) field headers.Authorization.env: expected a string, got 12 (line 19)`);

    const noId = await file('no-id.yaml', 'targets:\n  - kind: tcp\n    component: db\n    criticality: low\n    host: db\n    port: 0\n');
    expect(await failure(noId)).toBe(`BSM_INVENTORY ${noId}: target targets[0] field id: missing (expected a string) (line 2)`);

    const json = await file('type.json', JSON.stringify({ targets: [{ id: 'db', kind: 'tcp', component: 'db', criticality: 'low', host: 'db', port: 'five' }] }, null, 2));
    expect(await failure(json)).toBe(`BSM_INVENTORY ${json}: target "db" (targets[0]) field port: expected a number, got "five" (line 9)`);
  });

  it('refuses a field the kind does not have', async () => {
    const path = await file('unknown.yaml', yamlWith('    latencyBudget: 500'));
    expect(await failure(path)).toBe(`BSM_INVENTORY ${path}: target "api-health" (targets[2]) field latencyBudget: unknown field (line 18)`);
    // The line of the key, not of its value below it.
    const block = await file('unknown-block.yaml', yamlWith('    retries:\n      count: 3'));
    expect(await failure(block)).toBe(`BSM_INVENTORY ${block}: target "api-health" (targets[2]) field retries: unknown field (line 18)`);
  });

  it('refuses a target id used twice', async () => {
    const path = await file('duplicate.yaml', yamlWith('  - id: db\n    kind: dns\n    component: dns\n    criticality: low\n    name: db.internal'));
    expect(await failure(path)).toBe(`BSM_INVENTORY ${path}: target "db" (targets[3]) field id: target id "db" is used twice (targets 0 and 3) (line 18)`);
  });

  it('reads the HTTP actions an inventory declares, defaults filled in; without them the inventory has no actions key', async () => {
    const withActions = `${goodYaml}actions:
  - id: restart-api
    component: api
    url: https://api.example.test/admin/restart
    headers: { Authorization: { env: API_ADMIN_TOKEN } }
    body: { graceful: true, services: [web] }
    expectStatus: [200, 202]
    expectJson: { status: restarted }
    risk: high
    targets: [api-health]
  - id: warm-cache
    component: cache
    url: http://cache.internal:8080/warm
`;
    const inventory = await loadInventoryFile(await file('actions.yaml', withActions));
    expect(inventory.actions).toEqual([
      {
        id: 'restart-api',
        component: 'api',
        url: 'https://api.example.test/admin/restart',
        method: 'POST',
        headers: { Authorization: { env: 'API_ADMIN_TOKEN' } },
        body: { graceful: true, services: ['web'] },
        expectStatus: [200, 202],
        expectJson: { status: 'restarted' },
        timeoutMs: 10_000,
        risk: 'high',
        targets: ['api-health'],
      },
      { id: 'warm-cache', component: 'cache', url: 'http://cache.internal:8080/warm', method: 'POST', expectStatus: 200, timeoutMs: 10_000, risk: 'medium' },
    ]);
    // Stored inventories keep their form: no `actions: []` appears in one that had none.
    expect(Object.keys(await loadInventoryFile(await file('no-actions.yaml', goodYaml)))).toEqual(['defaults', 'targets']);
  });

  it('names the action, the field and the line; an action naming a target the inventory lacks is refused', async () => {
    const action = (fields: string) => `${goodYaml}actions:\n  - id: restart-api\n    component: api\n    url: https://api.example.test/admin/restart\n${fields}\n`;
    const unknownTarget = await file('action-target.yaml', action('    targets: [api-health, api-helth]'));
    expect(await failure(unknownTarget)).toBe(
      `BSM_INVENTORY ${unknownTarget}: action "restart-api" (actions[0]) field targets[1]: target "api-helth" is not a target of this inventory (line 28)`,
    );
    const method = await file('action-method.yaml', action('    method: HEAD'));
    expect(await failure(method)).toMatch(new RegExp(`^BSM_INVENTORY ${method}: action "restart-api" \\(actions\\[0\\]\\) field method: expected one of "GET", "POST", "PUT", "PATCH", "DELETE", got "HEAD" \\(line 28\\)$`));
    const timeout = await file('action-timeout.yaml', action('    timeoutMs: 120001'));
    expect(await failure(timeout)).toContain('action "restart-api" (actions[0]) field timeoutMs:');
    const ftp = await file('action-url.yaml', `${goodYaml}actions:\n  - { id: restart-api, component: api, url: "ftp://api.example.test/x" }\n`);
    expect(await failure(ftp)).toContain('action "restart-api" (actions[0]) field url:');
    const getBody = await file('action-get-body.yaml', action('    method: GET\n    body: { a: 1 }'));
    expect(await failure(getBody)).toContain('field body: a GET request has no body');
    const twice = await file('action-twice.yaml', `${goodYaml}actions:\n  - { id: restart-api, component: api, url: "https://a.test/x" }\n  - { id: restart-api, component: api, url: "https://a.test/y" }\n`);
    expect(await failure(twice)).toContain('action "restart-api" (actions[1]) field id: action id "restart-api" is used twice (actions 0 and 1)');
  });

  it('reports a syntax error with the line the parser gives', async () => {
    const yaml = await file('syntax.yaml', 'targets:\n  - id: db\n    kind: [tcp\n    component: db\n');
    expect(await failure(yaml)).toMatch(new RegExp(`^BSM_INVENTORY ${yaml}: .*must be sufficiently indented and end with a \\] \\(line 4\\)$`));

    const twice = await file('key-twice.yaml', 'targets:\n  - id: db\n    id: db2\n');
    expect(await failure(twice)).toBe(`BSM_INVENTORY ${twice}: Map keys must be unique (line 3)`);

    const json = await file('syntax.json', '{\n  "targets": [\n    { "id": "db", }\n  ]\n}\n');
    expect(await failure(json)).toMatch(new RegExp(`^BSM_INVENTORY ${json}: .*JSON.* \\(line 3\\)$`));
  });

  it('says a missing file is not found, and refuses an extension it does not read', async () => {
    const missing = join(dir, 'missing.yaml');
    expect(await failure(missing)).toBe(`BSM_INVENTORY ${missing}: not found`);
    const text = await file('inventory.txt', goodYaml);
    expect(await failure(text)).toBe(`BSM_INVENTORY ${text}: expected a .yaml, .yml or .json file, got ".txt"`);
  });
});

describe('the inventory as GET …/audit/config shows it', () => {
  it("masks an action's literal header values and URL password, keeps environment names and leaves an inventory without actions as it is", async () => {
    const inventory = await loadInventoryFile(
      await file(
        'secrets.yaml',
        `${goodYaml}actions:\n  - id: restart-api\n    component: api\n    url: https://ops:hunter2@api.example.test/admin/restart?token=abc\n    headers: { X-Admin-Key: literal-key-123, Authorization: { env: API_ADMIN_TOKEN } }\n`,
      ),
    );
    const shown = maskSecrets(inventory);
    expect(shown.actions?.[0]).toMatchObject({ url: 'https://ops:***@api.example.test/admin/restart?token=abc', headers: { 'X-Admin-Key': '***', Authorization: { env: 'API_ADMIN_TOKEN' } } });
    expect(JSON.stringify(shown)).not.toMatch(/hunter2|literal-key-123/);
    const plain = await loadInventoryFile(await file('plain.yaml', goodYaml));
    expect('actions' in maskSecrets(plain)).toBe(false);
  });
});
