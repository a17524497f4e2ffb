import type { Job, Queue } from 'bullmq';
import { eventually, spawnBsm } from '../helpers/fleet.js';

/** The fault tests run only under `npm run test:faults` (vitest.faults.config.ts sets this). */
export const faultRun = process.env.BSM_FAULT_TESTS === '1';

export type BsmProcess = ReturnType<typeof spawnBsm>;

/** `bsm` processes a test started: each is SIGKILLed at the end if it is still running. */
export function processes() {
  const started: BsmProcess[] = [];
  return {
    start(args: string[], env: Record<string, string>): BsmProcess {
      const child = spawnBsm(args, env);
      started.push(child);
      return child;
    },
    killAll(): void {
      for (const c of started.splice(0)) {
        if (c.exitCode === null && c.signalCode === null) {
          c.kill('SIGKILL');
        }
      }
    },
  };
}

/** `count` canary jobs (each with a priority, as the fleet gives every job), `holdMs(i)` long. */
export function canaries(count: number, requestedBy: string, holdMs: (i: number) => number) {
  return Array.from({ length: count }, (_, i) => ({ name: 'canary', data: { requestedBy, holdMs: holdMs(i) }, opts: { priority: 5 } }));
}

/** A one-line figure in the test output, for the run's report. */
export function report(test: string, figures: Record<string, unknown>): void {
  console.log(`[fault] ${test}: ${Object.entries(figures).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`);
}

/** The ids of `jobs` that appear more than once, or not at all, in `finished`. */
export function missingOrRepeated(added: readonly Job[], finished: readonly Job[]): { missing: string[]; repeated: string[] } {
  const seen = new Map<string, number>();
  for (const j of finished) {
    seen.set(j.id ?? '', (seen.get(j.id ?? '') ?? 0) + 1);
  }
  return {
    missing: added.map((j) => j.id ?? '').filter((id) => !seen.has(id)),
    repeated: [...seen].filter(([, n]) => n > 1).map(([id]) => id),
  };
}

/** Waits (at most `timeoutMs`) until `total` jobs of `queue` have finished, and returns the counts. */
export function untilFinished(queue: Queue, total: number, timeoutMs: number): Promise<{ completed: number; failed: number }> {
  return eventually(
    async () => {
      const counts = await queue.getJobCounts('completed', 'failed');
      const finished = { completed: counts.completed ?? 0, failed: counts.failed ?? 0 };
      return finished.completed + finished.failed >= total ? finished : null;
    },
    timeoutMs,
    250,
  );
}

/**
 * Settings of the fault tests' worker processes: jobs left by a killed or stopped worker come back
 * within seconds (lock 5 s, stalled check every 2 s), and the compliance queue is not held back by
 * its default rate limit (30 a minute would hold 1,000 jobs for half an hour).
 */
export const quickComplianceWorkers = {
  BSM_LOCK_DURATION_MS: '5000',
  BSM_STALLED_INTERVAL_MS: '2000',
  BSM_COMPLIANCE_CONCURRENCY: '4',
  BSM_COMPLIANCE_RATE_MAX: '100000',
  BSM_COMPLIANCE_RATE_DURATION_MS: '1000',
} as const;

/** The API of a `bsm` process on `port`, with an admin token; every request bounded to 5 s. */
export function apiOf(port: number, token: string): (path: string, method?: string, body?: unknown) => Promise<Response> {
  return (path, method = 'GET', body) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
}
