/**
 * What a run's sightings and a person's decision do to gaps: pure functions of the gaps as they
 * were, the input and the time. The gap store reads, applies these and writes, atomically.
 */
import { gapFingerprint, gapIdOf, type Gap, type GapObservation, type GapSighting, type GapSource, type GapStatus } from './gap.js';

/** Status changes kept per gap, newest last. */
export const gapHistoryLimit = 50;

/** A gap the auditor may still resolve: neither resolved nor dismissed. */
export function isOpenGap(status: GapStatus): boolean {
  return status !== 'resolved' && status !== 'dismissed';
}

/** The gap store could not write because other writers kept changing the same gaps. */
export class GapStoreBusyError extends Error {
  override readonly name = 'GapStoreBusyError';
}

/** One run of a source: the audit or analysis, when it ran, and the subjects it looked at. */
export interface GapRun {
  source: GapSource;
  runId: string;
  at: Date;
  scope: readonly string[];
}

/** A sighting with its fingerprint and gap id. */
export interface DistinctSighting {
  id: string;
  fingerprint: string;
  sighting: GapSighting;
}

/** One sighting per problem: a fingerprint seen twice in a run counts once, its last sighting wins. */
export function distinctSightings(sightings: readonly GapSighting[]): DistinctSighting[] {
  const byFingerprint = new Map<string, DistinctSighting>();
  for (const sighting of sightings) {
    const fingerprint = gapFingerprint(sighting);
    byFingerprint.set(fingerprint, { id: gapIdOf(fingerprint), fingerprint, sighting });
  }
  return [...byFingerprint.values()];
}

/** A gap before (null: new) and after a change. */
export interface GapChange {
  before: Gap | null;
  after: Gap;
}

/**
 * Applies one run. `known` holds the stored gaps of the sighted ids; `candidates` the stored gaps
 * that may be resolved (any superset of the open gaps of the run's source in its scope: the rule
 * is checked here). Returns what changed, to write, and the observation to report.
 */
export function observeRun(
  run: GapRun,
  sightings: readonly DistinctSighting[],
  known: ReadonlyMap<string, Gap>,
  candidates: readonly Gap[],
): { changes: GapChange[]; observation: GapObservation } {
  const at = run.at.toISOString();
  const observation: GapObservation = { opened: [], reopened: [], recurring: [], resolved: [] };
  const changes: GapChange[] = [];

  for (const { id, fingerprint, sighting } of sightings) {
    const before = known.get(id) ?? null;
    const latest = {
      source: sighting.source,
      subject: sighting.subject,
      check: sighting.check,
      type: sighting.type,
      severity: sighting.severity,
      title: sighting.title,
      components: [...sighting.components],
      evidence: { expected: sighting.evidence.expected, observed: sighting.evidence.observed },
    };
    if (before === null) {
      const after: Gap = {
        id,
        fingerprint,
        ...latest,
        status: 'detected',
        count: 1,
        firstSeenAt: at,
        lastSeenAt: at,
        lastSeenBy: run.runId,
        reopenedCount: 0,
        history: [{ at, from: null, to: 'detected', by: run.runId }],
      };
      changes.push({ before, after });
      observation.opened.push(after);
      continue;
    }
    const seen: Gap = { ...before, ...latest, count: before.count + 1, lastSeenAt: at, lastSeenBy: run.runId };
    if (before.status === 'resolved') {
      const { resolvedAt: _at, resolvedBy: _by, ...open } = seen;
      const after: Gap = { ...open, status: 'detected', reopenedCount: before.reopenedCount + 1, history: appendHistory(before, { at, from: 'resolved', to: 'detected', by: run.runId }) };
      changes.push({ before, after });
      observation.reopened.push(after);
    } else {
      changes.push({ before, after: seen });
      observation.recurring.push(seen);
    }
  }

  // Sighted gaps and the ones resolved here: a candidate listed twice resolves once.
  const handled = new Set(sightings.map((s) => s.id));
  const scope = new Set(run.scope);
  for (const before of candidates) {
    if (before.source !== run.source || !scope.has(before.subject) || handled.has(before.id) || !isOpenGap(before.status)) {
      continue;
    }
    const after: Gap = { ...before, status: 'resolved', resolvedAt: at, resolvedBy: run.runId, history: appendHistory(before, { at, from: before.status, to: 'resolved', by: run.runId }) };
    handled.add(before.id);
    changes.push({ before, after });
    observation.resolved.push(after);
  }
  return { changes, observation };
}

/**
 * Moves a gap to `to`, whoever decides it. Leaving `resolved` or `dismissed` drops what described
 * that state (the history keeps the change). Moving to the status it has changes nothing: the
 * same gap comes back.
 */
export function transitionGap(gap: Gap, to: GapStatus, by: string, at: Date, extra: { reason?: string } = {}): Gap {
  if (gap.status === to) {
    return gap;
  }
  const when = at.toISOString();
  const { resolvedAt: _resolvedAt, resolvedBy: _resolvedBy, dismissed: _dismissed, ...rest } = gap;
  const moved: Gap = { ...rest, status: to, history: appendHistory(gap, { at: when, from: gap.status, to, by }) };
  if (to === 'resolved') {
    return { ...moved, resolvedAt: when, resolvedBy: by };
  }
  if (to === 'dismissed') {
    return { ...moved, dismissed: { by, reason: extra.reason ?? '', at: when } };
  }
  return moved;
}

function appendHistory(gap: Gap, entry: Gap['history'][number]): Gap['history'] {
  return [...gap.history, entry].slice(-gapHistoryLimit);
}
