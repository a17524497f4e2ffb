/** The weekly review's result shape, apart from how it is built (the narratives read it without the builder's imports). */
import { z } from 'zod';

const nullableNumber = z.number().nullable();
const analysisFigures = z.object({ analysisId: z.string(), finishedAt: z.string(), healthScore: nullableNumber, successRate: nullableNumber, p95Ms: nullableNumber, executions: z.number() });

/** One suggested change of a threshold or setting, with the measured figures behind it. */
export const suggestionSchema = z.object({
  kind: z.enum(['threshold', 'configuration', 'investigation']),
  /** What to change: a setting, a flag, a meta-monitor setting path. */
  target: z.string(),
  current: z.string().nullable(),
  suggested: z.string(),
  evidence: z.array(z.string()).min(1),
});
export type Suggestion = z.infer<typeof suggestionSchema>;

export const weeklyReviewResultSchema = z.object({
  from: z.string(),
  to: z.string(),
  dailyChecks: z.object({ count: z.number(), degraded: z.number(), recurringProblems: z.array(z.object({ problem: z.string(), days: z.number() })) }),
  queues: z.array(z.object({ name: z.string(), completed: z.number(), failed: z.number(), failureRate: z.number().nullable() })),
  /** The morning checks' verdicts over the week (`withoutVerdict`: checks stored before the verdict existed, or unreadable). */
  verdicts: z.object({ passed: z.number(), failed: z.number(), withoutVerdict: z.number(), recurringReasons: z.array(z.object({ reason: z.string(), days: z.number() })) }),
  audits: z.object({
    count: z.number(),
    byStatus: z.record(z.string(), z.number()),
    firstScore: nullableNumber,
    lastScore: nullableNumber,
    averageScore: nullableNumber,
    gapsReported: z.number(),
    noData: z.string().nullable(),
  }),
  gaps: z.object({
    opened: z.number(),
    resolved: z.number(),
    /** Open gaps seen again this week that were first seen before it. */
    recurring: z.number(),
    /** Resolved gaps seen again this week. */
    reopened: z.number(),
    openedByType: z.record(z.string(), z.number()),
    topRecurring: z.array(z.object({ id: z.string(), title: z.string(), count: z.number(), firstSeenAt: z.string() })),
  }),
  remediation: z.object({
    applied: z.number(),
    verified: z.number(),
    failed: z.number(),
    rolledBack: z.number(),
    /** verified / (verified + failed) of the week's finished remediations; null with none. */
    successRate: nullableNumber,
    autoResolution7d: z.object({ attempted: z.number(), verified: z.number(), failed: z.number(), rate: nullableNumber, target: z.number() }),
    noData: z.string().nullable(),
  }),
  executions: z.object({
    analyses: z.number(),
    first: analysisFigures.nullable(),
    last: analysisFigures.nullable(),
    recurringClusters: z.array(z.object({ id: z.string(), template: z.string(), analyses: z.number(), failures: z.number() })),
    noData: z.string().nullable(),
  }),
  optimizations: z.array(
    z.object({ id: z.string(), title: z.string(), state: z.string(), appliedAt: z.string(), appliedBy: z.string(), before: analysisFigures.nullable(), after: analysisFigures.nullable(), noData: z.string().nullable() }),
  ),
  backlog: z.object({ openAtStart: z.number(), openNow: z.number(), opened: z.number(), closed: z.number(), net: z.number() }),
  llmCost: z.object({
    weekUsd: z.number(),
    calls: z.number(),
    monthUsd: z.number(),
    monthBudgetUsd: nullableNumber,
    dailyBudgetUsd: nullableNumber,
    /** This month's spend so far, carried to the month's end at its daily average. */
    monthProjectedUsd: nullableNumber,
    routingEfficiencyPct: nullableNumber,
    routingDecisions: z.number(),
  }),
  suggestions: z.array(suggestionSchema),
});
export type WeeklyReviewResult = z.infer<typeof weeklyReviewResultSchema>;
