/**
 * Gaps: what should be there and is not. One store for the auditor (unmet expectations), the
 * meta-monitor (failure clusters, bottlenecks, degradations) and implementation support (spec
 * tasks, gaps posted by hand, their remediation). A gap's fingerprint says which problem it is,
 * so the same problem seen again is the same gap, with its id `gap-…` from the fingerprint.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Criticality } from '../audit/inventory.js';

export const gapTypes = ['missing_implementation', 'incomplete_feature', 'broken_integration', 'performance_issue', 'security_vulnerability', 'configuration_drift'] as const;
export type GapType = (typeof gapTypes)[number];

export const gapSeverities = ['critical', 'high', 'medium', 'low'] as const;
export type GapSeverity = (typeof gapSeverities)[number];

/**
 * A gap's lifecycle. The auditor opens (`detected`), resolves and reopens; implementation support
 * moves a gap through its remediation (`remediation_suggested` … `failed`); anyone with operate
 * may dismiss one with a reason.
 */
export const gapStatuses = ['detected', 'remediation_suggested', 'awaiting_approval', 'auto_resolving', 'resolved', 'failed', 'dismissed'] as const;
export type GapStatus = (typeof gapStatuses)[number];

/** Where gaps come from. */
export const gapSources = ['audit', 'meta-monitor', 'spec', 'manual'] as const;
export type GapSource = (typeof gapSources)[number];

/**
 * Severity from the target's criticality and the gap's type: the table the README prints and the
 * tests use. A security problem is never below `medium`; drift and slowness weigh one step less
 * than a broken or missing part.
 */
export const severityTable: Record<GapType, Record<Criticality, GapSeverity>> = {
  security_vulnerability: { critical: 'critical', high: 'critical', medium: 'high', low: 'medium' },
  broken_integration: { critical: 'critical', high: 'high', medium: 'medium', low: 'low' },
  missing_implementation: { critical: 'critical', high: 'high', medium: 'medium', low: 'low' },
  incomplete_feature: { critical: 'high', high: 'medium', medium: 'low', low: 'low' },
  performance_issue: { critical: 'high', high: 'medium', medium: 'low', low: 'low' },
  configuration_drift: { critical: 'high', high: 'medium', medium: 'low', low: 'low' },
};

export function severityOf(type: GapType, criticality: Criticality): GapSeverity {
  return severityTable[type][criticality];
}

/** What a source reports: one problem it sees now. */
export interface GapSighting {
  source: GapSource;
  /** What the problem is about, stable across sightings: a target id, a cluster's signature, a spec task. */
  subject: string;
  /** Which expectation, within the subject: a probe's check, a cluster kind. */
  check: string;
  type: GapType;
  severity: GapSeverity;
  /** A sentence naming the problem (no personal data: sources redact what they quote). */
  title: string;
  components: string[];
  evidence: { expected: string; observed: string };
}

/** Fingerprint of a problem: its source, subject, check and type. */
export function gapFingerprint(s: Pick<GapSighting, 'source' | 'subject' | 'check' | 'type'>): string {
  return createHash('sha256').update(`${s.source}\n${s.subject}\n${s.check}\n${s.type}`).digest('hex');
}

export function gapIdOf(fingerprint: string): string {
  return `gap-${fingerprint.slice(0, 16)}`;
}

/** A stored gap. */
export interface Gap extends GapSighting {
  id: string;
  fingerprint: string;
  status: GapStatus;
  /** Times seen (each audit or analysis that saw it counts once). */
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  /** The run (audit id, analysis id) that last saw it. */
  lastSeenBy: string;
  /** When resolved: when, and by what (`audit-…` that saw it fixed, or who). */
  resolvedAt?: string;
  resolvedBy?: string;
  /** Times a resolved gap was seen again. */
  reopenedCount: number;
  /** When dismissed: by whom and why (redacted). */
  dismissed?: { by: string; reason: string; at: string };
  /** Changes of status, oldest first (bounded). */
  history: { at: string; from: GapStatus | null; to: GapStatus; by: string }[];
}

/** A stored gap as it comes back from storage: parsed through this, never cast. */
export const gapSchema = z.object({
  id: z.string(),
  fingerprint: z.string(),
  source: z.enum(gapSources),
  subject: z.string(),
  check: z.string(),
  type: z.enum(gapTypes),
  severity: z.enum(gapSeverities),
  title: z.string(),
  components: z.array(z.string()),
  evidence: z.object({ expected: z.string(), observed: z.string() }),
  status: z.enum(gapStatuses),
  count: z.number().int().min(1),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  lastSeenBy: z.string(),
  resolvedAt: z.string().optional(),
  resolvedBy: z.string().optional(),
  reopenedCount: z.number().int().min(0),
  dismissed: z.object({ by: z.string(), reason: z.string(), at: z.string() }).optional(),
  history: z.array(z.object({ at: z.string(), from: z.enum(gapStatuses).nullable(), to: z.enum(gapStatuses), by: z.string() })),
}) satisfies z.ZodType<Gap>;

/** What one run's sightings did to the store. */
export interface GapObservation {
  /** Gaps seen for the first time. */
  opened: Gap[];
  /** Resolved gaps seen again. */
  reopened: Gap[];
  /** Gaps seen again, still open (or dismissed: their count still goes up). */
  recurring: Gap[];
  /** Open gaps of the run's scope that were not seen: resolved by this run. */
  resolved: Gap[];
}

/**
 * The gap store (a port: `store/gaps.store.ts` keeps it in Redis). `observe` is atomic per run:
 * the sightings of one run and the resolution of what it no longer saw happen together.
 */
export interface GapStore {
  /**
   * Records a run's sightings. `scope` are the subjects the run looked at: an open gap of this
   * source whose subject is in scope and that was not sighted is resolved, naming `runId`.
   */
  observe(run: { source: GapSource; runId: string; at: Date; scope: readonly string[] }, sightings: readonly GapSighting[]): Promise<GapObservation>;
  get(id: string): Promise<Gap | null>;
  /** Newest `lastSeenAt` first. */
  list(filter?: { status?: readonly GapStatus[]; source?: GapSource; subject?: string; limit?: number }): Promise<Gap[]>;
  /** How many gaps are in each status now. */
  countByStatus(): Promise<Record<GapStatus, number>>;
  /** Moves a gap to `to` (checked against the lifecycle by the caller); null when there is no such gap. */
  transition(id: string, to: GapStatus, by: string, at: Date, extra?: { reason?: string }): Promise<Gap | null>;
}
