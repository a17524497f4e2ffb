/**
 * The audit report: stored as the `audit` job's result, served by `…/audit/{id}/details` and
 * exported (JSON, Markdown, HTML, CSV). A zod schema, so what comes back from Redis is checked.
 */
import { z } from 'zod';
import { narrativeSchema } from '../narratives.js';
import { gapSeverities, gapStatuses, gapTypes } from '../gaps/gap.js';
import { criticalities, targetKinds } from './inventory.js';
import { unreachableCauses } from './probe.js';

export const auditTypes = ['comprehensive', 'incremental', 'targeted'] as const;
export type AuditType = (typeof auditTypes)[number];

export const overallStatuses = ['healthy', 'degraded', 'unhealthy'] as const;

const observationSchema = z.object({
  check: z.string(),
  title: z.string(),
  expected: z.string(),
  observed: z.string(),
  met: z.boolean(),
  gapType: z.enum(gapTypes),
});

export const targetResultSchema = z.object({
  id: z.string(),
  kind: z.enum(targetKinds),
  component: z.string(),
  criticality: z.enum(criticalities),
  status: z.enum(['pass', 'fail', 'error']),
  durationMs: z.number(),
  reach: z.union([z.object({ reachable: z.literal(true) }), z.object({ reachable: z.literal(false), cause: z.enum(unreachableCauses), detail: z.string() })]),
  observations: z.array(observationSchema),
  error: z.string().optional(),
  /** The target's configuration as probed, hashed (an incremental audit re-probes a changed target). */
  configHash: z.string(),
  probedAt: z.string(),
});
export type TargetResult = z.infer<typeof targetResultSchema>;

export const reportGapSchema = z.object({
  id: z.string(),
  fingerprint: z.string(),
  type: z.enum(gapTypes),
  severity: z.enum(gapSeverities),
  status: z.enum(gapStatuses),
  title: z.string(),
  subject: z.string(),
  check: z.string(),
  components: z.array(z.string()),
  evidence: z.object({ expected: z.string(), observed: z.string() }),
  count: z.number(),
  firstSeenAt: z.string(),
  lastSeenAt: z.string(),
  /** In this audit: seen for the first time, seen again, or seen again after it was resolved. */
  change: z.enum(['new', 'recurring', 'reopened']),
});
export type ReportGap = z.infer<typeof reportGapSchema>;

export const recommendationSchema = z.object({
  priority: z.enum(gapSeverities),
  /** The gap it addresses. */
  gapId: z.string(),
  text: z.string(),
});
export type Recommendation = z.infer<typeof recommendationSchema>;

export const auditReportSchema = z.object({
  auditId: z.string(),
  type: z.enum(auditTypes),
  trigger: z.object({ by: z.string(), reason: z.string().nullable(), priority: z.enum(['high', 'medium', 'low']) }),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  inventory: z.object({ version: z.number(), source: z.string() }),
  status: z.enum(overallStatuses),
  /** 0-100, see {@link scoreOf}. */
  score: z.number(),
  summary: z.object({ targets: z.number(), pass: z.number(), fail: z.number(), error: z.number(), gaps: z.number() }),
  targets: z.array(targetResultSchema),
  gaps: z.array(reportGapSchema),
  /** Gaps this audit saw fixed. */
  resolved: z.array(z.object({ id: z.string(), title: z.string(), subject: z.string() })),
  trend: z.object({
    previousAuditId: z.string().nullable(),
    previousScore: z.number().nullable(),
    scoreDelta: z.number().nullable(),
    newGaps: z.number(),
    resolvedGaps: z.number(),
  }),
  recommendations: z.array(recommendationSchema),
  /** The router's narrative over the redacted findings (operation `infrastructure`). */
  narrative: narrativeSchema.nullable(),
});
export type AuditReport = z.infer<typeof auditReportSchema>;

/** Weight of a target in the score by its criticality. */
export const criticalityWeights: Record<(typeof criticalities)[number], number> = { critical: 8, high: 4, medium: 2, low: 1 };

/**
 * The score: the criticality-weighted share of audited targets that passed, 0-100 rounded,
 * `100 × Σ w(passed) / Σ w(audited)`, with w = 8, 4, 2, 1 for critical, high, medium, low.
 * A probe that could not run (`error`) counts as not passed. No targets: 100.
 */
export function scoreOf(targets: readonly Pick<TargetResult, 'status' | 'criticality'>[]): number {
  const total = targets.reduce((s, t) => s + criticalityWeights[t.criticality], 0);
  if (total === 0) {
    return 100;
  }
  const passed = targets.filter((t) => t.status === 'pass').reduce((s, t) => s + criticalityWeights[t.criticality], 0);
  return Math.round((100 * passed) / total);
}

/** `unhealthy` with an open critical gap or a critical target not passing; `degraded` with any gap or failed probe; else `healthy`. */
export function overallStatusOf(targets: readonly Pick<TargetResult, 'status' | 'criticality'>[], gaps: readonly Pick<ReportGap, 'severity'>[]): (typeof overallStatuses)[number] {
  if (gaps.some((g) => g.severity === 'critical') || targets.some((t) => t.status !== 'pass' && t.criticality === 'critical')) {
    return 'unhealthy';
  }
  return gaps.length > 0 || targets.some((t) => t.status !== 'pass') ? 'degraded' : 'healthy';
}

/** The counts a report summarises its targets and gaps with. */
export function summaryOf(targets: readonly Pick<TargetResult, 'status'>[], gaps: readonly unknown[]): AuditReport['summary'] {
  const count = (status: TargetResult['status']) => targets.filter((t) => t.status === status).length;
  return { targets: targets.length, pass: count('pass'), fail: count('fail'), error: count('error'), gaps: gaps.length };
}
