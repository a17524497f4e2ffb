import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { alertIdOf, reconcile, type Alert } from '../../src/domain/alerts/alert.js';
import { alertRetention, createAlertStore } from '../../src/store/alerts.store.js';
import { alertEvaluationJob } from '../../src/jobs/bedrock-support/alert-evaluation.job.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import { composeAdapters, type Adapters } from '../../src/runtime/compose.js';
import { createControlChannel } from '../../src/store/control-channel.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';
import { startWebhookFake, type WebhookFake, type WebhookRequest } from '../fakes/webhook-fake.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { eventually, makeTestFleet, startTestRunner, type TestFleet } from '../helpers/fleet.js';
import { dumpKeys } from '../helpers/redis.js';
import type { Runner } from '../../src/workers/runner.js';
import type { Fleet } from '../../src/queues/fleet.js';

const alertsPath = '/admin/bedrock-support/alerts';
const components: QueueName[] = ['infrastructure-auditor', 'meta-monitor', 'implementation-support'];

interface Evaluated {
  firing: { id: string; rule: string; subject: string; level: string; detail: string }[];
  fired: string[];
  resolved: string[];
  autoShutdown: { rule: string; subject: string; initiatedBy: string; changed: boolean } | null;
}

/** Runs one alert evaluation through the bedrock-support queue and its worker; its result. */
async function evaluate(fleet: Fleet): Promise<Evaluated> {
  const job = await fleet.add('bedrock-support', 'alert-evaluation', {});
  const done = await fleet.waitForFinish('bedrock-support', job.id ?? '', 20_000);
  expect(done?.failedReason).toBeUndefined();
  return done?.returnvalue as Evaluated;
}

/** The notification job of one event of one firing, once it finished. */
async function finishedDelivery(fleet: Fleet, alertId: string, firing: number, event: string) {
  const job = await eventually(async () => {
    const j = await fleet.queue('bedrock-support').getJob(`alert-notify.${alertId}.${firing}.${event}`);
    return j?.finishedOn !== undefined ? j : null;
  }, 20_000);
  return job;
}

/** The posts about one alert and event (generic JSON bodies, or Slack ones naming the alert id). */
function posts(requests: readonly WebhookRequest[], path: string, alertId: string, event: string): WebhookRequest[] {
  return requests.filter((r) => {
    if (r.path !== path) {
      return false;
    }
    const body = r.body as { event?: string; alert?: { id: string }; text?: string; blocks?: unknown[] };
    if (body.alert) {
      return body.alert.id === alertId && body.event === event;
    }
    const words = { firing: 'FIRING', resolved: 'RESOLVED', escalation: 'ESCALATED' }[event] ?? event;
    return JSON.stringify(body.blocks).includes(alertId) && (body.text ?? '').includes(words);
  });
}

/** A job of a component that fails at once, for good: a payload no retry can fix. */
async function failingJob(fleet: Fleet, queue: QueueName) {
  const job = await fleet.queue(queue).add('canary', { holdMs: -1 }, { priority: 5 });
  expect(await (await fleet.waitForFinish(queue, job.id ?? '', 20_000))?.getState()).toBe('failed');
}

async function succeedingJob(fleet: Fleet, queue: QueueName) {
  const job = await fleet.add(queue as 'meta-monitor', 'canary', {});
  expect(await (await fleet.waitForFinish(queue, job.id ?? '', 20_000))?.getState()).toBe('completed');
}

/** Rewrites the audit-trail stream (streams cannot be edited in place), changing entries' JSON with `change`. */
async function rewriteTrail(t: TestFleet, change: (json: string, index: number) => string): Promise<void> {
  const key = `${t.prefix}:audit-trail`;
  const all = await t.client.xrange(key, '-', '+');
  const multi = t.client.multi().del(key);
  for (const [i, [id, f]] of all.entries()) {
    multi.xadd(key, id, 'json', change(f[1] ?? '', i), 'hash', f[3] ?? '');
  }
  await multi.exec();
}

let hook: WebhookFake;

beforeAll(async () => {
  hook = await startWebhookFake();
});

afterAll(async () => {
  await hook.close();
});

describe('alerts: lifecycle, notifications, escalation', () => {
  let t: TestApp;

  /** Support mode active; workers on every queue but meta-monitor (which then fails its health check). */
  const start = async (env: Record<string, string> = {}) => {
    hook.reset();
    t = await makeTestApp('alerts', {
      workers: ['bedrock-support', 'infrastructure-auditor', 'implementation-support', 'compliance'],
      env: {
        ALERT_WEBHOOK_URL: `${hook.url}/main`,
        ALERT_ESCALATION_WEBHOOK_URL: `${hook.url}/escalation`,
        BSM_ALERT_WEBHOOK_FORMAT: 'json',
        BSM_ALERT_NOTIFY_BACKOFF_MS: '100',
        BSM_ALERT_NOTIFY_ATTEMPTS: '4',
        BSM_ALERT_ESCALATE_P1_MS: '4000',
        ...env,
      },
    });
    await t.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    await eventually(async () => (await Promise.all(['bedrock-support', 'infrastructure-auditor', 'implementation-support', 'compliance'].map(async (q) => (await t.queueState(q as QueueName)).workers.count))).every((n) => n === 1));
  };

  afterEach(async () => {
    await t.close();
  });

  it('a component without a worker: each alert fires once across evaluations, reaches the webhook, is acknowledged, escalates once when nobody acknowledges it, and resolves with a notification when a worker comes', async () => {
    await start();
    // Work waits on meta-monitor, which has no worker: the health rule and the fleet rule both fire (P1).
    await t.fleet.add('meta-monitor', 'canary', {});
    const unhealthy = alertIdOf('component.unhealthy', 'meta-monitor');
    const noWorker = alertIdOf('queue.no-worker', 'meta-monitor');
    const first = await evaluate(t.fleet);
    expect(first.fired.sort()).toEqual([unhealthy, noWorker].sort());
    // One of them is acknowledged at once, with a note carrying personal data; a bare POST acknowledges too (below).
    const ack = await t.call('POST', `${alertsPath}/${unhealthy}/ack`, { role: 'operator', body: { note: 'on it, ask jane.doe@example.com' } });
    expect(ack.status).toBe(200);
    const acked = (await ack.json()) as { state: string; acknowledged: { by: string; note: string } };
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'operator-key' } });
    expect(acked.acknowledged.note).toMatch(/^on it, ask \S+$/);
    expect(acked.acknowledged.note).not.toContain('jane.doe@example.com');

    const second = await evaluate(t.fleet);
    expect(second.fired).toEqual([]);
    expect(second.firing.map((f) => f.id)).toEqual(expect.arrayContaining([unhealthy, noWorker]));

    // Each reached the webhook once: the delivery of each firing is one job, asked for again by every evaluation.
    for (const id of [unhealthy, noWorker]) {
      const delivery = await finishedDelivery(t.fleet, id, 1, 'firing');
      expect(delivery.returnvalue).toMatchObject({ delivered: true });
      expect(posts(hook.requests, '/main', id, 'firing')).toHaveLength(1);
    }
    const body = posts(hook.requests, '/main', noWorker, 'firing')[0]?.body;
    expect(body).toEqual({
      event: 'firing',
      alert: expect.objectContaining({ id: noWorker, rule: 'queue.no-worker', subject: 'meta-monitor', level: 'P1', state: 'firing', firings: 1, detail: '1 waiting, 0 workers' }) as unknown,
    });

    // The list and one alert, as a viewer reads them.
    const list = (await (await t.call('GET', `${alertsPath}?state=firing&level=P1`, { role: 'viewer' })).json()) as { alerts: { id: string }[]; counts: Record<string, number> };
    expect(list.alerts.map((a) => a.id)).toContain(noWorker);
    expect(list.alerts.map((a) => a.id)).not.toContain(unhealthy);
    expect(list.counts.acknowledged).toBe(1);

    // Nobody acknowledged the other one: after the (shortened) P1 delay it goes to the escalation webhook, once.
    await hook.waitFor((rs) => posts(rs, '/escalation', noWorker, 'escalation').length === 1, 20_000);
    expect((await finishedDelivery(t.fleet, unhealthy, 1, 'escalation')).returnvalue).toMatchObject({ delivered: false, skipped: 'acknowledged' });
    await evaluate(t.fleet);
    expect(hook.requests.filter((r) => r.path === '/escalation').map((r) => (r.body as { alert: { id: string } }).alert.id)).toEqual([noWorker]);
    const bare = await t.call('POST', `${alertsPath}/${noWorker}/ack`, { role: 'operator' });
    expect(bare.status).toBe(200);
    expect(await bare.json()).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'operator-key', note: null } });

    // Twice is a conflict; an unknown id is named.
    const twice = await t.call('POST', `${alertsPath}/${unhealthy}/ack`, { role: 'operator' });
    expect(twice.status).toBe(409);
    expect(((await twice.json()) as { error: { code: string } }).error.code).toBe('conflict');
    const unknown = await t.call('POST', `${alertsPath}/alert-0000000000000000/ack`, { role: 'operator' });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { error: { message: string } }).error.message).toBe('no alert alert-0000000000000000');
    expect((await t.call('GET', `${alertsPath}/alert-0000000000000000`, { role: 'viewer' })).status).toBe(404);

    // A worker comes: the canary runs, the queue is healthy, both alerts resolve, each with a notification.
    const late: Runner = startTestRunner(t, ['meta-monitor']);
    try {
      await eventually(async () => {
        const q = await t.queueState('meta-monitor');
        return q.workers.count === 1 && q.counts.waiting + q.counts.prioritized + q.counts.active === 0;
      });
      const third = await evaluate(t.fleet);
      expect(third.resolved.sort()).toEqual([unhealthy, noWorker].sort());
      await hook.waitFor((rs) => [unhealthy, noWorker].every((id) => posts(rs, '/main', id, 'resolved').length === 1));
      const resolvedAck = await t.call('POST', `${alertsPath}/${unhealthy}/ack`, { role: 'operator' });
      expect(resolvedAck.status).toBe(409);
      const detail = (await (await t.call('GET', `${alertsPath}/${unhealthy}`, { role: 'viewer' })).json()) as { state: string; history: { from: string | null; to: string; by: string }[]; notified: Record<string, string | null> };
      expect(detail.state).toBe('resolved');
      expect(detail.history.map((h) => [h.from, h.to, h.by])).toEqual([
        ['acknowledged', 'resolved', 'alert-evaluation'],
        ['firing', 'acknowledged', 'operator-key'],
        [null, 'firing', 'alert-evaluation'],
      ]);
      await eventually(async () => ((await (await t.call('GET', `${alertsPath}/${unhealthy}`, { role: 'viewer' })).json()) as typeof detail).notified.resolved !== null);
    } finally {
      await late.close();
    }

    // Every change was in the audit trail, and no raw personal data reached Redis.
    const actions = (await t.auditTrail.range()).map((e) => [e.event?.action, e.event?.target]);
    expect(actions).toEqual(expect.arrayContaining([['alert.evaluate', 'alerts'], ['alert.acknowledge', unhealthy], ['alert.acknowledge', noWorker]]));
    expect(await dumpKeys(t.client, t.prefix)).not.toContain('jane.doe@example.com');
  });

  it("a job that runs more than 50 % slower than in the 15 minutes before is a P1, measured from the queue's finished jobs; it resolves when the job is quick again", async () => {
    await start({ BSM_ALERT_DEGRADATION_MIN_P95_MS: '0' });
    const workers = startTestRunner(t, ['meta-monitor']);
    const realClock = t.adapters.jobDeps.clock;
    try {
      await eventually(async () => (await t.queueState('meta-monitor')).workers.count === 1);
      const batch = async (holdMs: number) => {
        const jobs = await Promise.all(Array.from({ length: 20 }, () => t.fleet.add('meta-monitor', 'canary', { holdMs })));
        for (const job of jobs) {
          expect(await (await t.fleet.waitForFinish('meta-monitor', job.id ?? '', 20_000))?.getState()).toBe('completed');
        }
        return Date.now();
      };
      // The evaluation's clock is set 15 minutes past the end of a batch: that batch is "the 15 minutes before", what follows "the last 15".
      const quickUntil = await batch(10);
      const slowUntil = await batch(100);
      t.adapters.jobDeps.clock = () => new Date(quickUntil + 15 * 60_000 + 1);
      const id = alertIdOf('performance.degradation.p1', 'meta-monitor/canary');
      const slow = await evaluate(t.fleet);
      expect(slow.fired).toContain(id);
      expect(slow.firing.find((f) => f.id === id)?.detail).toMatch(/^job run-time p95 \d+(\.\d)? ms over the last 15 min \(20 jobs\) against \d+(\.\d)? ms before \(20 jobs\): \+\d+(\.\d)? %$/);
      await hook.waitFor((rs) => posts(rs, '/main', id, 'firing').length === 1);

      await batch(10);
      t.adapters.jobDeps.clock = () => new Date(slowUntil + 15 * 60_000 + 1);
      expect((await evaluate(t.fleet)).resolved).toContain(id);
      await hook.waitFor((rs) => posts(rs, '/main', id, 'resolved').length === 1);
    } finally {
      t.adapters.jobDeps.clock = realClock;
      await workers.close();
    }
  });

  it('a webhook that answers 500 gets the delivery again until it takes it; a 400 is not retried', async () => {
    await start();
    hook.answer('/main', 500, 500);
    const unhealthy = alertIdOf('component.unhealthy', 'meta-monitor');
    expect((await evaluate(t.fleet)).fired).toContain(unhealthy);
    const delivery = await finishedDelivery(t.fleet, unhealthy, 1, 'firing');
    expect(await delivery.getState()).toBe('completed');
    expect(delivery.attemptsMade).toBe(3);
    expect(posts(hook.requests, '/main', unhealthy, 'firing').map((r) => r.status)).toEqual([500, 500, 200]);

    hook.answer('/main', 400);
    await t.fleet.add('meta-monitor', 'canary', {});
    const noWorker = alertIdOf('queue.no-worker', 'meta-monitor');
    expect((await evaluate(t.fleet)).fired).toEqual([noWorker]);
    const refused = await finishedDelivery(t.fleet, noWorker, 1, 'firing');
    expect(await refused.getState()).toBe('failed');
    expect(refused.attemptsMade).toBe(1);
    expect(refused.failedReason).toBe('the alert webhook refused the notification with 400');
    expect(posts(hook.requests, '/main', noWorker, 'firing').map((r) => r.status)).toEqual([400]);
    expect(((await (await t.call('GET', `${alertsPath}/${noWorker}`, { role: 'viewer' })).json()) as { notified: { firing: string | null } }).notified.firing).toBeNull();
  });

  it('a tampered audit-trail entry is a P0 at once and a compliance violation at the next check; both resolve once the entry is restored', async () => {
    await start();
    await evaluate(t.fleet);
    const corruption = alertIdOf('audit-trail.corruption', 'audit-trail');
    const violation = alertIdOf('compliance.violation', 'audit-trail.integrity');
    // A broken trail blocks LLM calls until a full verification passes: its own P0.
    const blocked = alertIdOf('compliance.llm-blocked', 'llm');
    const complianceCheck = async () => {
      const job = await t.fleet.add('compliance', 'compliance-check', {});
      expect(await (await t.fleet.waitForFinish('compliance', job.id ?? '', 20_000))?.getState()).toBe('completed');
    };
    await complianceCheck();
    const clean = await evaluate(t.fleet);
    expect(clean.firing.map((f) => f.rule)).not.toEqual(expect.arrayContaining(['audit-trail.corruption']));
    expect(clean.firing.map((f) => f.rule)).not.toEqual(expect.arrayContaining(['compliance.violation']));

    // The support-mode entry that enabled everything now says someone else did it.
    await rewriteTrail(t, (json, i) => (i === 0 ? json.replace('"actor":"test"', '"actor":"mallory"') : json));
    const tampered = await evaluate(t.fleet);
    expect(tampered.fired.sort()).toEqual([corruption, blocked].sort());
    expect(tampered.firing.find((f) => f.id === corruption)?.detail).toMatch(/^1 break\(s\) in the newest \d+ entries, first at seq 1: hash_mismatch/);
    expect((await evaluate(t.fleet)).fired).toEqual([]);
    await complianceCheck();
    expect((await evaluate(t.fleet)).fired).toEqual([violation]);
    await hook.waitFor((rs) => posts(rs, '/main', corruption, 'firing').length === 1 && posts(rs, '/main', violation, 'firing').length === 1);
    const p0 = (await (await t.call('GET', `${alertsPath}?level=P0`, { role: 'viewer' })).json()) as { alerts: { id: string; state: string }[] };
    expect(p0.alerts.map((a) => [a.id, a.state]).sort()).toEqual([
      [corruption, 'firing'],
      [violation, 'firing'],
      [blocked, 'firing'],
    ].sort());

    await rewriteTrail(t, (json, i) => (i === 0 ? json.replace('"actor":"mallory"', '"actor":"test"') : json));
    // The newest entries verify again, but only a full verification lifts the block.
    expect((await evaluate(t.fleet)).resolved).toEqual([corruption]);
    await complianceCheck();
    expect((await evaluate(t.fleet)).resolved.sort()).toEqual([violation, blocked].sort());
    await hook.waitFor((rs) => posts(rs, '/main', corruption, 'resolved').length === 1 && posts(rs, '/main', violation, 'resolved').length === 1);
  });
});

describe('alerts: emergency shutdown, by an operator and by the rules', () => {
  let t: TestApp | undefined;
  let bedrock: BedrockFake;

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    stubAwsEnv(bedrock.url);
  });

  afterAll(async () => {
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  /** Support mode active, a worker on every queue, the Slack-style webhook. */
  const start = async (env: Record<string, string> = {}) => {
    hook.reset();
    const app = await makeTestApp('alerts-emergency', {
      workers: ['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'implementation-support', 'compliance'],
      env: { ALERT_WEBHOOK_URL: `${hook.url}/main`, BSM_ALERT_NOTIFY_BACKOFF_MS: '100', ...env },
    });
    t = app;
    await app.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    await eventually(async () => (await Promise.all([...components, 'bedrock-support' as const].map(async (q) => (await app.queueState(q)).workers.count))).every((n) => n === 1));
    return app;
  };
  const setAuto = async (app: TestApp, on: boolean) => {
    expect((await app.call('POST', `/admin/feature-flags/auto-emergency-shutdown/${on ? 'enable' : 'disable'}`, { role: 'admin' })).status).toBe(200);
  };
  const status = async (app: TestApp) => ((await (await app.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).json()) as { status: string; emergency: Record<string, unknown> | null });
  const emergencyEntry = (app: TestApp) =>
    eventually(async () => (await app.auditTrail.range()).find((e) => e.event?.action === 'support-mode.emergency')?.event);

  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it("an operator's emergency shutdown is a P0 at once, naming who and why (redacted), delivered while every queue is paused; resolved after recovery; disabling on purpose raises nothing", async () => {
    const app = await start();
    // Disabled on purpose: the rules raise nothing, nothing is posted.
    expect((await app.call('POST', '/admin/feature-flags/bedrock-support/disable', { role: 'operator', body: { reason: 'maintenance' } })).status).toBe(200);
    const ctx = { signal: new AbortController().signal, log: app.logger };
    const disabled = await alertEvaluationJob.handler({ name: 'alert-evaluation', data: {}, timestamp: Date.now(), attemptsMade: 0, updateProgress: () => Promise.resolve() }, ctx, app.adapters.jobDeps);
    expect(disabled.firing).toEqual([]);
    expect((await (await app.call('GET', alertsPath, { role: 'viewer' })).json()) as object).toEqual({ alerts: [], counts: { firing: 0, acknowledged: 0, resolved: 0 } });
    await app.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    expect((await evaluate(app.fleet)).fired).toEqual([]);

    const r = await app.call('POST', '/admin/bedrock-support/emergency/shutdown', {
      role: 'operator',
      body: { reason: 'Emergency shutdown - leak reported by jane.doe@example.com', initiated_by: 'jane.doe@example.com', immediate: true },
    });
    expect(r.status).toBe(200);
    const id = alertIdOf('support-mode.emergency-shutdown', 'bedrock-support');
    // Listed as soon as the shutdown answered, though no evaluation can run (its queue is paused).
    expect(await app.fleet.queue('bedrock-support').isPaused()).toBe(true);
    const listed = (await (await app.call('GET', `${alertsPath}?level=P0`, { role: 'viewer' })).json()) as { alerts: { id: string; state: string; detail: string }[] };
    expect(listed.alerts.map((a) => [a.id, a.state])).toEqual([[id, 'firing']]);
    expect(listed.alerts[0]?.detail).toMatch(/ by \S+ \(requested by operator-key\): Emergency shutdown - leak reported by \S+; recover with/);
    const [sent] = posts(await hook.waitFor((rs) => posts(rs, '/main', id, 'firing').length === 1), '/main', id, 'firing');
    const slack = sent?.body as { text: string; blocks: { type: string }[] };
    expect(slack.text).toMatch(/^\[P0\] FIRING: Support mode emergency shutdown: shut down at /);
    expect(slack.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context']);
    expect(JSON.stringify(slack)).not.toContain('jane.doe@example.com');
    expect(await dumpKeys(app.client, app.prefix)).not.toContain('jane.doe@example.com');

    // Recovered, and shut down again before any evaluation saw the first one over: a second firing, notified too.
    expect((await app.call('POST', '/admin/feature-flags/bedrock-support/enable', { role: 'operator' })).status).toBe(200);
    const again = await app.call('POST', '/admin/bedrock-support/emergency/shutdown', { role: 'operator', body: { reason: 'Emergency shutdown - again', initiated_by: 'oncall', immediate: false } });
    expect(again.status).toBe(200);
    await hook.waitFor((rs) => posts(rs, '/main', id, 'firing').length === 2);
    expect(JSON.stringify(posts(hook.requests, '/main', id, 'firing')[1]?.body)).toContain('by oncall (requested by operator-key): Emergency shutdown - again');
    expect(((await (await app.call('GET', `${alertsPath}/${id}`, { role: 'viewer' })).json()) as { firings: number }).firings).toBe(2);

    // Recovery: the queues run again, the evaluation sees the emergency over and resolves it; the queued copies of the firing notifications are not sent again.
    expect((await app.call('POST', '/admin/feature-flags/bedrock-support/enable', { role: 'operator' })).status).toBe(200);
    expect((await evaluate(app.fleet)).resolved).toEqual([id]);
    await hook.waitFor((rs) => posts(rs, '/main', id, 'resolved').length === 1);
    // The first copy ran while the queues were up between the two shutdowns, or after the second: not sent either way.
    const firstCopy = (await finishedDelivery(app.fleet, id, 1, 'firing')).returnvalue as { delivered: boolean; skipped: string };
    expect(firstCopy.delivered).toBe(false);
    expect(['already_delivered', 'superseded']).toContain(firstCopy.skipped);
    expect((await finishedDelivery(app.fleet, id, 2, 'firing')).returnvalue).toMatchObject({ delivered: false, skipped: 'already_delivered' });
    expect(posts(hook.requests, '/main', id, 'firing')).toHaveLength(2);
  });

  it('consecutive failures: nothing while the flag is off; on, four failures in a row shut nothing, the fifth shuts support mode down, audited, the rule as initiator', async () => {
    const app = await start();
    const consecutive = alertIdOf('component.consecutive-failures', 'meta-monitor');
    for (let i = 0; i < 5; i++) {
      await failingJob(app.fleet, 'meta-monitor');
    }
    const off = await evaluate(app.fleet);
    expect(off.fired).toContain(consecutive);
    expect(off.autoShutdown).toBeNull();
    expect((await status(app)).status).toBe('active');

    await setAuto(app, true);
    await succeedingJob(app.fleet, 'meta-monitor');
    expect((await evaluate(app.fleet)).resolved).toContain(consecutive);
    for (let i = 0; i < 4; i++) {
      await failingJob(app.fleet, 'meta-monitor');
    }
    const four = await evaluate(app.fleet);
    expect(four.firing.map((f) => f.rule)).not.toContain('component.consecutive-failures');
    expect(four.autoShutdown).toBeNull();
    expect((await status(app)).status).toBe('active');

    await failingJob(app.fleet, 'meta-monitor');
    const five = await evaluate(app.fleet);
    expect(five.fired).toContain(consecutive);
    expect(five.autoShutdown).toEqual({ rule: 'component.consecutive-failures', subject: 'meta-monitor', initiatedBy: 'rule:component.consecutive-failures', changed: true });
    expect((await status(app)).emergency).toMatchObject({ initiatedBy: 'rule:component.consecutive-failures', requestedBy: 'alert-evaluation', immediate: true });
    expect(await app.fleet.queue('meta-monitor').isPaused()).toBe(true);
    const entry = await emergencyEntry(app);
    expect(entry).toMatchObject({ actor: 'alert-evaluation', details: { to: 'emergency', command: { type: 'emergency', initiatedBy: 'rule:component.consecutive-failures' } } });
    expect(String((entry?.details?.command as { reason: string }).reason)).toMatch(/^automatic emergency shutdown: meta-monitor: 5 jobs failed in a row/);
    // The team hears of it: the P0 of the shutdown, sent while every queue is paused.
    const id = alertIdOf('support-mode.emergency-shutdown', 'bedrock-support');
    await hook.waitFor((rs) => posts(rs, '/main', id, 'firing').length === 1);
  });

  it('error rate: 2 failures in 20 support operations (10 %) shut nothing; the third (14 %) shuts support mode down', async () => {
    const app = await start({ BSM_AUTO_SHUTDOWN_TRIGGERS: 'error-rate' });
    await setAuto(app, true);
    for (let i = 0; i < 18; i++) {
      await succeedingJob(app.fleet, components[i % 3] as QueueName);
      if (i === 5 || i === 11) {
        await failingJob(app.fleet, 'implementation-support');
      }
    }
    const at = await evaluate(app.fleet);
    expect(at.firing.map((f) => f.rule)).not.toContain('support-operations.error-rate');
    expect(at.autoShutdown).toBeNull();
    expect((await status(app)).status).toBe('active');

    await failingJob(app.fleet, 'infrastructure-auditor');
    const above = await evaluate(app.fleet);
    expect(above.firing.find((f) => f.rule === 'support-operations.error-rate')?.detail).toBe(
      '3 of 21 jobs of infrastructure-auditor, meta-monitor, implementation-support failed in the last 15 min (14.3 %)',
    );
    expect(above.autoShutdown).toMatchObject({ rule: 'support-operations.error-rate', initiatedBy: 'rule:support-operations.error-rate', changed: true });
    expect((await status(app)).emergency).toMatchObject({ initiatedBy: 'rule:support-operations.error-rate' });
    expect(await emergencyEntry(app)).toMatchObject({ details: { command: { initiatedBy: 'rule:support-operations.error-rate' } } });
  });

  it('LLM spend per hour: at the limit nothing happens; the call that takes it above shuts support mode down', async () => {
    bedrock.reset();
    bedrock.setDefault({ kind: 'ok', text: 'ok', usage: { inputTokens: 100, outputTokens: 50 } });
    // Two Sonnet calls of 100 in / 50 out cost 0.0021 USD.
    const app = await start({ BEDROCK_ENABLED: 'true', BSM_LLM_HOURLY_SPEND_LIMIT_USD: '0.0021', BSM_AUTO_SHUTDOWN_TRIGGERS: 'llm-spend' });
    await setAuto(app, true);
    const ask = () => app.llm.router.ask({ component: 'meta-monitor', operation: 'infrastructure', task: 'test', system: 'Answer briefly.', prompt: 'How are the queues?' });
    expect((await ask()).path).toBe('direct');
    await ask();
    const at = await evaluate(app.fleet);
    expect(at.firing.map((f) => f.rule)).not.toContain('llm.spend');
    expect(at.autoShutdown).toBeNull();
    await ask();
    const above = await evaluate(app.fleet);
    expect(above.firing.find((f) => f.rule === 'llm.spend')?.detail).toBe('0.00315 USD spent on LLM calls in the last 60 min (limit 0.0021 USD)');
    expect(above.autoShutdown).toMatchObject({ rule: 'llm.spend', initiatedBy: 'rule:llm.spend', changed: true });
    expect((await status(app)).status).toBe('emergency');
  });
});

describe('alerts: routing efficiency from real routed calls', () => {
  let bedrock: BedrockFake;
  let t: TestFleet;
  let adapters: Adapters;
  let runner: Runner;
  /** The LLM layer's clock: the routing window moves with it. */
  let llmNow = Date.parse('2026-11-30T12:00:00.000Z');

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    stubAwsEnv(bedrock.url);
    hook.reset();
    t = await makeTestFleet('alerts-routing', { BEDROCK_ENABLED: 'true', ALERT_WEBHOOK_URL: `${hook.url}/main`, BSM_ALERT_WEBHOOK_FORMAT: 'json' });
    adapters = composeAdapters({ config: t.config, redis: t.client, prefix: t.prefix, logger: t.logger, control: createControlChannel(t.client, null, t.prefix), clock: () => llmNow });
    await adapters.supportMode.execute({ type: 'enable', activate: false }, { by: 'test' });
    runner = startTestRunner(t, ['bedrock-support'], { deps: adapters.jobDeps });
  });

  afterAll(async () => {
    await runner.close();
    await adapters.close();
    await t.cleanup();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  it('20 requests whose primary path fails: routing efficiency 0 % is a P1; 15 minutes later, 20 served by their primary resolve it', async () => {
    const ask = () => adapters.llm.router.ask({ component: 'meta-monitor', operation: 'infrastructure', task: 'test', system: 'Answer briefly.', prompt: 'How are the queues?' });
    bedrock.setDefault({ kind: 'error', status: 500 });
    for (let i = 0; i < 19; i++) {
      expect((await ask()).path).toBe('local');
    }
    const id = alertIdOf('routing.efficiency.p1', 'llm-router');
    // 19 decisions are too few to judge.
    expect((await evaluate(t.fleet)).firing.map((f) => f.rule)).not.toContain('routing.efficiency.p1');
    await ask();
    const low = await evaluate(t.fleet);
    expect(low.fired).toEqual([id]);
    expect(low.firing.find((f) => f.id === id)?.detail).toBe('0 % of 20 LLM requests in the last 15 min were served by their primary path within budget');
    expect((await evaluate(t.fleet)).fired).toEqual([]);
    await hook.waitFor((rs) => posts(rs, '/main', id, 'firing').length === 1);

    llmNow += 16 * 60_000;
    bedrock.setDefault({ kind: 'ok', text: 'ok' });
    for (let i = 0; i < 20; i++) {
      await ask();
    }
    expect((await evaluate(t.fleet)).resolved).toEqual([id]);
    await hook.waitFor((rs) => posts(rs, '/main', id, 'resolved').length === 1);
  });
});

describe('alerts: what Redis keeps', () => {
  let t: TestFleet;

  beforeAll(async () => {
    t = await makeTestFleet('alerts-store');
  });

  afterAll(async () => {
    await t.cleanup();
  });

  it('open alerts and their history; a resolved alert is forgotten 30 days after it was resolved; the history keeps the last 1,000 transitions', async () => {
    const store = createAlertStore(t.client, t.prefix);
    const day = 86_400_000;
    const t0 = new Date(Date.now() - 40 * day);
    const cond = (subject: string) => ({ rule: 'component.unhealthy', subject, level: 'P1' as const, title: subject, detail: 'no live worker' });
    const fired = reconcile(new Map(), { firing: [cond('meta-monitor'), cond('compliance')], unjudged: new Set() }, 'eval', t0);
    await store.save(fired, t0);
    expect((await store.open()).map((a) => a.id).sort()).toEqual(fired.alerts.map((a) => a.id).sort());
    // compliance resolved 40 days ago, meta-monitor 20 days ago.
    const [meta, compliance] = fired.alerts as [Alert, Alert];
    await store.save(reconcile(new Map([[compliance.id, compliance]]), { firing: [], unjudged: new Set() }, 'eval', t0), t0);
    const later = new Date(t0.getTime() + 20 * day);
    await store.save(reconcile(new Map([[meta.id, meta]]), { firing: [], unjudged: new Set() }, 'eval', later), later);
    expect(await store.get(compliance.id)).not.toBeNull();
    // Any write today trims what was resolved more than 30 days before it.
    await store.save({ alerts: [], transitions: [] }, new Date());
    expect(await store.open()).toEqual([]);
    expect((await store.list()).map((a) => a.id)).toEqual([meta.id]);
    expect(await store.get(compliance.id)).toBeNull();
    expect(await t.client.exists(`${t.prefix}:alerts:item:${compliance.id}`)).toBe(0);
    expect((await store.history({ alertId: meta.id })).map((h) => [h.from, h.to])).toEqual([
      ['firing', 'resolved'],
      [null, 'firing'],
    ]);

    // 1,100 more transitions: the oldest go.
    let current = (await store.get(meta.id)) as Alert;
    expect(current).toMatchObject({ state: 'resolved', firings: 1 });
    for (let i = 0; i < 550; i++) {
      const at = new Date(later.getTime() + (i + 1) * 1_000);
      const up = reconcile(new Map([[current.id, current]]), { firing: [cond('meta-monitor')], unjudged: new Set() }, 'eval', at);
      const down = reconcile(new Map([[current.id, up.alerts[0] as Alert]]), { firing: [], unjudged: new Set() }, 'eval', at);
      await store.save({ alerts: down.alerts, transitions: [...up.transitions, ...down.transitions] }, at);
      current = down.alerts[0] as Alert;
    }
    const history = await store.history();
    expect(history).toHaveLength(alertRetention.historyEntries);
    expect(history[0]).toMatchObject({ alertId: meta.id, to: 'resolved', firing: 551 });
    expect(await t.client.llen(`${t.prefix}:alerts:history`)).toBe(1_000);
  });
});
