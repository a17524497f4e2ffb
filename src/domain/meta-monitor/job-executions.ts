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

export interface ExecutionGroupStats {
  queue: string;
  name: string;
  executions: number;
  completed: number;
  failed: number;
  failureRate: number;
  durationMs: { p50: number | null; p95: number | null; max: number | null };
  waitMs: { p50: number | null; p95: number | null };
}

export interface FailureGroup {
  /** The failure reason with numbers, ids and quoted values replaced, so alike failures group. */
  signature: string;
  count: number;
  queues: string[];
  example: string;
}

export interface ExecutionAnalysis {
  window: { from: string; to: string };
  focus: 'performance' | 'failures' | 'all';
  executions: number;
  groups: ExecutionGroupStats[];
  failures: FailureGroup[];
  /** Job kinds whose p95 duration is the highest; only groups with >= 5 executions. */
  slowest: { queue: string; name: string; p95Ms: number }[];
}

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
