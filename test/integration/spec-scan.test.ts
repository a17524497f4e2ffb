/**
 * The spec scan end to end: a temporary spec folder named by a `spec` target of the inventory,
 * scanned by the implementation-support worker through `POST …/implementation/spec-scan`, its gaps
 * in the shared Redis gap store as `GET …/implementation/gaps` shows them; a comprehensive audit
 * enqueues a scan of its own.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { specScanRoutes } from '../../src/api/spec-scan.routes.js';
import type { SpecScanResult } from '../../src/domain/gaps/spec-scan.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/fleet.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support/implementation';
const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

interface GapAnswer {
  id: string;
  subject: string;
  type: string;
  severity: string;
  status: string;
  title: string;
}

let t: TestApp;
let root: string;

const write = async (path: string, text: string) => {
  await mkdir(dirname(join(root, path)), { recursive: true });
  await writeFile(join(root, path), text);
};

const tasks = (parentBox = ' ') =>
  ['# Implementation Plan', '', '- [x] 1. Scaffold `src/orders/index.ts`', `- [${parentBox}] 2. Order history page`, '  - [ ] 2.1 Query orders in `src/orders/history.ts`', '  * [ ] 2.2 Page through results for ops@example.com', ''].join('\n');

/** Starts a scan and waits for its result. */
async function scan(body?: unknown): Promise<SpecScanResult> {
  const res = await t.call('POST', `${base}/spec-scan`, body === undefined ? { role: 'operator' } : { role: 'operator', body });
  expect(res.status).toBe(202);
  const accepted = await json<{ scanId: string; resultUrl: string }>(res);
  expect(accepted.scanId).toMatch(/^spec-scan-/);
  return eventually(async () => {
    const r = await t.call('GET', accepted.resultUrl, { role: 'viewer' });
    return r.status === 200 ? json<SpecScanResult>(r) : null;
  }, 20_000);
}

const specGaps = async (query = '') => (await json<{ gaps: GapAnswer[] }>(await t.call('GET', `${base}/gaps?source=spec${query}`, { role: 'viewer' }))).gaps;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'bsm-spec-it-'));
  await write('src/orders/index.ts', 'export {};\n');
  await write('.kiro/specs/orders/tasks.md', tasks());
  t = await makeTestApp('spec-scan', { workers: ['implementation-support', 'infrastructure-auditor'] });
  // Mounted as app.ts will mount it.
  t.app.route('/admin/bedrock-support', specScanRoutes({ fleet: t.fleet, audit: { inventory: t.adapters.inventory }, auditTrail: t.auditTrail, reports: t.adapters.reports }));
  expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
  for (const component of ['infrastructure-auditor', 'implementation-support']) {
    expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component } })).status).toBe(200);
  }
}, 60_000);

afterAll(async () => {
  await t?.close();
  await rm(root, { recursive: true, force: true });
});

describe('the spec scan', () => {
  it('refuses a scan while the inventory has no spec target, and a spec target without an absolute path, naming the field', async () => {
    expect((await t.call('POST', `${base}/spec-scan`, { role: 'operator' })).status).toBe(409);
    const bad = await t.call('PUT', '/admin/bedrock-support/audit/config', { body: { targets: [{ id: 'orders-specs', kind: 'spec', path: 'relative/dir' }] } });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { message: string; details: { field: string } } }>(bad)).error).toMatchObject({ details: { field: 'targets.0.path' } });
    const put = await t.call('PUT', '/admin/bedrock-support/audit/config', {
      body: {
        targets: [
          { id: 'orders-specs', kind: 'spec', path: root, component: 'orders', criticality: 'critical' },
          { id: 'lost-specs', kind: 'spec', path: join(root, 'no-such-dir') },
          { id: 'auditor-queue', kind: 'queue', component: 'infrastructure-auditor', criticality: 'high', queue: 'infrastructure-auditor' },
        ],
      },
    });
    expect(put.status).toBe(200);
  });

  it('refuses bad input naming the field, and roles that may not', async () => {
    for (const body of [{ targets: 'orders-specs' }, { targets: [] }, { targets: ['auditor-queue'] }, { targets: ['nope'] }]) {
      const res = await t.call('POST', `${base}/spec-scan`, { role: 'operator', body });
      expect(res.status).toBe(400);
      const error = (await json<{ error: { message: string; details: { field?: string; issues?: { path: string }[] } } }>(res)).error;
      expect(error.message.startsWith('targets')).toBe(true);
      expect(error.details.field).toBe('targets');
    }
    const typo = await t.call('POST', `${base}/spec-scan`, { role: 'operator', body: { tragets: ['orders-specs'] } });
    expect(typo.status).toBe(400);
    expect((await json<{ error: { message: string } }>(typo)).error.message).toContain('tragets');
    expect((await t.call('POST', `${base}/spec-scan`, { role: 'viewer' })).status).toBe(403);
    expect((await t.call('GET', `${base}/spec-scan/spec-scan-nope`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${base}/spec-scan/audit-1`, { role: 'viewer' })).status).toBe(404);
  });

  it('a bare POST scans every spec target: open tasks become gaps, a missing directory is reported', async () => {
    const result = await scan();
    expect(result.targets.map((x) => [x.id, x.status])).toEqual([
      ['orders-specs', 'scanned'],
      ['lost-specs', 'unreadable'],
    ]);
    expect(result.targets[0]).toMatchObject({ specsFound: 1, tasks: { open: 3, done: 1 }, problems: [] });
    expect(result.targets[0]?.gaps.opened).toHaveLength(3);
    expect(result.targets[1]?.problems.map((p) => p.kind)).toEqual(['unreadable']);
    const gaps = await specGaps();
    expect(gaps.map((g) => [g.subject, g.type, g.severity]).sort()).toEqual([
      ['orders-specs/orders/Order history page', 'incomplete_feature', 'high'],
      ['orders-specs/orders/Page through results for [EMAIL_1]', 'incomplete_feature', 'high'],
      ['orders-specs/orders/Query orders in `src/orders/history.ts`', 'missing_implementation', 'critical'],
    ]);
    expect(await dumpKeys(t.client, t.prefix)).not.toContain('ops@example.com');
    const trail = (await t.auditTrail.range()).map((e) => e.event?.action);
    expect(trail).toContain('implementation.spec-scan');
    // The gaps the scan opened are in the trail, recorded by implementation support under the scan's id.
    const events = (await t.auditTrail.range()).flatMap((e) => (e.event?.action.startsWith('gap.observe') ? [e.event] : []));
    expect(events.map((e) => [e.action, e.actor, e.target])).toEqual([
      ['gap.observe', 'implementation-support', result.scanId],
      ['gap.observed', 'implementation-support', result.scanId],
    ]);
    expect((events[1]?.details as { opened: string[] }).opened.sort()).toEqual(gaps.map((g) => g.id).sort());
  });

  it('ticking a task and rescanning the named target resolves its gap; the others keep their ids', async () => {
    const before = await specGaps('&open=true');
    await write('.kiro/specs/orders/tasks.md', `<!-- moved down -->\n\n${tasks('x')}`);
    const result = await scan({ targets: ['orders-specs'] });
    expect(result.targets.map((x) => x.id)).toEqual(['orders-specs']);
    const parent = before.find((g) => g.subject === 'orders-specs/orders/Order history page');
    expect(result.targets[0]?.gaps.resolved).toEqual([parent?.id]);
    expect(result.targets[0]?.gaps.recurring.sort()).toEqual(before.filter((g) => g.id !== parent?.id).map((g) => g.id).sort());
    const after = await json<GapAnswer>(await t.call('GET', `${base}/gaps/${parent?.id ?? ''}`, { role: 'viewer' }));
    expect(after.status).toBe('resolved');
    const latest = await json<SpecScanResult>(await t.call('GET', `${base}/spec-scan/latest`, { role: 'viewer' }));
    expect(latest.scanId).toBe(result.scanId);
  });

  it('a comprehensive audit enqueues one spec scan of its own; the spec target itself is only checked for readability', async () => {
    const res = await t.call('POST', '/admin/bedrock-support/audit/trigger', { role: 'operator', body: { type: 'comprehensive' } });
    expect(res.status).toBe(202);
    const { auditId } = await json<{ auditId: string }>(res);
    const scanResult = await eventually(async () => {
      const r = await t.call('GET', `${base}/spec-scan/spec-scan-${auditId}`, { role: 'viewer' });
      return r.status === 200 ? json<SpecScanResult>(r) : null;
    }, 30_000);
    expect(scanResult.trigger.reason).toBe(`comprehensive audit ${auditId}`);
    expect(scanResult.targets.map((x) => x.id)).toEqual(['orders-specs', 'lost-specs']);
    const report = await json<{ targets: { id: string; status: string; reach: { reachable: boolean } }[]; gaps: { subject: string; check: string }[] }>(
      await t.call('GET', `/admin/bedrock-support/audit/${auditId}/details`, { role: 'viewer' }),
    );
    expect(report.targets.find((x) => x.id === 'orders-specs')).toMatchObject({ status: 'pass', reach: { reachable: true } });
    expect(report.targets.find((x) => x.id === 'lost-specs')).toMatchObject({ status: 'fail', reach: { reachable: false } });
    expect(report.gaps.map((g) => `${g.subject}/${g.check}`)).toEqual(['lost-specs/reachable']);
  });
});
