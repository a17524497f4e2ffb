import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { dumpKeys } from '../helpers/redis.js';

const pii = ['jane.doe@example.com', '+49 30 1234567', 'DE89370400440532013000', '4111 1111 1111 1111', 'wJalrXUtnFEMI'];
const reason = `Paged by ${pii[0]} (${pii[1]}); refund ${pii[2]}, card ${pii[3]}; aws_secret_access_key=${pii[4]}/K7MDENG/bPxRfiCYEXAMPLEKEY`;

describe('free text a caller sends is redacted before it is stored anywhere', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('free-text');
  });

  afterAll(async () => {
    await t.close();
  });

  it('reasons and the initiator of lifecycle, flag and emergency requests reach neither Redis nor /status', async () => {
    expect((await t.call('POST', '/admin/feature-flags/bedrock-support/enable', { body: { reason } })).status).toBe(200);
    expect((await t.call('POST', '/admin/bedrock-support/activate', { body: { components: ['all'], reason } })).status).toBe(200);
    const shutdown = await t.call('POST', '/admin/bedrock-support/emergency/shutdown', { body: { reason, initiated_by: `Jane <${pii[0]}>`, immediate: true } });
    expect(shutdown.status).toBe(200);

    const stored = await dumpKeys(t.client, t.prefix);
    const status = await (await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).text();
    for (const value of pii) {
      expect(stored).not.toContain(value);
      expect(status).not.toContain(value);
    }
    // The redacted words are still there for an operator to read.
    expect(status).toContain('Paged by [EMAIL_1] ([PHONE_1])');
    const emergency = (await t.auditTrail.range()).find((e) => e.event?.action === 'support-mode.emergency');
    expect(emergency?.event?.details).toMatchObject({ command: { initiatedBy: 'Jane <[EMAIL_1]>' } });
  });

  it('public health answers give the status and a reason code, never the emergency reason or its initiator', async () => {
    const words = ['Paged by', 'refund', 'Jane', '[EMAIL_1]'];
    for (const path of ['/health', '/health/detailed', '/health/bedrock-support', '/health/bedrock-support/detailed', '/health/meta-monitor', '/health/component/compliance']) {
      const res = await t.call('GET', path, { role: null });
      expect(res.status, path).toBe(200);
      const body = await res.text();
      for (const w of [...words, ...pii]) {
        expect(body, `${path} shows ${w}`).not.toContain(w);
      }
      expect(body, path).toContain('"status":"unhealthy"');
    }
    const one = (await (await t.call('GET', '/health/meta-monitor', { role: null })).json()) as { signals: { inactive?: { code: string; reason: string } } };
    expect(one.signals.inactive).toMatchObject({ code: 'emergency_shutdown', reason: expect.stringContaining('GET /admin/bedrock-support/status') as unknown });
  });
});

describe('a change whose audit entry cannot be written does not stand', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('audit-or-nothing');
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers 503 and leaves the state as it was; an emergency shutdown stands and its entry is written once the trail takes it', async () => {
    const streamKey = `${t.prefix}:audit-trail`;
    const before = await t.supportMode.read();
    // A stream key of the wrong type: every append fails, as it would on a full or broken Redis.
    await t.client.set(streamKey, 'not a stream');
    const refused = await t.call('POST', '/admin/bedrock-support/enable', { body: { active: true, reason: 'go' } });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('audit_unavailable');
    expect(await t.supportMode.read()).toEqual(before);
    expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(true);

    const shutdown = await t.call('POST', '/admin/bedrock-support/emergency/shutdown', { body: { reason: 'stop everything', initiated_by: 'alice', immediate: false } });
    expect(shutdown.status).toBe(200);
    expect(((await (await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).json()) as { status: string }).status).toBe('emergency');
    // The team hears of it all the same: the emergency's alert is raised (listed, its notification due).
    const alerts = (await (await t.call('GET', '/admin/bedrock-support/alerts?level=P0', { role: 'viewer' })).json()) as { alerts: { rule: string; state: string }[] };
    expect(alerts.alerts).toEqual([expect.objectContaining({ rule: 'support-mode.emergency-shutdown', state: 'firing' })]);
    // The trail is back: the retried entries land.
    await t.client.del(streamKey);
    await expect.poll(async () => (await t.auditTrail.range()).map((e) => e.event?.action), { timeout: 10_000, interval: 100 }).toEqual(expect.arrayContaining(['support-mode.emergency', 'alert.raise']));
  });
});

describe('changes made from Bull Board and canaries are recorded before they are made', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('audit-first', { workers: ['compliance'] });
  });

  afterAll(async () => {
    await t.close();
  });

  const actions = async () => (await t.auditTrail.range()).map((e) => e.event?.action);

  it('with the trail broken a board action and a canary answer 503 and change nothing; with it back they are recorded and done', async () => {
    const queue = t.fleet.queue('compliance');
    const delayed = await queue.add('canary', { requestedBy: 'test' }, { delay: 600_000 });
    const streamKey = `${t.prefix}:audit-trail`;
    await t.client.set(streamKey, 'not a stream');

    const promote = await t.call('PUT', `/admin/queues/api/queues/compliance/${delayed.id}/promote`);
    expect(promote.status).toBe(503);
    // In the board's own shape, so its toast says why.
    expect(await promote.json()).toMatchObject({ error: 'Not recorded, not done', code: 'audit_unavailable' });
    expect(await queue.getJobState(delayed.id as string)).toBe('delayed');

    const canary = await t.call('POST', '/test/bedrock-support/compliance');
    expect(canary.status).toBe(503);
    expect(((await canary.json()) as { error: { code: string } }).error.code).toBe('audit_unavailable');
    expect(await queue.getJobCounts('waiting', 'active', 'completed', 'prioritized')).toEqual({ waiting: 0, active: 0, completed: 0, prioritized: 0 });

    await t.client.del(streamKey);
    expect((await t.call('PUT', `/admin/queues/api/queues/compliance/${delayed.id}/promote`)).status).toBe(204);
    expect((await t.call('POST', '/test/bedrock-support/compliance')).status).toBe(200);
    const entries = await t.auditTrail.range();
    const board = entries.find((e) => e.event?.action === 'queue.board');
    expect(board?.event).toMatchObject({ actor: 'admin-key', target: 'compliance', details: { route: `/${delayed.id}/promote`, queue: 'compliance', jobId: delayed.id } });
    expect(await actions()).toContain('component.test');
  });

  it('a board request the board refuses without a change (no such job) writes no entry', async () => {
    const before = (await actions()).length;
    for (const [method, path] of [
      ['PUT', '/admin/queues/api/queues/compliance/no-such-job/retry'],
      ['PATCH', '/admin/queues/api/queues/compliance/no-such-job/promote'],
      ['PUT', '/admin/queues/api/queues/no-such-queue/promote'],
    ] as const) {
      expect((await t.call(method, path)).status, `${method} ${path}`).toBeGreaterThanOrEqual(400);
    }
    expect((await actions()).length).toBe(before);
  });
});
