/**
 * The infrastructure auditor end to end, against real servers on loopback with planted problems:
 * an HTTP server (healthy, failing and slow routes), a closed TCP port, a TLS server whose
 * certificate expires in 3 days, a name that does not resolve, a second redis-server with the
 * wrong eviction policy, and a queue without workers. Through the API as the runbook calls it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { severityOf } from '../../src/domain/gaps/gap.js';
import type { Criticality } from '../../src/domain/audit/inventory.js';
import type { AuditReport } from '../../src/domain/audit/report.js';
import { freePort } from '../../src/redis-server.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/fleet.js';
import { close, listen, makeCertificates, startRedisServer } from '../helpers/planted.js';

let dir: string;
let http: HttpServer;
let https: HttpsServer;
let redisServer: Awaited<ReturnType<typeof startRedisServer>>;
let t: TestApp;
let failing = true;
let inventory: { defaults: { timeoutMs: number }; targets: Record<string, unknown>[] };

/** The planted problems: target id, the check that must fail, its gap type, the target's criticality. */
const planted: { id: string; check: string; type: Parameters<typeof severityOf>[0]; criticality: Criticality }[] = [
  { id: 'web-failing', check: 'status', type: 'broken_integration', criticality: 'critical' },
  { id: 'web-slow', check: 'latency', type: 'performance_issue', criticality: 'high' },
  { id: 'db-port', check: 'reachable', type: 'broken_integration', criticality: 'high' },
  { id: 'web-cert', check: 'days-left', type: 'security_vulnerability', criticality: 'medium' },
  { id: 'web-dns', check: 'resolves', type: 'broken_integration', criticality: 'low' },
  { id: 'cache', check: 'eviction-policy', type: 'configuration_drift', criticality: 'high' },
  { id: 'monitor-queue', check: 'workers', type: 'broken_integration', criticality: 'medium' },
];

const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function audit(body?: unknown): Promise<AuditReport> {
  const res = await t.call('POST', '/admin/bedrock-support/audit/trigger', body === undefined ? { role: 'operator' } : { role: 'operator', body });
  expect(res.status).toBe(202);
  const accepted = await json<{ auditId: string; statusUrl: string }>(res);
  expect(accepted.auditId).toMatch(/^audit-/);
  await eventually(async () => (await json<{ state: string }>(await t.call('GET', accepted.statusUrl, { role: 'viewer' }))).state === 'completed', 30_000);
  const details = await t.call('GET', `/admin/bedrock-support/audit/${accepted.auditId}/details`, { role: 'viewer' });
  expect(details.status).toBe(200);
  return json<AuditReport>(details);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bsm-auditor-'));
  await makeCertificates(dir, 3);
  http = createHttpServer((req, res) => {
    const send = (status: number) => res.writeHead(status, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (req.url === '/failing') {
      return send(failing ? 503 : 200);
    }
    if (req.url === '/slow') {
      setTimeout(() => send(200), 700);
      return;
    }
    return send(200);
  });
  const web = `http://127.0.0.1:${await listen(http)}`;
  https = createHttpsServer({ key: await readFile(join(dir, 'leaf.key')), cert: await readFile(join(dir, 'leaf.crt')) }, (_req, res) => res.end('ok'));
  const tlsPort = await listen(https);
  redisServer = await startRedisServer(['--maxmemory-policy', 'allkeys-lru', '--appendonly', 'no', '--save', '']);
  const crit = (id: string) => planted.find((p) => p.id === id)?.criticality ?? 'high';
  inventory = {
    defaults: { timeoutMs: 3_000 },
    targets: [
      { id: 'web-healthy', kind: 'http', component: 'web', criticality: 'critical', url: `${web}/healthy`, expectJson: { status: 'ok' } },
      { id: 'web-failing', kind: 'http', component: 'web', criticality: crit('web-failing'), url: `${web}/failing` },
      { id: 'web-slow', kind: 'http', component: 'web', criticality: crit('web-slow'), url: `${web}/slow`, latencyBudgetMs: 300 },
      { id: 'db-port', kind: 'tcp', component: 'db', criticality: crit('db-port'), host: '127.0.0.1', port: await freePort() },
      { id: 'web-cert', kind: 'tls', component: 'web', criticality: crit('web-cert'), host: 'localhost', port: tlsPort, caFile: join(dir, 'ca.crt'), minDaysLeft: 14 },
      { id: 'web-dns', kind: 'dns', component: 'web', criticality: crit('web-dns'), name: 'no-such-host.invalid' },
      { id: 'cache', kind: 'redis', component: 'cache', criticality: crit('cache'), url: `redis://127.0.0.1:${redisServer.port}`, expectEvictionPolicy: 'noeviction' },
      { id: 'auditor-queue', kind: 'queue', component: 'infrastructure-auditor', criticality: 'high', queue: 'infrastructure-auditor' },
      { id: 'monitor-queue', kind: 'queue', component: 'meta-monitor', criticality: crit('monitor-queue'), queue: 'meta-monitor' },
    ],
  };
  t = await makeTestApp('auditor', { workers: ['infrastructure-auditor'] });
  expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
  expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'infrastructure-auditor' } })).status).toBe(200);
}, 60_000);

afterAll(async () => {
  await t?.close();
  http?.closeAllConnections();
  https?.closeAllConnections();
  await Promise.all([http && close(http), https && close(https)]);
  await redisServer?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('the infrastructure auditor', () => {
  let first: AuditReport;

  it('audits the fleet itself while no inventory is set', async () => {
    const config = await json<{ source: string; inventory: { targets: { id: string; kind: string }[] } }>(await t.call('GET', '/admin/bedrock-support/audit/config', { role: 'viewer' }));
    expect(config.source).toBe('built-in');
    expect(config.inventory.targets.map((x) => x.kind)).toEqual(['redis', 'queue', 'queue', 'queue', 'queue', 'queue']);
  });

  it('takes a new inventory from an admin only, validated and in the audit trail', async () => {
    expect((await t.call('PUT', '/admin/bedrock-support/audit/config', { role: 'operator', body: inventory })).status).toBe(403);
    const bad = await t.call('PUT', '/admin/bedrock-support/audit/config', { body: { targets: [{ ...inventory.targets[0], latencyBudgetMs: 'fast' }] } });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { message: string } }>(bad)).error.message).toMatch(/^target "web-healthy": targets\.0\.latencyBudgetMs/);
    const badAction = await t.call('PUT', '/admin/bedrock-support/audit/config', {
      body: { ...inventory, actions: [{ id: 'restart-web', component: 'web', url: 'http://127.0.0.1:1/restart', targets: ['web-healthy', 'no-such-target'] }] },
    });
    expect(badAction.status).toBe(400);
    expect((await json<{ error: { message: string; details: { field: string } } }>(badAction)).error).toMatchObject({
      message: expect.stringMatching(/^action "restart-web": actions\.0\.targets\.1.*"no-such-target" is not a target of this inventory/) as unknown,
      details: { field: 'actions.0.targets.1' },
    });
    const put = await t.call('PUT', '/admin/bedrock-support/audit/config', { body: inventory });
    expect(put.status).toBe(200);
    expect(await json<{ version: number; source: string }>(put)).toMatchObject({ version: 2, source: 'api' });
    const entries = (await t.auditTrail.range()).map((e) => e.event?.action);
    expect(entries).toContain('audit.config.replace');
  });

  it('one audit reports exactly the planted problems, with their types and the severities of the table', async () => {
    first = await audit();
    expect(first.type).toBe('comprehensive');
    expect(first.summary.targets).toBe(inventory.targets.length);
    const found = first.gaps.map((g) => `${g.subject}/${g.check}/${g.type}/${g.severity}`).sort();
    expect(found).toEqual(planted.map((p) => `${p.id}/${p.check}/${p.type}/${severityOf(p.type, p.criticality)}`).sort());
    expect(first.gaps.every((g) => g.change === 'new' && g.count === 1 && g.id.startsWith('gap-'))).toBe(true);
    expect(first.targets.find((x) => x.id === 'web-healthy')?.status).toBe('pass');
    expect(first.targets.find((x) => x.id === 'auditor-queue')?.status).toBe('pass');
    expect(first.recommendations).toHaveLength(planted.length);
    expect(first.status).toBe('unhealthy');
    expect(first.narrative?.text.length).toBeGreaterThan(0);
  });

  it('fix one and audit again: it is resolved by that audit, the others keep their ids and count up', async () => {
    failing = false;
    const second = await audit({ type: 'comprehensive', reason: 'after the fix, paged by jane.doe@example.com' });
    const failingGap = first.gaps.find((g) => g.subject === 'web-failing');
    expect(second.resolved.map((r) => r.id)).toEqual([failingGap?.id]);
    const before = new Map(first.gaps.map((g) => [`${g.subject}/${g.check}`, g]));
    expect(second.gaps).toHaveLength(planted.length - 1);
    for (const g of second.gaps) {
      const was = before.get(`${g.subject}/${g.check}`);
      expect(was?.id, g.subject).toBe(g.id);
      expect(was?.fingerprint).toBe(g.fingerprint);
      expect(g.count).toBe(2);
      expect(g.change).toBe('recurring');
    }
    expect(second.trend).toMatchObject({ previousAuditId: first.auditId, previousScore: first.score, newGaps: 0, resolvedGaps: 1 });
    expect(second.score).toBeGreaterThan(first.score);
    // The reason was redacted before it was stored.
    expect(second.trigger.reason).toBe('after the fix, paged by [EMAIL_1]');
    const trigger = (await t.auditTrail.range()).filter((e) => e.event?.action === 'audit.trigger').at(-1);
    expect(JSON.stringify(trigger?.event)).not.toContain('jane.doe');

    const latest = await json<AuditReport>(await t.call('GET', '/admin/bedrock-support/audit/latest', { role: 'viewer' }));
    expect(latest.auditId).toBe(second.auditId);
    const list = await json<{ count: number; audits: { auditId: string }[] }>(await t.call('GET', '/admin/bedrock-support/audits/last-24h', { role: 'viewer' }));
    expect(list.audits.map((a) => a.auditId)).toEqual([second.auditId, first.auditId]);
  });

  it('a targeted audit probes the named targets only; an unknown id is a 400 naming it', async () => {
    const unknown = await t.call('POST', '/admin/bedrock-support/audit/trigger', { body: { targets: ['web-dns', 'nope'] } });
    expect(unknown.status).toBe(400);
    expect((await json<{ error: { message: string } }>(unknown)).error.message).toContain('"nope"');
    const targeted = await audit({ targets: ['web-dns'] });
    expect(targeted.type).toBe('targeted');
    expect(targeted.targets.map((x) => x.id)).toEqual(['web-dns']);
    // Out of scope: nothing else was resolved.
    expect(targeted.resolved).toEqual([]);
    expect(targeted.gaps.map((g) => g.subject)).toEqual(['web-dns']);
  });

  it('exports each format with its content type and file name', async () => {
    const base = `/admin/bedrock-support/audit/${first.auditId}/export`;
    const asJson = await t.call('GET', base, { role: 'viewer' });
    expect(asJson.headers.get('content-type')).toContain('application/json');
    expect(asJson.headers.get('content-disposition')).toBe(`attachment; filename="${first.auditId}.json"`);
    expect((await json<AuditReport>(asJson)).auditId).toBe(first.auditId);
    const md = await t.call('GET', `${base}?format=markdown`, { role: 'viewer' });
    expect(md.headers.get('content-type')).toContain('text/markdown');
    expect(await md.text()).toContain(first.auditId);
    const html = await t.call('GET', `${base}?format=html`, { role: 'viewer' });
    expect(html.headers.get('content-type')).toContain('text/html');
    expect(await html.text()).toMatch(/^<!doctype html>/i);
    const csv = await t.call('GET', `${base}?format=csv`, { role: 'viewer' });
    expect(csv.headers.get('content-disposition')).toContain('-findings.csv');
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines.length).toBeGreaterThan(planted.length);
    expect((await t.call('GET', `${base}?format=pdf`, { role: 'viewer' })).status).toBe(400);
  });

  it('names unknown audits in 404s', async () => {
    for (const path of ['/admin/bedrock-support/audit/status/audit-nope', '/admin/bedrock-support/audit/audit-nope/details', '/admin/bedrock-support/audit/bogus/export']) {
      const res = await t.call('GET', path, { role: 'viewer' });
      expect(res.status, path).toBe(404);
      expect((await json<{ error: { message: string } }>(res)).error.message).toMatch(/unknown audit/);
    }
  });

  it('says which targets the auditor cannot reach right now, and why', async () => {
    const res = await t.call('GET', '/admin/bedrock-support/audit/permissions', { role: 'viewer' });
    expect(res.status).toBe(200);
    const body = await json<{ targets: { id: string; reachable: boolean; cause: string | null }[] }>(res);
    const cause = Object.fromEntries(body.targets.map((x) => [x.id, x.reachable ? 'reachable' : x.cause]));
    expect(cause).toMatchObject({ 'web-healthy': 'reachable', 'db-port': 'refused', 'web-dns': 'dns', cache: 'reachable' });
  });
});
