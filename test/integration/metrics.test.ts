import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { getMetricsFromIterator, type PromData, type PromHistogramData, type PromMetrics } from 'prom2javascript';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { SupportOperation } from '../../src/domain/metrics/operations.js';
import { createRedis, waitReady } from '../../src/redis.js';
import { startProcessMetrics } from '../../src/runtime/metrics.js';
import { createMetricsStore } from '../../src/store/metrics.store.js';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';
import { startTestRunner } from '../helpers/fleet.js';
import { testRedisUrl } from '../helpers/redis.js';

const scraperToken = 'scraper-token-0123456789abcdef';

/** Everything the recorder holds written, then `/metrics` read as a scraper would and parsed by a Prometheus text parser. */
async function scrape(t: TestApp): Promise<PromMetrics> {
  await t.adapters.metrics.recorder.flush();
  // prom-client's event-loop figures are of the time since its previous scrape: NaN (which this
  // parser does not read) when no 10 ms tick passed since; a scraper asks every few seconds.
  await sleep(30);
  const r = await t.call('GET', '/metrics', { role: null, headers: { authorization: `Bearer ${scraperToken}` } });
  expect(r.status).toBe(200);
  expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  return getMetricsFromIterator((await r.text()).split('\n')[Symbol.iterator]());
}

const hasLabels = (have: Record<string, string>, want: Record<string, string>) => Object.entries(want).every(([k, v]) => have[k] === v);

/** The value of the series of `name` with `labels`; undefined when there is none. */
function value(m: PromMetrics, name: string, labels: Record<string, string> = {}): number | undefined {
  return (m[name]?.data as PromData[] | undefined)?.find((d) => hasLabels(d.labels, labels))?.value;
}

function histogram(m: PromMetrics, name: string, labels: Record<string, string>): PromHistogramData | undefined {
  return (m[name]?.data as PromHistogramData[] | undefined)?.find((d) => hasLabels(d.labels, labels));
}

interface Performance {
  window: string;
  resolution: string;
  from: string;
  computedAt: string;
  operations: Record<SupportOperation, { count: number; success: number; errors: number; successRate: number | null; meanMs: number | null; p50Ms: number | null; p90Ms: number | null; p95Ms: number | null; p99Ms: number | null }>;
}

async function performanceOf(t: TestApp, query = ''): Promise<Performance> {
  await t.adapters.metrics.recorder.flush();
  const r = await t.call('GET', `/admin/bedrock-support/metrics/performance${query}`, { role: 'viewer' });
  expect(r.status).toBe(200);
  return (await r.json()) as Performance;
}

/** Within the sketch's 1 % of `measured`, plus what the runner adds around a handler (payload and result checks, the stored report). */
function expectNear(got: number | null | undefined, measured: number, what: string) {
  expect(got, what).not.toBeNull();
  expect(got ?? 0, `${what}: ${got} against a measured ${measured.toFixed(1)}`).toBeGreaterThanOrEqual(measured * 0.99 - 0.5);
  expect(got ?? 0, `${what}: ${got} against a measured ${measured.toFixed(1)}`).toBeLessThanOrEqual(measured * 1.01 + 25);
}

describe('GET /metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('metrics', { workers: ['compliance'], env: { BSM_METRICS_TOKEN: scraperToken } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers a reading API key or the scraper token; 401 without either, 403 to a role that does not read', async () => {
    for (const role of ['viewer', 'operator', 'approver', 'admin'] as const) {
      expect((await t.call('GET', '/metrics', { role })).status, role).toBe(200);
    }
    expect((await t.call('GET', '/metrics', { role: null, headers: { authorization: `Bearer ${scraperToken}` } })).status).toBe(200);
    const none = await t.call('GET', '/metrics', { role: null });
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: 'unauthorized' } });
    expect((await t.call('GET', '/metrics', { role: null, headers: { authorization: `Bearer ${scraperToken}x` } })).status).toBe(401);
    const ingest = await t.call('GET', '/metrics', { role: 'ingest' });
    expect(ingest.status).toBe(403);
    expect(await ingest.json()).toMatchObject({ error: { code: 'forbidden', message: expect.stringContaining('read metrics') as unknown } });
    // The scraper's token opens /metrics and nothing else.
    for (const path of ['/admin/bedrock-support/metrics/performance', '/admin/bedrock-support/status']) {
      expect((await t.call('GET', path, { role: null, headers: { authorization: `Bearer ${scraperToken}` } })).status, path).toBe(401);
    }
  });

  it("exposes the process's CPU, memory and event-loop delay, Redis' latency and the queues, in a text a Prometheus parser reads", async () => {
    const m = await scrape(t);
    expect(m.process_cpu_seconds_total?.type).toBe('counter');
    expect(value(m, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000);
    expect(value(m, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);
    expect(m.nodejs_eventloop_lag_p99_seconds?.type).toBe('gauge');
    const latency = value(m, 'bsm_redis_latency_seconds');
    expect(latency).toBeGreaterThan(0);
    expect(latency).toBeLessThan(1);
    // This app runs the compliance workers (connected within a moment of its start), and no other queue has any.
    await vi.waitFor(async () => expect(value(await scrape(t), 'bsm_queue_workers', { queue: 'compliance' })).toBe(1), { timeout: 5_000, interval: 200 });
    expect(value(m, 'bsm_queue_workers', { queue: 'meta-monitor' })).toBe(0);
    expect((m.bsm_queue_jobs?.data as PromData[]).length).toBe(5 * 5);
    for (const family of ['bsm_jobs_total', 'bsm_operations_total', 'bsm_llm_calls_total', 'bsm_llm_tokens_total', 'bsm_llm_cost_usd_total']) {
      expect(m[family]?.type, family).toBe('counter');
    }
    for (const family of ['bsm_job_wait_seconds', 'bsm_job_run_seconds', 'bsm_operation_latency_seconds']) {
      expect(m[family]?.type, family).toBe('histogram');
    }
  });

  it('job counters and histograms move when a job completes and when one fails, with its wait and run time in seconds', async () => {
    const queue = { queue: 'compliance', job_name: 'canary' };
    const before = await scrape(t);
    expect(value(before, 'bsm_jobs_total', { ...queue, outcome: 'completed' })).toBeUndefined();
    const ok = await Promise.all([t.fleet.add('compliance', 'canary', { holdMs: 60 }), t.fleet.add('compliance', 'canary', { holdMs: 60 })]);
    // A payload its schema refuses: no retry can fix it, the job fails at once.
    const bad = await t.fleet.queue('compliance').add('canary', { holdMs: -1 });
    for (const job of [...ok, bad]) {
      expect(await t.fleet.waitForFinish('compliance', job.id as string, 10_000)).not.toBeNull();
    }
    const m = await scrape(t);
    expect(value(m, 'bsm_jobs_total', { ...queue, outcome: 'completed' })).toBe(2);
    expect(value(m, 'bsm_jobs_total', { ...queue, outcome: 'failed' })).toBe(1);
    const run = histogram(m, 'bsm_job_run_seconds', queue);
    expect(run?.count).toBe(3);
    // The two held 60 ms: above the 50 ms bucket; the refused one ran well under it.
    expect(run?.buckets['0.05']).toBe(1);
    expect(run?.buckets['0.1']).toBe(3);
    expect(run?.sum).toBeGreaterThanOrEqual(0.12);
    expect(run?.sum).toBeLessThan(1);
    const wait = histogram(m, 'bsm_job_wait_seconds', queue);
    expect(wait?.count).toBe(3);
    expect(wait?.sum).toBeGreaterThanOrEqual(0);
    // A canary is no support operation.
    expect((m.bsm_operation_latency_seconds?.data as PromHistogramData[]).length).toBe(0);
  });
});

describe('operation performance and resources across processes', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('metrics-perf', { env: { BSM_ATTEMPTS: '2', BSM_BACKOFF_MS: '0', BSM_METRICS_TOKEN: scraperToken } });
  });

  afterAll(async () => {
    await t.close();
  });

  it("the percentiles are those of the compliance checks that ran (within the sketch's 1 %), with their errors and retries", async () => {
    const plannedMs = [50, 100, 150, 200, 250, 300, 350, 400, 450, 500];
    const measured: number[] = [];
    const runner = startTestRunner(t, ['compliance'], {
      handlers: {
        compliance: {
          'compliance-check': async (job) => {
            if (job.id === 'check-failing') {
              throw new Error('the archive did not answer');
            }
            const started = performance.now();
            await sleep(Number(job.id?.slice('check-'.length)));
            measured.push(performance.now() - started);
            return {};
          },
        },
      },
    });
    try {
      const ids = [...plannedMs.map((ms) => `check-${ms}`), 'check-failing'];
      for (const jobId of ids) {
        await t.fleet.add('compliance', 'compliance-check', {}, { jobId });
      }
      for (const jobId of ids) {
        expect(await t.fleet.waitForFinish('compliance', jobId, 20_000), jobId).not.toBeNull();
      }
    } finally {
      await runner.close();
    }
    await t.adapters.metrics.recorder.flush();
    const report = await performanceOf(t);
    expect(report).toMatchObject({ window: '1h', resolution: 'minute' });
    expect(Date.parse(report.computedAt) - Date.parse(report.from)).toBeGreaterThanOrEqual(3_600_000);
    // 10 checks completed; the failing one failed twice (a retry, then for good): 12 samples, 2 errors.
    const checks = report.operations.compliance_check;
    expect(checks).toMatchObject({ count: 12, success: 10, errors: 2, successRate: 0.8333 });
    // Nearest rank among 12 samples, the two failures (a few ms) lowest: p50 is the 6th, the 4th check.
    const sorted = [...measured].sort((a, b) => a - b);
    expectNear(checks.p50Ms, sorted[3] ?? 0, 'p50');
    expectNear(checks.p90Ms, sorted[8] ?? 0, 'p90');
    expectNear(checks.p95Ms, sorted[9] ?? 0, 'p95');
    expectNear(checks.p99Ms, sorted[9] ?? 0, 'p99');
    expect(checks.meanMs).toBeGreaterThanOrEqual((measured.reduce((a, b) => a + b, 0) / 12) * 0.99);
    expect(report.operations.audit).toMatchObject({ count: 0, p50Ms: null });
    // The shortest window sees the same; every window answers.
    expect((await performanceOf(t, '?window=15m')).operations.compliance_check.count).toBe(12);
    for (const window of ['24h', '7d']) {
      const long = await performanceOf(t, `?window=${window}`);
      expect(long).toMatchObject({ window, resolution: 'hour' });
      expect(long.operations.compliance_check.count).toBe(12);
    }
    const m = await scrape(t);
    const job = { queue: 'compliance', job_name: 'compliance-check' };
    expect([value(m, 'bsm_jobs_total', { ...job, outcome: 'completed' }), value(m, 'bsm_jobs_total', { ...job, outcome: 'retried' }), value(m, 'bsm_jobs_total', { ...job, outcome: 'failed' })]).toEqual([10, 1, 1]);
    expect(value(m, 'bsm_operations_total', { operation: 'compliance_check', outcome: 'error' })).toBe(2);
    expect(histogram(m, 'bsm_operation_latency_seconds', { operation: 'compliance_check' })?.count).toBe(12);
    expectNear((value(m, 'bsm_operation_latency_quantile_seconds', { operation: 'compliance_check', quantile: '0.5' }) ?? 0) * 1000, sorted[3] ?? 0, 'p50 in /metrics');
  });

  it('a bad window is a 400 naming window', async () => {
    for (const query of ['?window=2h', '?window=', '?window=15m&verbose=1']) {
      const r = await t.call('GET', `/admin/bedrock-support/metrics/performance${query}`, { role: 'viewer' });
      expect(r.status, query).toBe(400);
      const body = (await r.json()) as { error: { message: string } };
      expect(body.error.message, query).toMatch(/window|verbose/);
    }
    const r = await t.call('GET', '/admin/bedrock-support/metrics/performance?window=2h', { role: 'viewer' });
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(/^window must be one of "15m", "1h", "24h", "7d"/);
  });
});

describe('two processes writing to one Redis', () => {
  let t: TestApp;
  const others: { quit(): Promise<unknown> }[] = [];
  const stops: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    t = await makeTestApp('metrics-fleet', { env: { BSM_METRICS_TOKEN: scraperToken } });
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) {
      await stop();
    }
  });

  afterAll(async () => {
    await t.close();
    await Promise.all(others.map((r) => r.quit()));
  });

  /** A recorder as another process has it: its own connection, the same prefix. */
  const otherProcess = async () => {
    const redis = createRedis(testRedisUrl, 'client');
    await waitReady(redis);
    others.push(redis);
    return createMetricsStore(redis, t.prefix);
  };

  it("the samples of both merge in performance and /metrics, and both processes appear in resources until one stops; a stale one does not", async () => {
    const a = await otherProcess();
    const b = await otherProcess();
    for (let i = 0; i < 3; i++) {
      a.recorder.operation('audit', 100, true);
    }
    b.recorder.operation('audit', 300, false);
    b.recorder.jobAttempt({ queue: 'infrastructure-auditor', name: 'audit', outcome: 'completed', waitMs: 20, runMs: 300, operation: 'audit' });
    await Promise.all([a.recorder.flush(), b.recorder.flush()]);

    const audit = (await performanceOf(t, '?window=15m')).operations.audit;
    expect(audit).toMatchObject({ count: 5, errors: 1, success: 4, successRate: 0.8 });
    expect(audit.p50Ms).toBeCloseTo(100, -0.3);
    expect(Math.abs((audit.p90Ms ?? 0) - 300) / 300).toBeLessThanOrEqual(0.01);
    expect(audit.meanMs).toBe(180);
    const m = await scrape(t);
    expect(value(m, 'bsm_operations_total', { operation: 'audit', outcome: 'success' })).toBe(4);
    expect(value(m, 'bsm_operations_total', { operation: 'audit', outcome: 'error' })).toBe(1);
    expect(value(m, 'bsm_jobs_total', { queue: 'infrastructure-auditor', job_name: 'audit', outcome: 'completed' })).toBe(1);

    const worker = startProcessMetrics({ store: a, role: 'worker', queues: ['infrastructure-auditor'], logger: t.logger, host: 'host-a', pid: 101 });
    const api = startProcessMetrics({ store: b, role: 'api', queues: [], logger: t.logger, host: 'host-b', pid: 202 });
    // Its last heartbeat 31 s ago: taken for gone.
    const stale = startProcessMetrics({ store: a, role: 'worker', queues: [], logger: t.logger, host: 'host-c', pid: 303, clock: () => Date.now() - 31_000 });
    stops.push(() => worker.stop(), () => stale.stop());
    await Promise.all([worker.beat(), api.beat(), stale.beat()]);

    const r = await t.call('GET', '/admin/bedrock-support/metrics/resources', { role: 'viewer' });
    expect(r.status).toBe(200);
    const resources = (await r.json()) as {
      processes: { id: string; role: string; queues: string[]; pid: number; rssMb: number; heapUsedMb: number; cpuPercent: number; heartbeatAgeSeconds: number; eventLoopDelayP99Ms: number | null }[];
      redis: { latencyMs: number; usedMemoryMb: number | null; connectedClients: number | null; opsPerSecond: number | null };
      queues: Record<string, { waiting: number; workers: number }>;
    };
    expect(resources.processes.map((p) => p.id)).toEqual(['host-a:101:worker', 'host-b:202:api']);
    const [w] = resources.processes;
    expect(w).toMatchObject({ role: 'worker', queues: ['infrastructure-auditor'], pid: 101 });
    expect(w?.rssMb).toBeGreaterThan(1);
    expect(w?.heapUsedMb).toBeGreaterThan(0);
    expect(w?.cpuPercent).toBeGreaterThanOrEqual(0);
    expect(w?.heartbeatAgeSeconds).toBeLessThan(10);
    expect(resources.redis.usedMemoryMb).toBeGreaterThan(0);
    // This app's connections and the two other processes' at least.
    expect(resources.redis.connectedClients).toBeGreaterThanOrEqual(4);
    expect(resources.redis.opsPerSecond).toBeGreaterThanOrEqual(0);
    expect(Object.keys(resources.queues)).toEqual(['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'implementation-support', 'compliance']);
    expect(value(await scrape(t), 'bsm_processes', { role: 'worker' })).toBe(1);

    await api.stop();
    const after = (await (await t.call('GET', '/admin/bedrock-support/metrics/resources', { role: 'viewer' })).json()) as { processes: { id: string }[] };
    expect(after.processes.map((p) => p.id)).toEqual(['host-a:101:worker']);
  });

  it('LLM requests count by path and outcome, with their tokens, as llm_call; a remediation run as remediation', async () => {
    expect((await t.call('POST', '/admin/bedrock-support/enable', { role: 'operator', body: { reason: 'metrics test' } })).status).toBe(200);
    const asked = await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question: 'What is waiting?' } });
    expect(asked.status).toBe(200);
    const answer = (await asked.json()) as { path: string; reason: string; tokens: { inputTokens: number; outputTokens: number } };
    expect(answer).toMatchObject({ path: 'local', reason: 'no_remote_path' });
    // A failure cluster of the compliance queue, remediated by retrying its (no) failed jobs: verified.
    const seen = await t.adapters.gaps.observe({ source: 'meta-monitor', runId: 'analysis-metrics', at: new Date(), scope: [] }, [
      { source: 'meta-monitor', subject: 'fleet:cluster:cl-0123456789ab', check: 'failure_cluster', type: 'broken_integration', severity: 'high', title: 'a cluster', components: ['compliance'], evidence: { expected: 'none', observed: 'some' } },
    ]);
    const gapId = seen.opened[0]?.id ?? '';
    const { request } = await t.adapters.remediations.request({ gapId, autoResolve: true, priority: 'low' }, { name: 'metrics-test', role: 'operator' });
    expect((await t.adapters.remediations.run(request.id)).status).toBe('verified');
    // An action applied outside a remediation is not one.
    await t.adapters.actions.apply({ kind: 'queue.concurrency', queue: 'compliance', concurrency: 3 }, { actor: 'metrics-test' });

    const report = await performanceOf(t, '?window=15m');
    expect(report.operations.llm_call).toMatchObject({ count: 1, errors: 0 });
    expect(report.operations.remediation).toMatchObject({ count: 1, success: 1, errors: 0 });
    const m = await scrape(t);
    expect(value(m, 'bsm_llm_calls_total', { path: 'local', outcome: 'fallback_local' })).toBe(1);
    expect(value(m, 'bsm_llm_tokens_total', { path: 'local', direction: 'input' })).toBe(answer.tokens.inputTokens);
    expect(value(m, 'bsm_llm_tokens_total', { path: 'local', direction: 'output' })).toBe(answer.tokens.outputTokens);
    expect(value(m, 'bsm_llm_cost_usd_total', { path: 'local' })).toBe(0);
    // A local-only install has no routing to judge: the efficiency is absent, not 0.
    expect((m.bsm_llm_routing_efficiency?.data as PromData[]).length).toBe(0);
  });
});

describe('the scraper token', () => {
  it('without BSM_METRICS_TOKEN only API keys read /metrics', async () => {
    const t = await makeTestApp('metrics-notoken');
    try {
      expect((await t.call('GET', '/metrics', { role: null, headers: { authorization: `Bearer ${scraperToken}` } })).status).toBe(401);
      expect((await t.call('GET', '/metrics', { role: null, headers: { authorization: `Bearer ${tokens.viewer}` } })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});
