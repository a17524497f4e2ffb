import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Permission, Role } from '../../src/api/auth.js';
import { freePort } from '../../src/redis-server.js';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';
import { spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

/** The shared contract's table, written out: which role holds which permission. */
const holds: Record<Role, Permission[]> = {
  viewer: ['read'],
  ingest: ['ingest'],
  operator: ['read', 'operate'],
  approver: ['read', 'approve'],
  admin: ['read', 'ingest', 'operate', 'approve', 'administer'],
};
const allRoles = Object.keys(holds) as Role[];

/** A request path for a documented template; the generic flag routes get a flag that is not the master switch. */
const concrete = (path: string) => path.replace('{component}', 'meta-monitor').replace('{flag}', 'llm-narratives').replace('{id}', 'audit-nope');

describe('the role matrix over every protected route', () => {
  let t: TestApp;
  let operations: { method: string; path: string; permission: Permission }[];

  beforeAll(async () => {
    t = await makeTestApp('roles');
    const doc = (await (await t.call('GET', '/openapi.json', { role: null })).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; 'x-required-permission'?: Permission }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([, op]) => (op.security ?? []).length > 0)
        .map(([method, op]) => ({ method: method.toUpperCase(), path, permission: op['x-required-permission'] ?? ('missing' as Permission) })),
    );
  });

  afterAll(async () => {
    await t.close();
  });

  it('each role gets past the guard exactly where it holds the permission, and 403 elsewhere', async () => {
    expect(operations.length).toBeGreaterThanOrEqual(19);
    const seen: string[] = [];
    for (const op of operations) {
      for (const role of allRoles) {
        const path = concrete(op.path);
        const r = await t.call(op.method, path, { role, body: op.method === 'POST' ? {} : undefined });
        const allowed = holds[role].includes(op.permission);
        const what = `${role} ${op.method} ${path} (${op.permission}): ${r.status}`;
        if (allowed) {
          expect([401, 403], what).not.toContain(r.status);
        } else {
          expect(r.status, what).toBe(403);
          expect(((await r.json()) as { error: { code: string } }).error.code, what).toBe('forbidden');
        }
        seen.push(`${role}:${allowed ? 'in' : '403'}`);
      }
    }
    // The ingest role gets in on the two ingest routes only (executions as JSON, OTLP spans); every other route refuses it.
    expect(new Set(seen)).toEqual(new Set(['viewer:in', 'viewer:403', 'operator:in', 'operator:403', 'approver:in', 'approver:403', 'admin:in', 'ingest:in', 'ingest:403']));
    expect(operations.filter((op) => op.permission === 'ingest').map((op) => `${op.method} ${op.path}`)).toEqual(['POST /admin/bedrock-support/meta-monitor/executions', 'POST /v1/traces']);
  });

  it('an ingest key is refused the status, Bull Board and every other /admin and /test route', async () => {
    const status = await t.call('GET', '/admin/bedrock-support/status', { role: 'ingest' });
    expect(status.status).toBe(403);
    expect(await status.json()).toEqual({ error: { code: 'forbidden', message: 'role ingest may not read; needs viewer or operator or approver or admin', details: null } });
    for (const path of ['/admin/queues', '/admin/queues/api/queues']) {
      expect((await t.call('GET', path, { role: 'ingest' })).status, path).toBe(403);
      expect((await t.call('GET', path, { role: 'viewer' })).status, path).toBe(200);
    }
  });
});

describe('the two-person rule at start-up', () => {
  const admin = `admin:admin:${tokens.admin}`;
  const approver = `approver:approver:${tokens.approver}`;

  /** Starts the api role against a port something else holds, so it stops right after building its keyring. */
  async function startApi(env: Record<string, string>): Promise<Record<string, unknown>[]> {
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(port, '127.0.0.1', done));
    const bsmPrefix = uniquePrefix('two-person');
    const redis = testRedis();
    // Its own data directory: the api generates its HMAC key (and, without BSM_API_KEYS, the admin token) there.
    const dataDir = await mkdtemp(join(tmpdir(), 'bsm-two-person-'));
    try {
      const child = spawnBsm(['api'], { PORT: String(port), BSM_PREFIX: bsmPrefix, BSM_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...env });
      expect(await waitForExit(child)).toBe(2);
      return child
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    } finally {
      taken.close();
      await deleteKeys(redis, `{${bsmPrefix}}`);
      await redis.quit();
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  const ruleWarnings = (lines: Record<string, unknown>[]) => lines.filter((l) => l.twoPersonRule !== undefined);

  it('one key with the rule on: one warning that approvals need a second key or the rule lifted', async () => {
    const warnings = ruleWarnings(await startApi({ BSM_API_KEYS: admin }));
    expect(warnings).toEqual([
      expect.objectContaining({
        level: 'WARN',
        component: 'bsm',
        msg: expect.stringMatching(/^only one API key: under the two-person rule nobody can approve an action it requests; .*BSM_TWO_PERSON_RULE=false/) as unknown,
      }),
    ]);
  });

  it('no warning with a second key', async () => {
    expect(ruleWarnings(await startApi({ BSM_API_KEYS: `${admin},${approver}` }))).toEqual([]);
  });

  it('no warning with the rule lifted', async () => {
    expect(ruleWarnings(await startApi({ BSM_API_KEYS: admin, BSM_TWO_PERSON_RULE: 'false' }))).toEqual([]);
  });
});
