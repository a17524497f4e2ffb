import { describe, expect, it } from 'vitest';
import { ExecutionAnalyzer, type AnalyzedExecution, type QueueLimits } from '../../src/domain/meta-monitor/analysis.js';
import { defaultMetaMonitorSettings, metaMonitorSettingsSchema } from '../../src/domain/meta-monitor/config.js';
import { QuantileSketch } from '../../src/domain/meta-monitor/sketch.js';
import { clusterIdOf, TemplateMiner } from '../../src/domain/meta-monitor/template-miner.js';
import { plantedBudgetMs, plantedOperations, plantedRecords, plantedTemplates, seeded, type PlantedRecord } from '../helpers/executions.js';

const hour = 3_600_000;
const to = Date.UTC(2026, 10, 30, 12);
const window = { from: new Date(to - hour), to: new Date(to) };
const previous = { from: new Date(to - 2 * hour), to: new Date(to - hour) };

const asAnalyzed = (r: PlantedRecord): AnalyzedExecution => ({
  id: r.executionId,
  timestamp: r.timestamp,
  operation: r.operation,
  status: r.status,
  latencyMs: r.latencyMs,
  ...(r.error ? { errorType: r.error.type, errorMessage: r.error.message } : {}),
});

function analyze(settings = metaMonitorSettingsSchema.parse({ latencyBudgetsMs: { [plantedOperations.slow]: plantedBudgetMs } }), focus: 'all' | 'performance' | 'failures' = 'all') {
  const analyzer = new ExecutionAnalyzer({ source: 'agent', focus, settings, clusterer: new TemplateMiner(), clusterIdOf });
  for (const r of plantedRecords({ seed: 1, count: 3_000, from: previous.from.getTime(), to: previous.to.getTime(), degradedMs: 200, idPrefix: 'prev' })) {
    analyzer.addPrevious(asAnalyzed(r));
  }
  for (const r of plantedRecords({ seed: 2, count: 3_000, from: window.from.getTime(), to: window.to.getTime(), degradedMs: 400, idPrefix: 'cur' })) {
    analyzer.add(asAnalyzed(r));
  }
  return analyzer.result(window, previous);
}

describe('quantile sketch', () => {
  it('answers every quantile within its relative error of the exact nearest-rank value', () => {
    const r = seeded(7);
    const values = Array.from({ length: 20_000 }, () => Math.exp(r() * 12) / 10);
    const sketch = new QuantileSketch();
    values.forEach((v) => sketch.add(v));
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1] as number;
      expect(Math.abs((sketch.quantile(q) as number) - exact) / exact).toBeLessThanOrEqual(sketch.relativeError + 1e-9);
    }
    expect(sketch.size).toBeLessThan(800);
  });

  it('merges exactly: two halves merged answer as the whole', () => {
    const r = seeded(8);
    const whole = new QuantileSketch();
    const a = new QuantileSketch();
    const b = new QuantileSketch();
    for (let i = 0; i < 5_000; i++) {
      const v = r() * 1_000;
      whole.add(v);
      (i % 2 === 0 ? a : b).add(v);
    }
    a.merge(b);
    for (const q of [0.5, 0.95, 0.99]) {
      expect(a.quantile(q)).toBe(whole.quantile(q));
    }
    expect(a.count).toBe(whole.count);
  });

  it('refuses what is not a latency', () => {
    expect(() => new QuantileSketch().add(-1)).toThrow(RangeError);
    expect(() => new QuantileSketch().add(Number.NaN)).toThrow(RangeError);
  });
});

describe('execution analysis with planted truth', () => {
  it('finds exactly the three failure clusters, with stable ids', () => {
    const result = analyze();
    expect(result.clusters).toHaveLength(3);
    expect(result.clustersTotal).toBe(3);
    const failures = result.executions - (result.statuses.success ?? 0);
    expect(result.clusters.reduce((s, c) => s + c.count, 0)).toBe(failures);
    for (const t of plantedTemplates) {
      const cluster = result.clusters.find((c) => c.errorTypes.includes(t.type));
      expect(cluster, t.type).toBeDefined();
      expect(cluster?.errorTypes).toEqual([t.type]);
      expect(cluster?.sampleExecutionIds.length).toBe(5);
      expect(cluster?.id).toMatch(/^cl-[0-9a-f]{12}$/);
    }
    // The same failures analysed again (other ids, paths, numbers) keep their cluster ids.
    const again = analyze();
    expect(again.clusters.map((c) => c.id).sort()).toEqual(result.clusters.map((c) => c.id).sort());
  });

  it('finds the slow operation as the one bottleneck over budget, with its numbers', () => {
    const result = analyze();
    const over = result.bottlenecks.filter((b) => b.kind === 'over_budget');
    expect(over.map((b) => b.operation)).toEqual([plantedOperations.slow]);
    expect(over[0]?.measured).toBeGreaterThan(3_500);
    expect(over[0]?.limit).toBe(plantedBudgetMs);
    expect(result.bottlenecks.every((b) => b.operation === plantedOperations.slow)).toBe(true);
  });

  it('finds the degradation of the degraded operation, classed P1 (latency doubled), and nothing else', () => {
    const result = analyze();
    expect(result.degradations).toEqual([
      expect.objectContaining({ scope: plantedOperations.degraded, metric: 'latency_p95', level: 'P1' }),
    ]);
    const d = result.degradations[0];
    expect(d?.changePercent).toBeGreaterThan(80);
    expect(d?.changePercent).toBeLessThan(120);
  });

  it('classes a smaller degradation P2 against the configured levels', () => {
    const analyzer = new ExecutionAnalyzer({ source: 'agent', focus: 'performance', settings: defaultMetaMonitorSettings, clusterer: new TemplateMiner(), clusterIdOf });
    plantedRecords({ seed: 3, count: 2_000, from: previous.from.getTime(), to: previous.to.getTime(), degradedMs: 200, idPrefix: 'p' }).forEach((r) => analyzer.addPrevious(asAnalyzed(r)));
    plantedRecords({ seed: 3, count: 2_000, from: window.from.getTime(), to: window.to.getTime(), degradedMs: 260, idPrefix: 'c' }).forEach((r) => analyzer.add(asAnalyzed(r)));
    const result = analyzer.result(window, previous);
    expect(result.degradations.map((d) => [d.scope, d.metric, d.level])).toEqual([[plantedOperations.degraded, 'latency_p95', 'P2']]);
    // performance focus: no clustering done
    expect(result.clusters).toEqual([]);
  });

  it('computes success rate, percentiles and a health score that follows its formula', () => {
    const result = analyze();
    expect(result.executions).toBe(3_000);
    expect(result.successRate).toBe(0.9);
    const slow = result.operations.find((o) => o.operation === plantedOperations.slow);
    expect(slow?.latencyMs.p50).toBeGreaterThan(2_800);
    expect(slow?.latencyMs.p50).toBeLessThan(3_200);
    const h = result.healthScore;
    expect(h.stability).toBe(0);
    expect(h.withinBudget).toBeCloseTo(0.8, 2);
    expect(h.score).toBe(Math.round(100 * (0.5 * 0.9 + 0.3 * (h.withinBudget as number) + 0.2 * 0)));
  });

  it('recommends with stable ids; the agent gets advice, a throttled fleet queue gets a rate limit it can apply', () => {
    const first = analyze().recommendations;
    expect(first.map((r) => r.id)).toEqual(analyze().recommendations.map((r) => r.id));
    expect(first.every((r) => r.action === null)).toBe(true);
    expect(first.map((r) => r.rule)).toEqual(expect.arrayContaining(['operation-over-budget', 'fix-failure-cluster', 'investigate-degradation']));

    const analyzer = new ExecutionAnalyzer({ source: 'fleet', focus: 'all', settings: defaultMetaMonitorSettings, clusterer: new TemplateMiner(), clusterIdOf });
    const r = seeded(4);
    for (let i = 0; i < 600; i++) {
      const failed = i % 3 === 0;
      analyzer.add({
        id: `j${i}`,
        timestamp: window.from.getTime() + i * 5_000,
        operation: 'implementation-support/canary',
        queue: 'implementation-support',
        status: failed ? 'failure' : 'success',
        latencyMs: 20 + r() * 10,
        waitMs: 10,
        ...(failed ? { errorMessage: `ThrottlingException: Rate exceeded for request ${Math.floor(r() * 1e9)}` } : {}),
      });
    }
    const limits = new Map<string, QueueLimits>([['implementation-support', { globalConcurrency: null, workerConcurrency: 4, globalRateLimit: null, workerRateLimit: { max: 30, durationMs: 60_000 } }]]);
    const recs = analyzer.result(window, previous, limits).recommendations;
    const limit = recs.find((x) => x.rule === 'rate-limit-throttled-queue');
    // One every 5 s, two in three succeed: 8 successes in the busiest minute, 80 % of it rounds down to 6.
    expect(limit?.action).toEqual({ kind: 'queue.rate-limit', queue: 'implementation-support', limit: { max: 6, durationMs: 60_000 } });
  });
});
