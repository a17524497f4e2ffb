import { describe, expect, it } from 'vitest';
import { analysisPartSchema, ExecutionAnalyzer, type AnalyzedExecution } from '../../src/domain/meta-monitor/analysis.js';
import { metaMonitorSettingsSchema } from '../../src/domain/meta-monitor/config.js';
import { clusterIdOf, TemplateMiner } from '../../src/domain/meta-monitor/template-miner.js';
import { plantedBudgetMs, plantedOperations, plantedRecords, plantedTemplates, type PlantedRecord } from '../helpers/executions.js';

const hour = 3_600_000;
const to = Date.UTC(2026, 10, 30, 12);
const window = { from: new Date(to - hour), to: new Date(to) };
const previous = { from: new Date(to - 2 * hour), to: new Date(to - hour) };
const settings = metaMonitorSettingsSchema.parse({ latencyBudgetsMs: { [plantedOperations.slow]: plantedBudgetMs } });

const asAnalyzed = (r: PlantedRecord): AnalyzedExecution => ({
  id: r.executionId,
  timestamp: r.timestamp,
  operation: r.operation,
  status: r.status,
  latencyMs: r.latencyMs,
  ...(r.error ? { errorType: r.error.type, errorMessage: r.error.message } : {}),
});

const before = plantedRecords({ seed: 1, count: 4_000, from: previous.from.getTime(), to: previous.to.getTime(), degradedMs: 200, idPrefix: 'prev' }).map(asAnalyzed);
const now = plantedRecords({ seed: 2, count: 4_000, from: window.from.getTime(), to: window.to.getTime(), degradedMs: 400, idPrefix: 'cur' }).map(asAnalyzed);
const analyzer = () => new ExecutionAnalyzer({ source: 'agent', focus: 'all', settings, clusterer: new TemplateMiner(), clusterIdOf });

/** Slice `i` of `parts` of [from, to), as the flow cuts a window. */
const inSlice = (e: AnalyzedExecution, w: { from: Date; to: Date }, i: number, parts: number) => {
  const length = w.to.getTime() - w.from.getTime();
  const lo = w.from.getTime() + Math.floor((length * i) / parts);
  const hi = w.from.getTime() + Math.floor((length * (i + 1)) / parts);
  return e.timestamp >= lo && e.timestamp < hi;
};

describe('analysis in parts', () => {
  it('merges four parts into the result one analyzer gives: counts, sketches and clusters', () => {
    const whole = analyzer();
    before.forEach((e) => whole.addPrevious(e));
    now.forEach((e) => whole.add(e));
    const single = whole.result(window, previous);

    const merged = analyzer();
    for (let i = 0; i < 4; i++) {
      const part = analyzer();
      before.filter((e) => inSlice(e, previous, i, 4)).forEach((e) => part.addPrevious(e));
      now.filter((e) => inSlice(e, window, i, 4)).forEach((e) => part.add(e));
      // Through JSON and the schema, as a child job's return value travels.
      merged.mergePart(analysisPartSchema.parse(JSON.parse(JSON.stringify(part.part()))));
    }
    const flow = merged.result(window, previous);

    expect(single.executions).toBe(4_000);
    expect(single.clusters.map((c) => c.count).sort()).toHaveLength(plantedTemplates.length);
    expect(flow).toEqual(single);
  });

  it('re-mines cluster representatives: a template whose variables differ across parts is one cluster', () => {
    const merged = analyzer();
    for (const [i, user] of ['alice', 'bob', 'carol', 'dave'].entries()) {
      const part = analyzer();
      for (let k = 0; k < 3; k++) {
        part.add({ id: `${user}-${k}`, timestamp: window.from.getTime() + i * 60_000 + k, operation: 'login', status: 'failure', latencyMs: 5, errorMessage: `session refused for remote user ${user} by the policy engine today` });
      }
      merged.mergePart(part.part());
    }
    const result = merged.result(window, previous);
    expect(result.clusters).toHaveLength(1);
    expect(result.clusters[0]?.count).toBe(12);
    expect(result.clusters[0]?.template).toBe('session refused for remote user <*> by the policy engine today');
    expect(result.clusters[0]?.sampleExecutionIds).toEqual(['alice-0', 'alice-1', 'alice-2', 'bob-0', 'bob-1']);
  });
});
