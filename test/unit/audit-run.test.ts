import { describe, expect, it } from 'vitest';
import { inventorySchema, type Target } from '../../src/domain/audit/inventory.js';
import type { ProbeOutcome, Prober } from '../../src/domain/audit/probe.js';
import { recommendationFor } from '../../src/domain/audit/recommendations.js';
import { configHashOf, runAudit, selectTargets, sightingsOf } from '../../src/domain/audit/run.js';
import { probeFlag } from '../../src/probes/flag.probe.js';
import type { GapObservation } from '../../src/domain/gaps/gap.js';

const inventory = inventorySchema.parse({
  defaults: { timeoutMs: 1_000, concurrency: 2 },
  targets: Array.from({ length: 40 }, (_, i) => ({ id: `t-${i}`, kind: 'tcp', component: 'c', criticality: 'low', host: '127.0.0.1', port: 1 })),
});
const version = { version: 1, source: 'api' as const, setBy: 'test', setAt: '2026-11-30T00:00:00.000Z', inventory };
const none: GapObservation = { opened: [], reopened: [], recurring: [], resolved: [] };

/** A probe that takes 50 ms and does not listen to the cancellation itself: the run must stop starting probes. */
function slowProber(started: string[]): Prober {
  return {
    probe: (target: Target) =>
      new Promise<ProbeOutcome>((resolve) => {
        started.push(target.id);
        setTimeout(() => resolve({ targetId: target.id, kind: target.kind, status: 'pass', durationMs: 50, reach: { reachable: true }, observations: [] }), 50);
      }),
  };
}

describe('an audit run', () => {
  it('honours cancellation: probes not started are not started, and nothing is recorded', async () => {
    const started: string[] = [];
    let observed = 0;
    const cancel = new AbortController();
    setTimeout(() => cancel.abort(new Error('emergency shutdown')), 120);
    const run = runAudit(
      { auditId: 'audit-x', type: 'comprehensive', trigger: { by: 't', reason: null, priority: 'medium' }, inventory: version },
      { prober: slowProber(started), gaps: { observe: () => Promise.resolve((observed++, none)) }, history: new Map(), previous: null, clock: () => new Date(), signal: cancel.signal },
    );
    await expect(run).rejects.toThrow();
    // Given time to go on, it does not.
    await new Promise((r) => setTimeout(r, 400));
    // Two at a time, 50 ms each: about six had started when the audit was cancelled at 120 ms.
    expect(started.length).toBeGreaterThan(0);
    expect(started.length).toBeLessThan(12);
    expect(observed).toBe(0);
  });

  it('reports progress as targets finish, and runs at most `concurrency` probes at once', async () => {
    const progress: [number, number][] = [];
    let running = 0;
    let most = 0;
    const prober: Prober = {
      probe: async (target) => {
        most = Math.max(most, ++running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        return { targetId: target.id, kind: target.kind, status: 'pass', durationMs: 5, reach: { reachable: true }, observations: [] };
      },
    };
    const report = await runAudit(
      { auditId: 'audit-y', type: 'comprehensive', trigger: { by: 't', reason: null, priority: 'medium' }, inventory: version },
      { prober, gaps: { observe: () => Promise.resolve(none) }, history: new Map(), previous: null, clock: () => new Date(), signal: new AbortController().signal, onProgress: (d, t) => progress.push([d, t]) },
    );
    expect(most).toBe(2);
    expect(progress[0]).toEqual([0, 40]);
    expect(progress.at(-1)).toEqual([40, 40]);
    expect(report.summary).toEqual({ targets: 40, pass: 40, fail: 0, error: 0, gaps: 0 });
    expect(report.score).toBe(100);
  });

  it('an incremental audit takes what failed, what changed, and what was not probed for an hour', () => {
    const now = new Date('2026-11-30T12:00:00Z');
    const [a, b, c, d] = inventory.targets;
    const recent = new Date(now.getTime() - 10 * 60_000).toISOString();
    const old = new Date(now.getTime() - 61 * 60_000).toISOString();
    const history = new Map([
      [a?.id ?? '', { probedAt: recent, status: 'pass' as const, configHash: selectTargetsHash(a) }],
      [b?.id ?? '', { probedAt: recent, status: 'fail' as const, configHash: selectTargetsHash(b) }],
      [c?.id ?? '', { probedAt: recent, status: 'pass' as const, configHash: 'changed-since' }],
      [d?.id ?? '', { probedAt: old, status: 'pass' as const, configHash: selectTargetsHash(d) }],
    ]);
    const chosen = selectTargets('incremental', inventory.targets.slice(0, 5), { history, now }).map((t) => t.id);
    // a passed 10 minutes ago, unchanged: skipped; e was never probed: taken.
    expect(chosen).toEqual(['t-1', 't-2', 't-3', 't-4']);
  });
});

function selectTargetsHash(t: Target | undefined): string {
  return t === undefined ? '' : configHashOf(t);
}

describe('rule-based recommendations', () => {
  it('a flag the inventory expects enabled is enabled, one it expects disabled is disabled (the probe writes enabled/disabled)', async () => {
    for (const [value, verb] of [
      [false, 'enable'],
      [true, 'disable'],
    ] as const) {
      const target = inventorySchema.parse({ targets: [{ id: 'narratives', kind: 'feature-flag', component: 'c', criticality: 'low', flag: 'llm-narratives', expected: !value }] }).targets[0];
      if (target?.kind !== 'feature-flag') {
        throw new Error('no flag target');
      }
      const { observations } = await probeFlag(target, { flag: () => Promise.resolve(value) });
      const [sighting] = sightingsOf(target, { targetId: target.id, kind: target.kind, status: 'fail', durationMs: 1, reach: { reachable: true }, observations });
      if (!sighting) {
        throw new Error('no sighting');
      }
      const gap = { ...sighting, id: 'gap-1', fingerprint: 'f', status: 'detected' as const, count: 1, firstSeenAt: '', lastSeenAt: '', change: 'new' as const };
      expect(recommendationFor(gap, target).text).toContain(`POST /admin/feature-flags/llm-narratives/${verb})`);
    }
  });
});
