/**
 * One audit: choose the targets its type asks for, probe them concurrently within their
 * timeouts, turn every unmet expectation into a gap sighting, record the sightings in the gap
 * store (which resolves what this audit no longer saw), and build the report.
 */
import { setMaxListeners } from 'node:events';
import { canonicalJson, sha256 } from '../audit-trail/canonical.js';
import { jobIdOfPublic, publicIdOf } from '../public-ids.js';
import { severityOf, type Gap, type GapObservation, type GapSighting, type GapStore } from '../gaps/gap.js';
import type { InventoryVersion, Target } from './inventory.js';
import type { ProbeOutcome, Prober } from './probe.js';
import { recommendationFor } from './recommendations.js';
import { overallStatusOf, scoreOf, summaryOf, type AuditReport, type AuditType, type ReportGap, type TargetResult } from './report.js';

/** Audit ids are `audit-…` (see `domain/public-ids.ts`). */
export const auditIdOf = (jobId: string): string => publicIdOf('audit', jobId);

/** The job id of an audit id, or null when it is not one. */
export const jobIdOfAudit = (auditId: string): string | null => jobIdOfPublic('audit', auditId);

/** A target's configuration, hashed: an incremental audit probes a target whose configuration changed. */
export function configHashOf(target: Target): string {
  return sha256(canonicalJson(target)).slice(0, 16);
}

/** What earlier audits saw of a target: the latest time it was probed, its status then and its configuration. */
export interface TargetHistory {
  probedAt: string;
  status: TargetResult['status'];
  configHash: string;
}

/** An incremental audit probes what failed last time, what changed, and whatever was not probed for this long. */
export const incrementalMaxAgeMs = 60 * 60 * 1000;

export class UnknownTargetsError extends Error {
  override readonly name = 'UnknownTargetsError';
  constructor(readonly unknown: string[]) {
    super(`unknown target id${unknown.length === 1 ? '' : 's'}: ${unknown.join(', ')}`);
  }
}

/**
 * The targets an audit of `type` probes. `targeted` takes the named ids (an unknown one is an
 * {@link UnknownTargetsError}); `incremental` those that failed last time, changed since, or were
 * not probed within {@link incrementalMaxAgeMs}.
 */
export function selectTargets(type: AuditType, targets: readonly Target[], options: { ids?: readonly string[]; history: ReadonlyMap<string, TargetHistory>; now: Date }): Target[] {
  if (type === 'targeted') {
    const ids = options.ids ?? [];
    const known = new Set(targets.map((t) => t.id));
    const unknown = ids.filter((id) => !known.has(id));
    if (unknown.length > 0 || ids.length === 0) {
      throw new UnknownTargetsError(ids.length === 0 ? ['(none given: a targeted audit names its targets)'] : unknown);
    }
    const wanted = new Set(ids);
    return targets.filter((t) => wanted.has(t.id));
  }
  if (type === 'comprehensive') {
    return [...targets];
  }
  return targets.filter((t) => {
    const h = options.history.get(t.id);
    return h === undefined || h.status !== 'pass' || h.configHash !== configHashOf(t) || options.now.getTime() - Date.parse(h.probedAt) >= incrementalMaxAgeMs;
  });
}

/** Every unmet expectation of a probed target, as a gap sighting of the auditor. */
export function sightingsOf(target: Target, outcome: ProbeOutcome): GapSighting[] {
  return outcome.observations
    .filter((o) => !o.met)
    .map((o) => ({
      source: 'audit' as const,
      subject: target.id,
      check: o.check,
      type: o.gapType,
      severity: severityOf(o.gapType, target.criticality),
      title: `${target.id}: ${o.title}`,
      components: [target.component],
      evidence: { expected: o.expected, observed: o.observed },
    }));
}

export interface AuditRunInput {
  auditId: string;
  type: AuditType;
  trigger: AuditReport['trigger'];
  inventory: InventoryVersion;
  targetIds?: readonly string[];
}

export interface AuditRunDeps {
  prober: Prober;
  gaps: Pick<GapStore, 'observe'>;
  /** What earlier audits saw of each target (for incremental audits). */
  history: ReadonlyMap<string, TargetHistory>;
  /** The previous audit's id and score, for the trend. */
  previous: { auditId: string; score: number } | null;
  clock: () => Date;
  /** Told as targets finish: done of total. */
  onProgress?: (done: number, total: number) => void;
  /** Cancels the audit: probes not started are not started, running ones are aborted. */
  signal: AbortSignal;
}

/** Runs `work` over `items`, at most `limit` at a time, results in the items' order. */
async function pool<T, R>(items: readonly T[], limit: number, signal: AbortSignal, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      signal.throwIfAborted();
      const i = next++;
      results[i] = await work(items[i] as T);
    }
  });
  await Promise.all(lanes);
  signal.throwIfAborted();
  return results;
}

/**
 * Probes `targets`, at most `concurrency` at a time, each within its own timeout (else
 * `timeoutMs`, and never more than `maxTimeoutMs`); outcomes in the targets' order.
 */
export async function probeTargets(
  targets: readonly Target[],
  prober: Prober,
  options: { concurrency: number; timeoutMs: number; maxTimeoutMs?: number; signal: AbortSignal; onProgress?: (done: number, total: number) => void },
): Promise<ProbeOutcome[]> {
  let done = 0;
  options.onProgress?.(0, targets.length);
  // Each running probe listens on the audit's signal (and lets go when it ends): `concurrency` at once is expected.
  setMaxListeners(Math.max(10, options.concurrency * 2 + 10), options.signal);
  return pool(targets, options.concurrency, options.signal, async (target) => {
    const timeoutMs = Math.min(target.timeoutMs ?? options.timeoutMs, options.maxTimeoutMs ?? Number.POSITIVE_INFINITY);
    const outcome = await prober.probe(target, { signal: options.signal, timeoutMs });
    options.onProgress?.(++done, targets.length);
    return outcome;
  });
}

/** The gaps of a run as the report lists them. */
function reportGaps(observed: GapObservation): ReportGap[] {
  const of = (g: Gap, change: ReportGap['change']): ReportGap => ({
    id: g.id,
    fingerprint: g.fingerprint,
    type: g.type,
    severity: g.severity,
    status: g.status,
    title: g.title,
    subject: g.subject,
    check: g.check,
    components: g.components,
    evidence: g.evidence,
    count: g.count,
    firstSeenAt: g.firstSeenAt,
    lastSeenAt: g.lastSeenAt,
    change,
  });
  const rank = { critical: 0, high: 1, medium: 2, low: 3 };
  return [...observed.opened.map((g) => of(g, 'new')), ...observed.reopened.map((g) => of(g, 'reopened')), ...observed.recurring.map((g) => of(g, 'recurring'))].sort(
    (a, b) => rank[a.severity] - rank[b.severity] || a.id.localeCompare(b.id),
  );
}

/** Runs one audit; the report lacks only the narrative, which the job asks the router for. */
export async function runAudit(input: AuditRunInput, deps: AuditRunDeps): Promise<Omit<AuditReport, 'narrative'>> {
  const started = deps.clock();
  const t0 = performance.now();
  const { inventory } = input.inventory;
  const selected = selectTargets(input.type, inventory.targets, { ids: input.targetIds, history: deps.history, now: started });
  const outcomes = await probeTargets(selected, deps.prober, { concurrency: inventory.defaults.concurrency, timeoutMs: inventory.defaults.timeoutMs, signal: deps.signal, onProgress: deps.onProgress });
  const probedAt = deps.clock();
  const targets: TargetResult[] = selected.map((t, i) => {
    const o = outcomes[i] as ProbeOutcome;
    return {
      id: t.id,
      kind: t.kind,
      component: t.component,
      criticality: t.criticality,
      status: o.status,
      durationMs: Math.round(o.durationMs * 10) / 10,
      reach: o.reach,
      observations: o.observations,
      ...(o.error === undefined ? {} : { error: o.error }),
      configHash: configHashOf(t),
      probedAt: probedAt.toISOString(),
    };
  });
  const sightings = selected.flatMap((t, i) => sightingsOf(t, outcomes[i] as ProbeOutcome));
  // A probe that could not run says nothing about its target's gaps: they are neither seen nor resolved.
  const scope = selected.filter((_, i) => (outcomes[i] as ProbeOutcome).status !== 'error').map((t) => t.id);
  const observed = await deps.gaps.observe({ source: 'audit', runId: input.auditId, at: probedAt, scope }, sightings);
  const gaps = reportGaps(observed);
  const score = scoreOf(targets);
  const finished = deps.clock();
  const byId = new Map(selected.map((t) => [t.id, t]));
  return {
    auditId: input.auditId,
    type: input.type,
    trigger: input.trigger,
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: Math.round((performance.now() - t0) * 10) / 10,
    inventory: { version: input.inventory.version, source: input.inventory.source },
    status: overallStatusOf(targets, gaps),
    score,
    summary: summaryOf(targets, gaps),
    targets,
    gaps,
    resolved: observed.resolved.map((g) => ({ id: g.id, title: g.title, subject: g.subject })),
    trend: {
      previousAuditId: deps.previous?.auditId ?? null,
      previousScore: deps.previous?.score ?? null,
      scoreDelta: deps.previous ? score - deps.previous.score : null,
      newGaps: observed.opened.length + observed.reopened.length,
      resolvedGaps: observed.resolved.length,
    },
    recommendations: gaps.filter((g) => g.status !== 'dismissed').map((g) => recommendationFor(g, byId.get(g.subject))),
  };
}
