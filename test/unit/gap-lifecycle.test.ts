import { describe, expect, it } from 'vitest';
import { gapFingerprint, gapIdOf, type Gap, type GapSighting, type GapStatus } from '../../src/domain/gaps/gap.js';
import { distinctSightings, observeRun, transitionGap } from '../../src/domain/gaps/lifecycle.js';

const at = new Date('2026-01-01T10:00:00.000Z');

function gap(subject: string, status: GapStatus, over: Partial<GapSighting> = {}): Gap {
  const s: GapSighting = { source: 'audit', subject, check: 'status', type: 'broken_integration', severity: 'high', title: subject, components: [], evidence: { expected: 'a', observed: 'b' }, ...over };
  const fingerprint = gapFingerprint(s);
  return { ...s, id: gapIdOf(fingerprint), fingerprint, status, count: 1, firstSeenAt: at.toISOString(), lastSeenAt: at.toISOString(), lastSeenBy: 'audit-0', reopenedCount: 0, history: [] };
}

describe('gap lifecycle', () => {
  it('resolves only the open gaps of the run’s source in its scope that it did not see, once each', () => {
    const open = gap('api', 'awaiting_approval');
    const seen = gap('db', 'detected');
    const candidates = [open, open, seen, gap('out-of-scope', 'detected'), gap('api', 'detected', { source: 'meta-monitor' }), gap('api', 'dismissed', { check: 'tls' }), gap('api', 'resolved', { check: 'dns' })];
    const { changes, observation } = observeRun({ source: 'audit', runId: 'audit-1', at, scope: ['api', 'db'] }, distinctSightings([seen]), new Map([[seen.id, seen]]), candidates);
    expect(observation.resolved.map((g) => g.id)).toEqual([open.id]);
    expect(observation.resolved[0]).toMatchObject({ status: 'resolved', resolvedBy: 'audit-1', history: [{ from: 'awaiting_approval', to: 'resolved', by: 'audit-1' }] });
    expect(observation.recurring.map((g) => g.id)).toEqual([seen.id]);
    expect(changes).toHaveLength(2);
  });

  it('a move to the status a gap has is no change; leaving dismissed forgets the dismissal', () => {
    const dismissed = transitionGap(gap('api', 'detected'), 'dismissed', 'ops', at, { reason: 'known' });
    expect(transitionGap(dismissed, 'dismissed', 'someone else', at, { reason: 'other' })).toBe(dismissed);
    const back = transitionGap(dismissed, 'detected', 'ops', at);
    expect(back.dismissed).toBeUndefined();
    expect(back.history.map((h) => h.to)).toEqual(['dismissed', 'detected']);
  });
});
