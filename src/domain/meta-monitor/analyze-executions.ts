import { z } from 'zod';
import { percentile, round } from '../stats.js';

/** One finished job of the fleet, as BullMQ recorded it. Times are epoch ms. */
export interface ExecutionRecord {
  queue: string;
  name: string;
  state: 'completed' | 'failed';
  enqueuedAt: number;
  startedAt?: number;
  finishedAt?: number;
  attemptsMade: number;
  failedReason?: string;
}

export const executionGroupStatsSchema = z.object({
  queue: z.string(),
  name: z.string(),
  executions: z.number(),
  completed: z.number(),
  failed: z.number(),
  failureRate: z.number(),
  durationMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable(), max: z.number().nullable() }),
  waitMs: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
});
export type ExecutionGroupStats = z.infer<typeof executionGroupStatsSchema>;

export const failureGroupSchema = z.object({
  /** The failure reason with numbers, ids and quoted values replaced, so alike failures group. */
  signature: z.string(),
  count: z.number(),
  queues: z.array(z.string()),
  example: z.string(),
});
export type FailureGroup = z.infer<typeof failureGroupSchema>;

export const analysisFocuses = ['performance', 'failures', 'all'] as const;

export const executionAnalysisSchema = z.object({
  window: z.object({ from: z.string(), to: z.string() }),
  focus: z.enum(analysisFocuses),
  executions: z.number(),
  groups: z.array(executionGroupStatsSchema),
  failures: z.array(failureGroupSchema),
  /** Job kinds whose p95 duration is the highest; only groups with >= 5 executions. */
  slowest: z.array(z.object({ queue: z.string(), name: z.string(), p95Ms: z.number() })),
});
export type ExecutionAnalysis = z.infer<typeof executionAnalysisSchema>;

export function failureSignature(reason: string): string {
  return reason
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '<uuid>')
    .replace(/"[^"]*"|'[^']*'/g, '<str>')
    .replace(/\b0x[0-9a-f]+\b/gi, '<hex>')
    .replace(/\d+(\.\d+)?/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 200);
}

/** Statistics over the fleet's own finished jobs within a window. */
export function analyzeExecutions(records: ExecutionRecord[], from: Date, to: Date, focus: ExecutionAnalysis['focus']): ExecutionAnalysis {
  const inWindow = records.filter((r) => r.finishedAt !== undefined && r.finishedAt >= from.getTime() && r.finishedAt <= to.getTime());
  const byGroup = new Map<string, ExecutionRecord[]>();
  for (const r of inWindow) {
    const key = `${r.queue}\u0000${r.name}`;
    byGroup.set(key, [...(byGroup.get(key) ?? []), r]);
  }
  const groups: ExecutionGroupStats[] = [...byGroup.values()].map((rs) => {
    const first = rs[0] as ExecutionRecord;
    const durations = rs.filter((r) => r.startedAt !== undefined && r.finishedAt !== undefined).map((r) => (r.finishedAt as number) - (r.startedAt as number));
    const waits = rs.filter((r) => r.startedAt !== undefined).map((r) => (r.startedAt as number) - r.enqueuedAt);
    const failed = rs.filter((r) => r.state === 'failed').length;
    return {
      queue: first.queue,
      name: first.name,
      executions: rs.length,
      completed: rs.length - failed,
      failed,
      failureRate: round(failed / rs.length, 4),
      durationMs: { p50: percentile(durations, 50), p95: percentile(durations, 95), max: durations.length ? Math.max(...durations) : null },
      waitMs: { p50: percentile(waits, 50), p95: percentile(waits, 95) },
    };
  });
  const failureMap = new Map<string, FailureGroup>();
  for (const r of inWindow) {
    if (r.state !== 'failed') {
      continue;
    }
    const reason = r.failedReason ?? 'unknown';
    const sig = failureSignature(reason);
    const g = failureMap.get(sig) ?? { signature: sig, count: 0, queues: [], example: reason.slice(0, 500) };
    g.count += 1;
    if (!g.queues.includes(r.queue)) {
      g.queues.push(r.queue);
    }
    failureMap.set(sig, g);
  }
  return {
    window: { from: from.toISOString(), to: to.toISOString() },
    focus,
    executions: inWindow.length,
    groups: focus === 'failures' ? groups.filter((g) => g.failed > 0) : groups,
    failures: focus === 'performance' ? [] : [...failureMap.values()].sort((a, b) => b.count - a.count),
    slowest: groups
      .filter((g) => g.executions >= 5 && g.durationMs.p95 !== null)
      .sort((a, b) => (b.durationMs.p95 ?? 0) - (a.durationMs.p95 ?? 0))
      .slice(0, 5)
      .map((g) => ({ queue: g.queue, name: g.name, p95Ms: g.durationMs.p95 ?? 0 })),
  };
}
