import { z } from 'zod';
import { round } from '../stats.js';
import type { DailyCheckResult } from './daily-check.js';

export interface QueueWeekTotals {
  completed: number;
  failed: number;
}

export const weeklyReviewResultSchema = z.object({
  from: z.string(),
  to: z.string(),
  dailyChecks: z.object({ count: z.number(), degraded: z.number(), recurringProblems: z.array(z.object({ problem: z.string(), days: z.number() })) }),
  queues: z.array(z.object({ name: z.string(), completed: z.number(), failed: z.number(), failureRate: z.number().nullable() })),
});
export type WeeklyReviewResult = z.infer<typeof weeklyReviewResultSchema>;

/**
 * Weekly Support Mode Review: the week's daily checks and each queue's completed/failed
 * job totals (BullMQ metrics, per minute, summed over the week).
 */
export function buildWeeklyReview(
  from: Date,
  to: Date,
  dailyChecks: DailyCheckResult[],
  totals: Record<string, QueueWeekTotals>,
): WeeklyReviewResult {
  const problemDays = new Map<string, number>();
  for (const check of dailyChecks) {
    for (const p of new Set(check.problems)) {
      problemDays.set(p, (problemDays.get(p) ?? 0) + 1);
    }
  }
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    dailyChecks: {
      count: dailyChecks.length,
      degraded: dailyChecks.filter((c) => c.status !== 'healthy').length,
      recurringProblems: [...problemDays.entries()]
        .filter(([, days]) => days > 1)
        .sort((a, b) => b[1] - a[1])
        .map(([problem, days]) => ({ problem, days })),
    },
    queues: Object.entries(totals).map(([name, t]) => ({
      name,
      completed: t.completed,
      failed: t.failed,
      failureRate: t.completed + t.failed === 0 ? null : round(t.failed / (t.completed + t.failed), 4),
    })),
  };
}
