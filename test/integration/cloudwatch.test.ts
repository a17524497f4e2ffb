/**
 * CloudWatch publishing and dashboards end to end: the real SDK against a fake CloudWatch on
 * loopback, the publication run as the `cloudwatch-publish` job by the project's workers, the
 * figures made real by the test (jobs that ran and failed, LLM calls routed through a Bedrock fake,
 * an audit), the dashboards through the API route and the `bsm cloudwatch dashboards` command.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Job } from 'bullmq';
import { loadConfig } from '../../src/config.js';
import { auditReportSchema } from '../../src/domain/audit/report.js';
import { dashboardNames, type MetricEntry } from '../../src/domain/cloudwatch/dashboards.js';
import { metricCatalog, type MetricName } from '../../src/domain/cloudwatch/metrics.js';
import { isOpenGap } from '../../src/domain/gaps/lifecycle.js';
import { gapStatuses } from '../../src/domain/gaps/gap.js';
import { queueNames, type QueueName } from '../../src/domain/queue-names.js';
import { declaredSchedules } from '../../src/jobs/registry.js';
import { parseInvocation, UsageError } from '../../src/runtime/invocation.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';
import { startCloudWatchFake, type AcceptedDatum, type CloudWatchFake } from '../fakes/cloudwatch-fake.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';

type PublishResult = { published: true; window: { from: string; to: string }; data: number; requests: number; throttled: number } | { published: false; reason: string };

describe('CloudWatch publishing against a fake CloudWatch', () => {
  let cw: CloudWatchFake;
  let bedrock: BedrockFake;
  let t: TestApp;
  /** The publications of this file, in order. */
  const windows: { from: string; to: string }[] = [];

  const call = async (method: string, path: string, options: { role?: 'admin' | 'operator' | 'viewer'; body?: unknown } = {}) => {
    const r = await t.call(method, path, options);
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };
  const finished = async (queue: QueueName, job: Job | { id?: string | undefined }): Promise<Job> => {
    const done = await t.fleet.waitForFinish(queue, job.id as string, 20_000);
    expect(done, `${queue} job ${job.id ?? ''} finished`).not.toBeNull();
    return done as Job;
  };
  const idle = () =>
    eventually(async () => {
      const s = await t.reader.snapshot({ maxAgeMs: 0 });
      return queueNames.every((q) => s.queues[q].counts.waiting + s.queues[q].counts.prioritized + s.queues[q].counts.active + s.queues[q].counts.delayed === 0);
    });
  /** Runs the publication as the scheduler would, through the queue and a worker; its job and result. */
  const publish = async (): Promise<{ job: Job; result: PublishResult }> => {
    const job = await finished('bedrock-support', await t.fleet.add('bedrock-support', 'cloudwatch-publish', {}));
    expect(await job.getState(), `the publication failed: ${job.failedReason}`).toBe('completed');
    const result = job.returnvalue as PublishResult;
    if (result.published) {
      windows.push(result.window);
    }
    return { job, result };
  };
  const durationOf = (job: Job) => (job.finishedOn ?? NaN) - (job.processedOn ?? NaN);
  const dataAt = (iso: string) => cw.data.filter((d) => d.timestamp === Date.parse(iso));
  const one = (data: AcceptedDatum[], name: MetricName, component: string | null) => {
    const found = data.filter((d) => d.metricName === name && (component === null ? Object.keys(d.dimensions).length === 0 : d.dimensions.Component === component));
    expect(found, `${name} ${component ?? '(no dimensions)'}: one datum`).toHaveLength(1);
    return found[0] as AcceptedDatum;
  };
  const valueOf = (data: AcceptedDatum[], name: MetricName, component: string | null) => one(data, name, component).value;
  /** The samples of a Values/Counts series, every value repeated by its count, sorted. */
  const samplesOf = (data: AcceptedDatum[], component: string | null) =>
    data
      .filter((d) => d.metricName === 'OperationLatency' && (component === null ? Object.keys(d.dimensions).length === 0 : d.dimensions.Component === component))
      .flatMap((d) => (d.values ?? []).flatMap((v, i) => Array<number>(d.counts?.[i] ?? 1).fill(v)))
      .sort((a, b) => a - b);

  beforeAll(async () => {
    cw = await startCloudWatchFake();
    bedrock = await startBedrockFake();
    bedrock.setDefault({ kind: 'ok', text: 'a model wrote this', usage: { inputTokens: 400, outputTokens: 100 } });
    stubAwsEnv(bedrock.url, { cloudwatch: cw.url });
    t = await makeTestApp('cloudwatch', {
      workers: [...queueNames],
      // A ten-minute schedule: the first publication covers the ten minutes before it.
      env: { CLOUDWATCH_ENABLED: 'true', BSM_SCHEDULE_CLOUDWATCH: '*/10 * * * *', BEDROCK_ENABLED: 'true', BSM_BACKOFF_MS: '100' },
    });
    expect((await call('POST', '/admin/bedrock-support/enable', { body: { active: true, reason: 'CloudWatch test' } })).status).toBe(200);
    // Job narratives from the local writer: the only routing decisions are the test's own.
    expect((await call('POST', '/admin/feature-flags/llm-narratives/disable')).status).toBe(200);
  });

  afterAll(async () => {
    await t.close();
    await bedrock.close();
    await cw.close();
    vi.unstubAllEnvs();
  });

  it('is scheduled only with CLOUDWATCH_ENABLED=true, every minute unless BSM_SCHEDULE_CLOUDWATCH says otherwise', () => {
    expect(declaredSchedules(loadConfig({})).map((s) => s.id)).not.toContain('cloudwatch-publish');
    expect(declaredSchedules(loadConfig({ CLOUDWATCH_ENABLED: 'true' })).find((s) => s.id === 'cloudwatch-publish')).toMatchObject({ queue: 'bedrock-support', job: 'cloudwatch-publish', pattern: '* * * * *' });
    expect(declaredSchedules(t.config).find((s) => s.id === 'cloudwatch-publish')?.pattern).toBe('*/10 * * * *');
  });

  it('sends nothing while the cloudwatch-publishing flag is off', async () => {
    const { result } = await publish();
    expect(result).toEqual({ published: false, reason: 'the cloudwatch-publishing feature flag is off' });
    expect(cw.requests).toEqual([]);
    expect((await call('POST', '/admin/feature-flags/cloudwatch-publishing/enable')).status).toBe(200);
  });

  it('publishes what was measured in the window: jobs run and failed per component, LLM calls routed, resources, support mode', async () => {
    // Before: an audit (its score and gaps are what the dashboards show), then a first publication
    // that covers everything up to now, so the next window holds only what follows.
    await finished('infrastructure-auditor', await t.fleet.add('infrastructure-auditor', 'audit', { type: 'comprehensive' }));
    await idle();
    const first = await publish();
    expect(first.result).toMatchObject({ published: true });

    // What happens in the window: a canary through every queue, a job that fails, LLM calls.
    const canaries = new Map<QueueName, Job>();
    for (const [i, q] of queueNames.entries()) {
      canaries.set(q, await finished(q, await t.fleet.add(q, 'canary', { holdMs: 20 + 15 * i })));
    }
    const failedJob = await finished('meta-monitor', await t.fleet.queue('meta-monitor').add('no-such-job', {}));
    expect(failedJob.failedReason).toContain('no job "no-such-job"');
    const ask = (component: string) => t.llm.router.ask({ component, operation: 'infrastructure', task: 'cloudwatch-test', system: 'Answer briefly.', prompt: 'Anything to report?' });
    const answers = new Map<string, { costUsd: number; fallbackUsed: boolean }[]>();
    for (const c of queueNames) {
      answers.set(c, [await ask(c)]);
    }
    bedrock.script({ kind: 'error', status: 500 });
    const fellBack = await ask('meta-monitor');
    expect(fellBack).toMatchObject({ path: 'local', fallbackUsed: true });
    answers.get('meta-monitor')?.push(fellBack);

    const second = await publish();
    expect(second.result).toMatchObject({ published: true, throttled: 0 });
    const window = second.result.published ? second.result.window : { from: '', to: '' };
    // The windows tile time: this one starts where the first ended.
    expect(first.result.published && first.result.window.to).toBe(window.from);
    const data = dataAt(window.to);
    expect(data).toHaveLength(second.result.published ? second.result.data : -1);

    // Every datum: a metric of the catalog, in its namespace and unit, with a Component dimension or none.
    for (const d of data) {
      const def = metricCatalog[d.metricName as MetricName];
      expect(def, d.metricName).toBeDefined();
      expect([d.namespace, d.unit]).toEqual([def.namespace, def.unit]);
      expect(Object.keys(d.dimensions)).toEqual(Object.keys(d.dimensions).length === 0 ? [] : ['Component']);
    }
    // Jobs: bedrock-support ran its canary and the first publication in this window; meta-monitor's unknown job failed.
    const expectedJobs: Record<QueueName, Job[]> = {
      'bedrock-support': [canaries.get('bedrock-support') as Job, first.job],
      'infrastructure-auditor': [canaries.get('infrastructure-auditor') as Job],
      'meta-monitor': [canaries.get('meta-monitor') as Job, failedJob],
      'implementation-support': [canaries.get('implementation-support') as Job],
      compliance: [canaries.get('compliance') as Job],
    };
    for (const q of queueNames) {
      expect([q, valueOf(data, 'SuccessCount', q), valueOf(data, 'ErrorCount', q)]).toEqual([q, q === 'meta-monitor' ? 1 : expectedJobs[q].length, q === 'meta-monitor' ? 1 : 0]);
      expect(samplesOf(data, q), `${q} latencies`).toEqual(expectedJobs[q].map(durationOf).sort((a, b) => a - b));
      expect(one(data, 'OperationLatency', q).unit).toBe('Milliseconds');
    }
    expect([valueOf(data, 'SuccessCount', null), valueOf(data, 'ErrorCount', null)]).toEqual([6, 1]);
    expect(samplesOf(data, null)).toEqual(Object.values(expectedJobs).flat().map(durationOf).sort((a, b) => a - b));
    // The canaries held their workers at least as long as asked.
    expect(samplesOf(data, 'compliance')[0]).toBeGreaterThanOrEqual(20 + 15 * 4);

    // Routing: every call served by its primary path but meta-monitor's second (the local writer after a Bedrock 500).
    for (const q of queueNames) {
      expect([q, valueOf(data, 'RoutingEfficiency', q)]).toEqual([q, q === 'meta-monitor' ? 50 : 100]);
      const spent = (answers.get(q) ?? []).reduce((n, a) => n + a.costUsd, 0);
      expect(valueOf(data, 'LlmCost', q)).toBeCloseTo(spent, 9);
      expect(spent).toBeGreaterThan(0);
    }
    expect(valueOf(data, 'RoutingEfficiency', null)).toBeCloseTo((5 / 6) * 100, 2);
    expect(valueOf(data, 'LlmCost', null)).toBeCloseTo([...answers.values()].flat().reduce((n, a) => n + a.costUsd, 0), 9);

    // Resources: this process, which runs every queue's workers; nothing waits.
    for (const c of [...queueNames, null]) {
      for (const name of ['CPUUtilization', 'MemoryUtilization'] as const) {
        const v = valueOf(data, name, c) ?? NaN;
        expect(v, `${name} ${c ?? ''}`).toBeGreaterThan(0);
        expect(v).toBeLessThanOrEqual(100);
      }
      expect(valueOf(data, 'QueueDepth', c)).toBe(0);
    }
    expect(valueOf(data, 'MemoryUtilization', null)).toBeCloseTo(valueOf(data, 'MemoryUtilization', 'meta-monitor') ?? NaN, 9);

    // Support mode, as the service itself reports it.
    const health = (await call('GET', '/health/bedrock-support')).body as { components: Record<QueueName, { status: string }> };
    for (const q of queueNames) {
      expect([q, valueOf(data, 'ActivationStatus', q), valueOf(data, 'ComponentHealthy', q)]).toEqual([q, 1, health.components[q].status === 'healthy' ? 1 : 0]);
    }
    expect(valueOf(data, 'ActivationStatus', null)).toBe(1);
    expect(valueOf(data, 'ComponentHealthy', null)).toBe(queueNames.every((q) => health.components[q].status === 'healthy') ? 1 : 0);
    const audit = await t.adapters.reports.latest('audit', auditReportSchema);
    expect(audit).not.toBeNull();
    expect(valueOf(data, 'AuditScore', null)).toBe(audit?.body.score);
    const open = await t.adapters.gaps.list({ status: gapStatuses.filter(isOpenGap), limit: 1_000 });
    expect(valueOf(data, 'OpenGaps', null)).toBe(open.length);
    expect([valueOf(data, 'RemediationsVerified', null), valueOf(data, 'RemediationsFailed', null)]).toEqual([0, 0]);
  });

  it('sends a request CloudWatch throttled again after a wait, and every datum arrives once', async () => {
    const before = cw.requests.length;
    cw.throttleNext(1, 'PutMetricData');
    const { result } = await publish();
    expect(result).toMatchObject({ published: true, throttled: 1 });
    const sent = cw.requests.slice(before);
    expect(sent.map((r) => r.status)).toEqual([400, ...Array<number>(sent.length - 1).fill(200)]);
    expect(sent[0]?.refused).toBe('Throttling: Rate exceeded');
    // The throttled request came again with the same body.
    expect(sent[1]?.body).toEqual(sent[0]?.body);
    expect(dataAt(result.published ? result.window.to : '')).toHaveLength(result.published ? result.data : -1);
  });

  it('a publication that keeps failing fails its job; BullMQ retries it and the retry sends the same window', async () => {
    const previous = windows.at(-1);
    // More throttles than the client's attempts: the first run of the job fails.
    cw.throttleNext(5, 'PutMetricData');
    const { job, result } = await publish();
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toBe('CloudWatch throttled PutMetricData: Rate exceeded');
    expect(result).toMatchObject({ published: true, throttled: 0 });
    expect(result.published && result.window.from).toBe(previous?.to);
  });

  it('POST …/cloudwatch/dashboards puts both dashboards, audited first, every widget on metrics the publisher sends', async () => {
    const sent = new Set(cw.data.map((d) => JSON.stringify([d.namespace, d.metricName, ...Object.entries(d.dimensions).flat()])));
    expect((await call('POST', '/admin/bedrock-support/cloudwatch/dashboards', { role: 'operator' })).status).toBe(403);
    const before = cw.requests.length;
    const r = await call('POST', '/admin/bedrock-support/cloudwatch/dashboards');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      region: 'eu-central-1',
      dashboards: dashboardNames.map((name) => ({ name, validationMessages: [], url: `https://console.aws.amazon.com/cloudwatch/home?region=eu-central-1#dashboards:name=${name}` })),
      publishing: { cloudwatchEnabled: true, flag: true },
    });
    expect(cw.requests.slice(before).map((q) => [q.operation, (q.body as { DashboardName: string }).DashboardName, q.status])).toEqual(dashboardNames.map((n) => ['PutDashboard', n, 200]));
    for (const name of dashboardNames) {
      const body = cw.dashboards.get(name) as { widgets: { type: string; properties: { metrics?: MetricEntry[]; region?: string } }[] };
      const metricWidgets = body.widgets.filter((w) => w.type === 'metric');
      expect(metricWidgets.length).toBeGreaterThanOrEqual(5);
      for (const w of metricWidgets) {
        for (const entry of w.properties.metrics ?? []) {
          const parts: unknown[] = entry;
          if (parts.length === 1) {
            continue; // an expression over the widget's own metrics
          }
          const key = JSON.stringify(parts.filter((p) => typeof p === 'string'));
          expect(sent.has(key), `${name}: ${key} is published`).toBe(true);
        }
      }
    }
    const entries = (await t.auditTrail.range()).flatMap((e) => (e.event?.action === 'cloudwatch.dashboards' ? [e.event] : []));
    expect(entries).toEqual([expect.objectContaining({ actor: 'admin-key', target: dashboardNames.join(','), details: expect.objectContaining({ dashboards: [...dashboardNames] }) as unknown })]);
  });

  it('`bsm cloudwatch dashboards` puts them too, recorded in the same audit trail', async () => {
    const before = cw.requests.length;
    const child = spawnBsm(['cloudwatch', 'dashboards'], {
      BSM_PREFIX: t.bsmPrefix,
      LOG_LEVEL: 'warn',
      AWS_ENDPOINT_URL_CLOUDWATCH: cw.url,
      AWS_ACCESS_KEY_ID: 'AKIDFAKEFORTESTS',
      AWS_SECRET_ACCESS_KEY: 'fake-secret',
      AWS_EC2_METADATA_DISABLED: 'true',
    });
    expect(await waitForExit(child), child.output()).toBe(0);
    const printed = JSON.parse(child.output().slice(child.output().indexOf('{'))) as { dashboards: { name: string }[] };
    expect(printed.dashboards.map((d) => d.name)).toEqual([...dashboardNames]);
    expect(cw.requests.slice(before).map((q) => q.operation)).toEqual(['PutDashboard', 'PutDashboard']);
    const entries = (await t.auditTrail.range()).flatMap((e) => (e.event?.action === 'cloudwatch.dashboards' ? [e.event.actor] : []));
    expect(entries).toEqual(['admin-key', 'cli']);
    expect(() => parseInvocation(['cloudwatch', 'publish'])).toThrow(UsageError);
    expect(parseInvocation(['cloudwatch', 'dashboards'])).toEqual({ command: 'cloudwatch-dashboards' });
  });
});
