/**
 * The meta-monitor's analysis as a BullMQ flow (BSM_ANALYSIS_PARTS): planted executions analysed
 * once by one worker and once as four child jobs over three workers, merged by the parent; the
 * results agree (counts and clusters exactly, percentiles within the sketch's error), and a child
 * that fails fails the analysis.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PermanentJobError } from '../../src/jobs/define.js';
import type { JobDeps } from '../../src/jobs/deps.js';
import type { Runner } from '../../src/workers/runner.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { plantedBudgetMs, plantedOperations, plantedRecords, plantedTemplates } from '../helpers/executions.js';
import { eventually, startTestRunner } from '../helpers/fleet.js';

const base = '/admin/bedrock-support/meta-monitor';
const hour = 3_600_000;

interface Latency {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  mean: number | null;
  max: number | null;
}
interface Result {
  analysisId: string;
  executions: number;
  previousExecutions: number;
  statuses: Record<string, number>;
  latencyMs: Latency;
  quantileRelativeError: number;
  operations: { operation: string; executions: number; failures: number; timeouts: number; latencyMs: Latency }[];
  clusters: { id: string; template: string; count: number; firstSeen: string; lastSeen: string; operations: string[]; errorTypes: string[] }[];
  clustersTotal: number;
  bottlenecks: unknown[];
  degradations: unknown[];
  healthScore: unknown;
  recommendations: { id: string }[];
  performance: { records: number; parts: number };
}

let t: TestApp;
const runners: Runner[] = [];
const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

/** The deps every runner of this test shares: the split is switched between the two analyses. */
let deps: JobDeps;
const to = Date.now() - 60_000;
const window = { from: new Date(to - hour).toISOString(), to: new Date(to).toISOString() };

async function start(body: unknown): Promise<string> {
  const res = await t.call('POST', `${base}/analyze`, { role: 'operator', body });
  expect(res.status).toBe(202);
  return (await json<{ analysisId: string }>(res)).analysisId;
}

async function analysis(body: unknown): Promise<Result> {
  const id = await start(body);
  return eventually(async () => {
    const r = await t.call('GET', `${base}/results/${id}`, { role: 'viewer' });
    return r.status === 200 ? json<Result>(r) : null;
  }, 60_000);
}

const within = (a: number | null, b: number | null, relative: number) => a !== null && b !== null && Math.abs(a - b) <= relative * Math.max(Math.abs(a), Math.abs(b)) + 0.1;

beforeAll(async () => {
  t = await makeTestApp('analysis-flow');
  deps = { ...t.adapters.jobDeps, metaMonitor: { ...t.adapters.jobDeps.metaMonitor, analysisParts: 1 } };
  for (let i = 0; i < 3; i++) {
    runners.push(startTestRunner(t, ['meta-monitor'], { deps }));
  }
  expect((await t.call('POST', '/admin/bedrock-support/enable')).status).toBe(200);
  expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'meta-monitor' } })).status).toBe(200);
  const previous = plantedRecords({ seed: 21, count: 4_000, from: to - 2 * hour + 5_000, to: to - hour, degradedMs: 200, idPrefix: 'prev' });
  const current = plantedRecords({ seed: 22, count: 4_000, from: to - hour + 5_000, to: to - 1, degradedMs: 400, idPrefix: 'cur' });
  const all = [...previous, ...current];
  for (let i = 0; i < all.length; i += 1_000) {
    expect((await t.call('POST', `${base}/executions`, { role: 'ingest', body: all.slice(i, i + 1_000) })).status).toBe(200);
  }
  expect((await t.call('PUT', `${base}/config`, { role: 'admin', body: { latencyBudgetsMs: { [plantedOperations.slow]: plantedBudgetMs } } })).status).toBe(200);
});

afterAll(async () => {
  await Promise.all(runners.map((r) => r.close()));
  await t.close();
});

describe('an analysis split into a flow of four parts', () => {
  let single: Result;
  let flow: Result;

  beforeAll(async () => {
    deps.metaMonitor.analysisParts = 1;
    single = await analysis({ ...window, focus: 'all' });
    deps.metaMonitor.analysisParts = 4;
    flow = await analysis({ ...window, focus: 'all' });
  });

  it('ran as four child jobs of the analysis job, the parent keeping the analysis id', async () => {
    expect(single.performance.parts).toBe(1);
    expect(flow.performance.parts).toBe(4);
    const q = t.fleet.queue('meta-monitor');
    const children = await Promise.all([0, 1, 2, 3].map((i) => q.getJob(`${flow.analysisId}.part-${i}`)));
    for (const child of children) {
      expect(child?.name).toBe('analyze-executions-part');
      expect(child?.parent?.id).toBe(flow.analysisId);
      expect(await child?.getState()).toBe('completed');
    }
    const parent = await q.getJob(flow.analysisId);
    expect(parent?.name).toBe('analyze-executions');
    expect(Object.keys((await parent?.getChildrenValues()) ?? {})).toHaveLength(4);
  });

  it('counts exactly what one worker counts', () => {
    expect(single.executions).toBe(4_000);
    expect(flow.executions).toBe(single.executions);
    expect(flow.previousExecutions).toBe(single.previousExecutions);
    expect(flow.statuses).toEqual(single.statuses);
    expect(flow.performance.records).toBe(single.performance.records);
    const counts = (r: Result) => r.operations.map((o) => ({ operation: o.operation, executions: o.executions, failures: o.failures, timeouts: o.timeouts }));
    expect(counts(flow)).toEqual(counts(single));
  });

  it('finds the same failure clusters, with the same counts and ids', () => {
    expect(single.clusters).toHaveLength(plantedTemplates.length);
    expect(flow.clustersTotal).toBe(single.clustersTotal);
    const clusters = (r: Result) => r.clusters.map((c) => ({ id: c.id, template: c.template, count: c.count, firstSeen: c.firstSeen, lastSeen: c.lastSeen, operations: c.operations, errorTypes: c.errorTypes }));
    expect(clusters(flow)).toEqual(clusters(single));
  });

  it('answers every percentile within the sketch error, and draws the same findings', () => {
    const e = single.quantileRelativeError;
    for (const [a, b] of [[single.latencyMs, flow.latencyMs], ...single.operations.map((o, i) => [o.latencyMs, flow.operations[i]?.latencyMs ?? null])] as [Latency, Latency | null][]) {
      for (const q of ['p50', 'p90', 'p95', 'p99', 'mean', 'max'] as const) {
        expect(within(a[q], b?.[q] ?? null, e), `${q}: ${a[q]} vs ${b?.[q]}`).toBe(true);
      }
    }
    expect(flow.bottlenecks).toEqual(single.bottlenecks);
    expect(flow.degradations).toEqual(single.degradations);
    expect(flow.healthScore).toEqual(single.healthScore);
    expect(flow.recommendations.map((r) => r.id)).toEqual(single.recommendations.map((r) => r.id));
  });
});

describe('a flow cancelled', () => {
  it('hands its running parts back to waiting; the parent waits for them and completes once workers run them', async () => {
    deps.metaMonitor.analysisParts = 4;
    let started = 0;
    // A worker whose parts run until they are cancelled (as at an emergency shutdown).
    const stuck = startTestRunner(t, ['meta-monitor'], {
      deps,
      handlers: {
        'meta-monitor': {
          'analyze-executions-part': (_job, ctx) => {
            started += 1;
            return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('cancelled')), { once: true }));
          },
        },
      },
    });
    await Promise.all(runners.splice(0).map((r) => r.close()));
    const id = await start({ ...window, focus: 'all' });
    await eventually(() => Promise.resolve(started > 0 ? true : null), 20_000);
    // A shutdown past its grace period (1 s here) cancels the running parts, as an emergency shutdown does.
    await stuck.close();
    const q = t.fleet.queue('meta-monitor');
    const states = await Promise.all([0, 1, 2, 3].map(async (i) => (await q.getJob(`${id}.part-${i}`))?.getState()));
    expect(states.every((s) => s === 'waiting' || s === 'prioritized')).toBe(true);
    expect(await (await q.getJob(id))?.getState()).toBe('waiting-children');
    // The API's answer meanwhile: queued, at the progress of no part done.
    const pending = await t.call('GET', `${base}/results/${id}`, { role: 'viewer' });
    expect(pending.status).toBe(202);
    expect(await json<unknown>(pending)).toEqual({ analysisId: id, state: 'queued', progress: { percent: 10 } });
    // Workers with the real handlers take the parts back; the analysis completes.
    runners.push(startTestRunner(t, ['meta-monitor'], { deps }), startTestRunner(t, ['meta-monitor'], { deps }));
    const result = await eventually(async () => {
      const r = await t.call('GET', `${base}/results/${id}`, { role: 'viewer' });
      return r.status === 200 ? json<Result>(r) : null;
    }, 30_000);
    expect(result.executions).toBe(4_000);
    expect(result.performance.parts).toBe(4);
  }, 60_000);
});

describe('a child that fails', () => {
  it('fails the analysis, whose status says which part failed', async () => {
    const failing = startTestRunner(t, ['meta-monitor'], {
      deps,
      handlers: {
        'meta-monitor': {
          'analyze-executions-part': (job) => (job.data.part === 2 ? Promise.reject(new PermanentJobError('part 2 could not read its slice')) : Promise.resolve({})),
        },
      },
    });
    // Only the failing runner takes parts: the others are closed for this test.
    await Promise.all(runners.splice(0).map((r) => r.close()));
    runners.push(failing);
    deps.metaMonitor.analysisParts = 4;
    const id = await start({ ...window, focus: 'all' });
    const answer = await eventually(async () => {
      const r = await t.call('GET', `${base}/results/${id}`, { role: 'viewer' });
      return r.status === 409 ? json<{ error: { message: string } }>(r) : null;
    }, 20_000);
    expect(answer.error.message).toContain(`analysis ${id} failed`);
    expect(answer.error.message).toContain(`${id}.part-2 failed (part 2 could not read its slice)`);
    const child = await t.fleet.queue('meta-monitor').getJob(`${id}.part-2`);
    expect(child?.failedReason).toBe('part 2 could not read its slice');
  }, 40_000);
});
