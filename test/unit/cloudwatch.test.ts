import { describe, expect, it } from 'vitest';
import { batches, ItemTooLargeError } from '../../src/domain/cloudwatch/batches.js';
import { buildMetricData, distribution, type Measurements } from '../../src/domain/cloudwatch/build.js';
import { metricCatalog, metricNames, type MetricDatum } from '../../src/domain/cloudwatch/metrics.js';
import { CloudWatchRequestError, CloudWatchThrottledError, type PublishWindows, type Window } from '../../src/domain/cloudwatch/ports.js';
import { createMetricPublisher } from '../../src/domain/cloudwatch/publish.js';
import { backoffMs, retryWhileThrottled } from '../../src/domain/cloudwatch/retry.js';
import { remediationOutcomes } from '../../src/domain/cloudwatch/support-state.js';
import type { FleetSnapshot } from '../../src/domain/fleet/ports.js';
import { queueNames } from '../../src/domain/queue-names.js';
import { initialState } from '../../src/domain/support-mode/state.js';

const at = new Date('2026-11-30T12:00:00.000Z');

function measurements(over: Partial<Measurements> = {}): Measurements {
  return {
    operations: [
      { component: 'meta-monitor', operation: 'analyze-executions', success: 3, errors: 0, latencyMs: new Map([[10, 2], [20, 1]]) },
      { component: 'meta-monitor', operation: 'canary', success: 0, errors: 1, latencyMs: new Map([[30, 1]]) },
      { component: 'bedrock-support', operation: 'daily-check', success: 1, errors: 0, latencyMs: new Map([[10, 1]]) },
    ],
    routingEfficiency: { total: 0.5, byComponent: { 'meta-monitor': 1, 'bedrock-support': 0, compliance: null } },
    llmCostUsd: { total: 0.0042, byComponent: { 'meta-monitor': 0.003, 'bedrock-support': 0.0012 } },
    resources: { process: { cpuPercent: 12.34567, memoryPercent: 3.5, components: ['bedrock-support', 'meta-monitor'] }, queueDepth: { 'bedrock-support': 0, 'meta-monitor': 4, compliance: 1 } },
    state: {
      active: { total: false, byComponent: { 'bedrock-support': true, 'meta-monitor': false } },
      healthy: { total: false, byComponent: { 'bedrock-support': true, 'meta-monitor': false } },
      auditScore: 87,
      openGaps: 5,
      remediations: { verified: 2, failed: 1 },
    },
    ...over,
  };
}

const find = (data: MetricDatum[], name: string, component: string | null) => data.filter((d) => d.name === name && d.component === component);
const valueOf = (data: MetricDatum[], name: string, component: string | null) => {
  const [d, ...more] = find(data, name, component);
  expect(more, `${name} ${component ?? '(total)'} sent once`).toEqual([]);
  return d && 'value' in d ? d.value : undefined;
};

describe('CloudWatch data from measured figures', () => {
  it('sends each figure per component and once without dimensions, with the namespace and unit of the catalog', () => {
    const data = buildMetricData(measurements(), at, queueNames);
    for (const d of data) {
      expect(d.namespace, d.name).toBe(metricCatalog[d.name].namespace);
      expect(d.unit, d.name).toBe(metricCatalog[d.name].unit);
      expect(d.timestamp).toBe(at);
    }
    // Every metric of the catalog is there without dimensions (all were measured here).
    expect(metricNames.filter((n) => find(data, n, null).length === 0)).toEqual([]);
    // Jobs: counts per component, zero for those with none (a measurement), the sum without dimensions.
    expect(queueNames.map((c) => [c, valueOf(data, 'SuccessCount', c), valueOf(data, 'ErrorCount', c)])).toEqual([
      ['bedrock-support', 1, 0],
      ['infrastructure-auditor', 0, 0],
      ['meta-monitor', 3, 1],
      ['implementation-support', 0, 0],
      ['compliance', 0, 0],
    ]);
    expect([valueOf(data, 'SuccessCount', null), valueOf(data, 'ErrorCount', null)]).toEqual([4, 1]);
    // Latency: a distribution per component that finished jobs, merged without dimensions; none where no job finished.
    expect(find(data, 'OperationLatency', 'meta-monitor')).toMatchObject([{ values: [10, 20, 30], counts: [2, 1, 1] }]);
    expect(find(data, 'OperationLatency', 'compliance')).toEqual([]);
    expect(find(data, 'OperationLatency', null)).toMatchObject([{ values: [10, 20, 30], counts: [3, 1, 1] }]);
    // Routing: a percentage where there were decisions that count, nothing where there were none.
    expect([valueOf(data, 'RoutingEfficiency', 'meta-monitor'), valueOf(data, 'RoutingEfficiency', 'bedrock-support'), valueOf(data, 'RoutingEfficiency', null)]).toEqual([100, 0, 50]);
    expect(find(data, 'RoutingEfficiency', 'compliance')).toEqual([]);
    expect([valueOf(data, 'LlmCost', 'meta-monitor'), valueOf(data, 'LlmCost', 'compliance'), valueOf(data, 'LlmCost', null)]).toEqual([0.003, 0, 0.0042]);
    // Resources: the process once per component it runs workers of; queue depths and their sum.
    expect(data.filter((d) => d.name === 'CPUUtilization').map((d) => [d.component, 'value' in d ? d.value : null])).toEqual([
      ['bedrock-support', 12.346],
      ['meta-monitor', 12.346],
      [null, 12.346],
    ]);
    expect([valueOf(data, 'QueueDepth', 'meta-monitor'), valueOf(data, 'QueueDepth', null)]).toEqual([4, 5]);
    // State.
    expect([valueOf(data, 'ActivationStatus', 'bedrock-support'), valueOf(data, 'ActivationStatus', 'meta-monitor'), valueOf(data, 'ActivationStatus', null)]).toEqual([1, 0, 0]);
    expect([valueOf(data, 'ComponentHealthy', 'bedrock-support'), valueOf(data, 'ComponentHealthy', null)]).toEqual([1, 0]);
    expect([valueOf(data, 'AuditScore', null), valueOf(data, 'OpenGaps', null), valueOf(data, 'RemediationsVerified', null), valueOf(data, 'RemediationsFailed', null)]).toEqual([87, 5, 2, 1]);
    // Metrics without a component series are never sent with one.
    expect(data.filter((d) => metricCatalog[d.name].series === 'total' && d.component !== null)).toEqual([]);
  });

  it('leaves out what was not measured: no audit yet, no routing decision that counts, no job finished', () => {
    const data = buildMetricData(measurements({ operations: [], routingEfficiency: { total: null, byComponent: {} }, state: { ...measurements().state, auditScore: null } }), at, queueNames);
    expect(data.filter((d) => ['AuditScore', 'RoutingEfficiency', 'OperationLatency'].includes(d.name))).toEqual([]);
    expect(valueOf(data, 'SuccessCount', null)).toBe(0);
  });

  it('splits a distribution into data of at most 150 distinct values, smallest first', () => {
    const counts = new Map(Array.from({ length: 320 }, (_, i) => [320 - i, i % 3] as [number, number]));
    const chunks = distribution(counts);
    expect(chunks.map((c) => c.values.length)).toEqual([150, 63]);
    const values = chunks.flatMap((c) => c.values);
    expect(values).toEqual([...values].sort((a, b) => a - b));
    expect(chunks.flatMap((c) => c.counts).every((n) => n > 0)).toBe(true);
    expect(chunks.flatMap((c) => c.counts).reduce((a, b) => a + b, 0)).toBe([...counts.values()].reduce((a, b) => a + b, 0));
  });
});

describe('batches within an API limit', () => {
  it('cuts at the item limit and at the byte limit, keeping order', () => {
    const items = Array.from({ length: 2_345 }, (_, i) => i);
    expect(batches(items, { maxItems: 1_000, maxBytes: 1e9, overheadBytes: 0 }, () => 1).map((b) => b.length)).toEqual([1_000, 1_000, 345]);
    const bySize = batches(items.slice(0, 10), { maxItems: 1_000, maxBytes: 100, overheadBytes: 20 }, () => 30);
    expect(bySize).toEqual([[0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]);
    expect(() => batches([1], { maxItems: 10, maxBytes: 100, overheadBytes: 20 }, () => 81)).toThrow(ItemTooLargeError);
  });
});

describe('retrying throttled requests', () => {
  const throttled = () => new CloudWatchThrottledError('throttled', 'Throttling', 400);

  it('waits longer after each throttle, and succeeds when the service does', async () => {
    const waits: number[] = [];
    let calls = 0;
    const r = await retryWhileThrottled(
      () => {
        calls += 1;
        return calls < 3 ? Promise.reject(throttled()) : Promise.resolve('ok');
      },
      { attempts: 5, baseMs: 100, maxMs: 1_000 },
      { throttled: (e) => e instanceof CloudWatchThrottledError, sleep: (ms) => Promise.resolve(void waits.push(ms)), random: () => 1 },
    );
    expect(r).toEqual({ value: 'ok', throttled: 2 });
    expect(waits).toEqual([100, 200]);
    expect(backoffMs({ attempts: 9, baseMs: 100, maxMs: 1_000 }, 8, () => 0)).toBe(500);
  });

  it('gives up after its attempts with the last throttle, and does not retry other errors', async () => {
    let calls = 0;
    const always = retryWhileThrottled(
      () => {
        calls += 1;
        return Promise.reject(throttled());
      },
      { attempts: 3, baseMs: 1, maxMs: 1 },
      { throttled: (e) => e instanceof CloudWatchThrottledError, sleep: () => Promise.resolve() },
    );
    await expect(always).rejects.toBeInstanceOf(CloudWatchThrottledError);
    expect(calls).toBe(3);
    calls = 0;
    const refused = retryWhileThrottled(
      () => {
        calls += 1;
        return Promise.reject(new CloudWatchRequestError('no', 'AccessDenied', 403));
      },
      { attempts: 3, baseMs: 1, maxMs: 1 },
      { throttled: (e) => e instanceof CloudWatchThrottledError, sleep: () => Promise.resolve() },
    );
    await expect(refused).rejects.toThrow('no');
    expect(calls).toBe(1);
  });
});

describe('one publication', () => {
  const snapshot = { at: at.toISOString(), ageMs: 0, redis: { latencyMs: 1 }, mode: initialState(), queues: {} } as unknown as FleetSnapshot;

  it('sends nothing when the previous publication reaches now, and gives the window back when sending fails', async () => {
    const released: Window[] = [];
    const windows = (claimed: Window | null): PublishWindows => ({ claim: () => Promise.resolve(claimed), release: (w) => Promise.resolve(void released.push(w)) });
    const source = {
      performance: () => Promise.resolve([]),
      routingEfficiency: () => Promise.resolve({ total: null, byComponent: {} }),
      llmCostUsd: () => Promise.resolve({ total: 0, byComponent: {} }),
      resources: () => Promise.resolve({ process: { cpuPercent: 1, memoryPercent: 1, components: [] }, queueDepth: {} }),
    };
    const queues = Object.fromEntries(
      queueNames.map((q) => [q, { name: q, paused: true, counts: { waiting: 0, prioritized: 0, active: 0, delayed: 0, completed: 0, failed: 0 }, workers: { count: 0 }, recent: { windowMinutes: 15, completed: 0, failed: 0 }, stalled: 0, lastCompletedAt: null }]),
    );
    const state = {
      snapshot: () => Promise.resolve({ ...snapshot, queues } as FleetSnapshot),
      latestAuditScore: () => Promise.resolve(null),
      openGaps: () => Promise.resolve(0),
      remediations: () => Promise.resolve({ verified: 0, failed: 0 }),
    };
    const common = { source, state, clock: () => at, firstWindowMs: 60_000, maxWindowMs: 3_600_000 };

    const idle = createMetricPublisher({ ...common, api: { putMetricData: () => Promise.reject(new Error('not called')) }, windows: windows(null) });
    expect(await idle.publish()).toEqual({ published: false, reason: 'the previous publication already covers the time up to now' });

    const window = { from: new Date(at.getTime() - 60_000), to: at };
    const namespacesSent: string[] = [];
    const ok = createMetricPublisher({ ...common, api: { putMetricData: (ns) => (namespacesSent.push(ns), Promise.resolve({ requests: 1, throttled: 0 })) }, windows: windows(window) });
    const result = await ok.publish();
    expect(result).toMatchObject({ published: true, window: { from: window.from.toISOString(), to: at.toISOString() }, requests: 3, throttled: 0 });
    expect(namespacesSent).toEqual(['BedrockSupport/Performance', 'BedrockSupport/Resources', 'BedrockSupport/Operations']);

    const failing = createMetricPublisher({ ...common, api: { putMetricData: () => Promise.reject(new CloudWatchRequestError('denied', 'AccessDenied', 403)) }, windows: windows(window) });
    await expect(failing.publish()).rejects.toThrow('denied');
    expect(released).toEqual([window]);
  });

  it('counts the remediations verified and failed inside the window only', () => {
    const ev = (event: string, atIso: string) => ({ at: atIso, event, by: 'x', detail: '' });
    const requests = [
      { events: [ev('requested', '2026-11-30T11:59:10.000Z'), ev('verified', '2026-11-30T11:59:30.000Z')] },
      { events: [ev('failed', '2026-11-30T11:58:59.999Z'), ev('failed', '2026-11-30T11:59:00.000Z'), ev('verified', '2026-11-30T12:00:00.000Z')] },
    ] as Parameters<typeof remediationOutcomes>[0];
    expect(remediationOutcomes(requests, { from: new Date('2026-11-30T11:59:00.000Z'), to: at })).toEqual({ verified: 1, failed: 1 });
  });
});
