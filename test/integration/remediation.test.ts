/**
 * Remediation end to end: gaps in the shared Redis gap store, `POST …/implementation/remediate` as
 * the runbook writes it, the implementation-support worker applying the action through the
 * catalog on real BullMQ queues and the real flag service, the gap checked again and resolved or
 * failed, approvals under the two-person rule, a rollback, and the activities with their rates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GapSighting } from '../../src/domain/gaps/gap.js';
import type { RemediationRequest } from '../../src/domain/implementation/remediation.js';
import { failingJobs, failureClustersOf } from '../helpers/actions.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/fleet.js';
import { fakeService } from '../helpers/http-service.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support/implementation';
type Json = Record<string, unknown>;
const json = async <T = Json>(res: Response): Promise<T> => (await res.json()) as T;

let t: TestApp;
let jobs: ReturnType<typeof failingJobs>;

async function observe(sighting: GapSighting): Promise<string> {
  const seen = await t.adapters.gaps.observe({ source: sighting.source, runId: 'test-run', at: new Date(), scope: [] }, [sighting]);
  const gap = [...seen.opened, ...seen.reopened, ...seen.recurring][0];
  if (!gap) {
    throw new Error('no gap');
  }
  return gap.id;
}

const gapStatus = async (id: string) => (await t.adapters.gaps.get(id))?.status;
const request = async (id: string) => json<RemediationRequest>(await t.call('GET', `${base}/approvals/${id}`, { role: 'viewer' }));
const finished = (id: string) =>
  eventually(async () => {
    const r = await request(id);
    return r.status === 'verified' || r.status === 'failed' ? r : null;
  }, 20_000);
const trail = async (action: string) => (await t.auditTrail.range()).flatMap((e) => (e.event?.action === action ? [e.event] : []));

beforeAll(async () => {
  t = await makeTestApp('remediation', { workers: ['implementation-support'] });
  jobs = failingJobs(t);
  expect((await t.call('POST', '/admin/bedrock-support/enable')).status).toBe(200);
  expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'implementation-support' } })).status).toBe(200);
  const put = await t.call('PUT', '/admin/bedrock-support/audit/config', {
    body: {
      targets: [
        { id: 'narratives-off', kind: 'feature-flag', component: 'llm', criticality: 'high', flag: 'llm-narratives', expected: false },
        { id: 'auditor-queue', kind: 'queue', component: 'auditor', criticality: 'high', queue: 'infrastructure-auditor' },
      ],
    },
  });
  expect(put.status).toBe(200);
}, 60_000);

afterAll(async () => {
  await jobs?.close();
  await t?.close();
});

describe('remediation requests', () => {
  it('refuses what cannot be remediated, naming the field: no body, an unknown gap, an action not suggested, a spec task', async () => {
    const bare = await t.call('POST', `${base}/remediate`, { role: 'operator' });
    expect(bare.status).toBe(400);
    expect((await json<{ error: Json }>(bare)).error).toMatchObject({ message: 'gap_id is required', details: { field: 'gap_id' } });
    const unknown = await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: 'gap-0000000000000000' } });
    expect(unknown.status).toBe(404);
    expect((await json<{ error: Json }>(unknown)).error.message).toContain('gap-0000000000000000');

    const flagGap = await observe({
      source: 'audit',
      subject: 'narratives-off',
      check: 'value',
      type: 'configuration_drift',
      severity: 'medium',
      title: 'narratives-off: llm-narratives is off',
      components: ['llm'],
      evidence: { expected: 'off', observed: 'on' },
    });
    const wrong = await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: flagGap, auto_resolve: true, action: 'queue.clean' } });
    expect(wrong.status).toBe(400);
    expect((await json<{ error: Json }>(wrong)).error).toMatchObject({ details: { field: 'action' }, message: expect.stringContaining('feature-flag, audit.rerun') as unknown });
    expect(await gapStatus(flagGap)).toBe('detected');

    const specGap = await observe({
      source: 'spec',
      subject: 'specs:orders:tasks.md:4',
      check: 'task',
      type: 'incomplete_feature',
      severity: 'low',
      title: 'orders: 2. Order history page',
      components: ['specs'],
      evidence: { expected: 'ticked', observed: 'open' },
    });
    const none = await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: specGap, auto_resolve: true } });
    expect(none.status).toBe(409);
    expect((await json<{ error: Json }>(none)).error.message).toContain(`${base}/gaps/${specGap}/guidance`);
    // Viewers read, operators request.
    expect((await t.call('POST', `${base}/remediate`, { role: 'viewer', body: { gap_id: flagGap } })).status).toBe(403);
  });

  it('auto_resolve false plans only: the gap is remediation_suggested, nothing runs', async () => {
    const gapId = await observe({
      source: 'audit',
      subject: 'auditor-queue',
      check: 'workers',
      type: 'broken_integration',
      severity: 'high',
      title: 'auditor-queue: the infrastructure-auditor queue has at least 1 live worker',
      components: ['auditor'],
      evidence: { expected: '>= 1', observed: '0 workers (queue paused)' },
    });
    const listed = await json<{ suggestions: Json[] }>(await t.call('GET', `${base}/gaps/${gapId}/remediations`, { role: 'viewer' }));
    expect(listed.suggestions.map((s) => [s.key, s.risk])).toEqual([
      ['component.active', 'medium'],
      ['audit.rerun', 'low'],
    ]);
    const res = await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: gapId, auto_resolve: false, priority: 'low' } });
    expect(res.status).toBe(202);
    const { request: r } = await json<{ request: RemediationRequest }>(res);
    expect(r).toMatchObject({ status: 'suggested', suggestion: 'component.active', action: { kind: 'component.active', component: 'infrastructure-auditor', active: true }, risk: 'medium', needsApproval: true });
    expect(r.changes).toEqual([{ target: 'component:infrastructure-auditor:active', from: false, to: true }]);
    expect(await gapStatus(gapId)).toBe('remediation_suggested');
    expect((await t.supportMode.read()).components['infrastructure-auditor']).toMatchObject({ active: false });
  });

  it('a low-risk action runs at once: failed jobs of a failure cluster retried to completion, the gap resolved', async () => {
    await jobs.worker('compliance');
    const ids = await jobs.plant('compliance', ['db-17.internal:5432', 'db-3.internal:5432', 'db-42.internal:6432'].map((host) => `connection refused by ${host}`));
    const [cluster] = await failureClustersOf(t.fleet.queue('compliance'), 'compliance');
    expect(cluster?.count).toBe(3);
    const gapId = await observe({
      source: 'meta-monitor',
      subject: `fleet:cluster:${cluster?.id ?? ''}`,
      check: 'failure_cluster',
      type: 'broken_integration',
      severity: 'high',
      title: `100 % of the failures in compliance/remediation-test: "${cluster?.template ?? ''}"`,
      components: ['compliance'],
      evidence: { expected: 'no failure cluster above 20 % of the failures', observed: '3 of 3 failures (100 %)' },
    });
    jobs.fix();

    // The runbook's command, with a note carrying personal data.
    const res = await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: gapId, auto_resolve: true, priority: 'high', note: 'paged by ops.lead@example.com, +49 170 1234567' } });
    expect(res.status).toBe(202);
    const { request: r, warning } = await json<{ request: RemediationRequest; warning: string | null }>(res);
    expect(warning).toBeNull();
    expect(r).toMatchObject({ status: 'queued', risk: 'low', needsApproval: false, action: { kind: 'queue.retry-failed', queue: 'compliance', clusterId: cluster?.id } });
    expect(r.note).not.toContain('ops.lead@example.com');

    const done = await finished(r.id);
    expect(done.status).toBe('verified');
    expect(done.application).toMatchObject({ status: 'applied', changed: true, verification: { verified: true } });
    expect(done.gapCheck).toMatchObject({ checked: false, passed: null });
    expect(done.rollback).toMatchObject({ available: false });
    expect(done.events.map((e) => e.event)).toEqual(['requested', 'queued', 'applying', 'applied', 'verified']);
    await eventually(async () => (await Promise.all(ids.map((id) => t.fleet.queue('compliance').getJobState(id)))).every((s) => s === 'completed'));
    const gap = await t.adapters.gaps.get(gapId);
    expect(gap).toMatchObject({ status: 'resolved', resolvedBy: r.id });
    expect(gap?.history.map((h) => h.to)).toEqual(['detected', 'auto_resolving', 'resolved']);

    // Audited: the request, the catalog's apply, the verdict; the note redacted everywhere.
    expect(await trail('remediation.request')).toContainEqual(expect.objectContaining({ actor: 'operator-key', target: r.id }));
    expect((await trail('action.apply')).some((e) => (e.details as Json).cause === r.id)).toBe(true);
    expect(await trail('remediation.verified')).toContainEqual(expect.objectContaining({ target: r.id }));
    const dump = await dumpKeys(t.client, t.prefix);
    expect(dump).not.toContain('ops.lead@example.com');
    expect(dump).not.toContain('170 1234567');
  });

  it('a medium-risk action waits for a second person: self-approval refused, the approver decides, the flag set, the target probed again, then rolled back', async () => {
    const gapId = (await t.adapters.gaps.list({ source: 'audit', subject: 'narratives-off' }))[0]?.id ?? '';
    expect(await t.call('POST', '/admin/feature-flags/llm-narratives/enable', { role: 'admin' })).toMatchObject({ status: 200 });

    // An admin may approve, but not what it requested itself.
    const own = await json<{ request: RemediationRequest }>(await t.call('POST', `${base}/remediate`, { role: 'admin', body: { gap_id: gapId, auto_resolve: true } }));
    expect(own.request).toMatchObject({ status: 'awaiting_approval', risk: 'medium', action: { kind: 'feature-flag', flag: 'llm-narratives', enabled: false } });
    expect(await gapStatus(gapId)).toBe('awaiting_approval');
    const self = await t.call('POST', `${base}/approvals/${own.request.id}`, { role: 'admin', body: { decision: 'approve' } });
    expect(self.status).toBe(403);
    expect((await json<{ error: Json }>(self)).error.message).toContain('two-person rule');
    // One pending request per gap.
    expect((await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: gapId, auto_resolve: true } })).status).toBe(409);
    const waiting = await json<{ requests: RemediationRequest[] }>(await t.call('GET', `${base}/approvals`, { role: 'viewer' }));
    expect(waiting.requests.map((x) => x.id)).toContain(own.request.id);
    expect((await t.call('POST', `${base}/approvals/${own.request.id}`, { role: 'operator', body: { decision: 'approve' } })).status).toBe(403);
    const bad = await t.call('POST', `${base}/approvals/${own.request.id}`, { role: 'approver', body: { decision: 'maybe' } });
    expect(bad.status).toBe(400);

    const approved = await t.call('POST', `${base}/approvals/${own.request.id}`, { role: 'approver', body: { decision: 'approve', reason: 'narratives cost too much this week' } });
    expect(approved.status).toBe(200);
    expect(await json(approved)).toMatchObject({ status: 'queued', approval: { decision: 'approved', by: 'approver-key', twoPersonRule: 'kept' } });
    expect((await t.call('POST', `${base}/approvals/${own.request.id}`, { role: 'approver', body: { decision: 'reject' } })).status).toBe(409);

    const done = await finished(own.request.id);
    expect(done.status).toBe('verified');
    expect(await t.adapters.featureFlags.enabled('llm-narratives')).toBe(false);
    // The flag target was probed again through the auditor's prober.
    expect(done.gapCheck).toMatchObject({ checked: true, passed: true });
    expect(await gapStatus(gapId)).toBe('resolved');
    expect(done.rollback).toMatchObject({ available: true, how: expect.stringContaining(`/approvals/${own.request.id}/rollback`) as unknown });

    // Rolled back by an approver: the flag is on again and the gap open.
    expect((await t.call('POST', `${base}/approvals/${own.request.id}/rollback`, { role: 'operator' })).status).toBe(403);
    const rolled = await t.call('POST', `${base}/approvals/${own.request.id}/rollback`, { role: 'approver' });
    expect(rolled.status).toBe(200);
    expect(await json(rolled)).toMatchObject({ rolledBack: { by: 'approver-key', verified: true } });
    expect(await t.adapters.featureFlags.enabled('llm-narratives')).toBe(true);
    expect(await gapStatus(gapId)).toBe('detected');
    expect((await t.call('POST', `${base}/approvals/${own.request.id}/rollback`, { role: 'approver' })).status).toBe(409);
  });

  it('a rejected request leaves the gap suggested; the activities list what happened and the auto-resolution rate', async () => {
    const gapId = (await t.adapters.gaps.list({ source: 'audit', subject: 'narratives-off' }))[0]?.id ?? '';
    const asked = await json<{ request: RemediationRequest }>(await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: gapId, auto_resolve: true } }));
    const rejected = await t.call('POST', `${base}/approvals/${asked.request.id}`, { role: 'approver', body: { decision: 'reject', reason: 'we keep narratives on' } });
    expect(await json(rejected)).toMatchObject({ status: 'rejected', outcome: 'rejected by approver-key: we keep narratives on' });
    expect(await gapStatus(gapId)).toBe('remediation_suggested');

    const res = await t.call('GET', `${base}/activities`, { role: 'viewer' });
    expect(res.status).toBe(200);
    const a = await json<{ counts: Record<string, number>; events: Json[]; autoResolution: Record<string, Json>; awaitingApproval: number }>(res);
    expect(a.counts).toMatchObject({ suggested: 1, requested: 3, approved: 1, rejected: 1, verified: 2, failed: 0, rolled_back: 1 });
    expect(a.autoResolution['24h']).toEqual({ attempted: 2, verified: 2, failed: 0, rate: 1, meetsTarget: true });
    expect(a.autoResolution).toMatchObject({ target: 0.7 });
    expect(a.awaitingApproval).toBe(0);
    expect(a.events[0]).toMatchObject({ event: 'rejected', requestId: asked.request.id, gapId });
    const later = await t.call('GET', `${base}/activities?since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { role: 'viewer' });
    expect((await json<{ events: Json[] }>(later)).events).toEqual([]);
    const badSince = await t.call('GET', `${base}/activities?since=yesterday`, { role: 'viewer' });
    expect(badSince.status).toBe(400);
    expect((await json<{ error: Json }>(badSince)).error).toMatchObject({ details: { field: 'since' } });
  });

  it('an HTTP action that answers wrongly fails honestly and says why; answered right, the target probed again passes and the gap resolves', async () => {
    const api = await fakeService({ status: 503, body: 'down', type: 'text/plain' });
    const hook = await fakeService({ status: 500, body: JSON.stringify({ error: 'restart failed: disk full on node ops.lead@example.com' }), type: 'application/json' });
    try {
      const put = await t.call('PUT', '/admin/bedrock-support/audit/config', {
        body: {
          targets: [{ id: 'api', kind: 'http', component: 'api', criticality: 'critical', url: `http://127.0.0.1:${api.port}/health` }],
          actions: [{ id: 'restart-api', component: 'api', url: `http://127.0.0.1:${hook.port}/restart`, risk: 'low', expectStatus: 202, expectJson: { status: 'restarted' }, targets: ['api'] }],
        },
      });
      expect(put.status).toBe(200);
      const gapId = await observe({
        source: 'audit',
        subject: 'api',
        check: 'status',
        type: 'broken_integration',
        severity: 'critical',
        title: 'api: answers 200',
        components: ['api'],
        evidence: { expected: '200', observed: '503' },
      });
      const listed = await json<{ suggestions: Json[] }>(await t.call('GET', `${base}/gaps/${gapId}/remediations`, { role: 'viewer' }));
      expect(listed.suggestions.map((x) => [x.key, x.risk])).toEqual([
        ['http.hook:restart-api', 'low'],
        ['audit.rerun', 'low'],
      ]);

      const first = await json<{ request: RemediationRequest }>(await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: gapId, auto_resolve: true, action: 'http.hook:restart-api' } }));
      const failed = await finished(first.request.id);
      expect(failed.status).toBe('failed');
      expect(failed.application).toMatchObject({ status: 'applied', verification: { verified: false } });
      expect(failed.outcome).toContain('did not read back as asked');
      expect(failed.outcome).toContain('500');
      expect(failed.outcome).not.toContain('ops.lead@example.com');
      expect(failed.gapCheck).toBeNull();
      expect(hook.received).toHaveLength(1);
      expect(await gapStatus(gapId)).toBe('failed');
      expect(await trail('remediation.failed')).toContainEqual(expect.objectContaining({ target: first.request.id }));

      // Fixed: the hook restarts the service, which answers 200 again; the same gap is remediated once more.
      hook.answer = { status: 202, body: JSON.stringify({ status: 'restarted' }), type: 'application/json' };
      api.answer = { status: 200, body: 'ok', type: 'text/plain' };
      const second = await json<{ request: RemediationRequest }>(await t.call('POST', `${base}/remediate`, { role: 'operator', body: { gap_id: gapId, auto_resolve: true } }));
      const verified = await finished(second.request.id);
      expect(verified.status).toBe('verified');
      expect(verified.gapCheck).toMatchObject({ checked: true, passed: true });
      expect(api.received.length).toBeGreaterThanOrEqual(1);
      expect(await t.adapters.gaps.get(gapId)).toMatchObject({ status: 'resolved', resolvedBy: second.request.id });

      const a = await json<{ autoResolution: Record<string, Json> }>(await t.call('GET', `${base}/activities`, { role: 'viewer' }));
      expect(a.autoResolution['7d']).toEqual({ attempted: 4, verified: 3, failed: 1, rate: 0.75, meetsTarget: true });
    } finally {
      await Promise.all([api.close(), hook.close()]);
    }
  });
});
