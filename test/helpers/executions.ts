/**
 * Execution records with planted truth, for the meta-monitor's tests and benchmark: three failure
 * templates whose ids, paths and numbers vary, one slow operation, and a degradation of one
 * operation's latency between the window before and the window analysed. Deterministic (seeded).
 */
import { mulberry32 } from './fuzz-cases.js';

/** A small seeded PRNG: the same seed gives the same records. */
export const seeded = mulberry32;

export const plantedOperations = { fast: 'plan-task', degraded: 'search-code', slow: 'generate-patch' } as const;
/** The slow operation's p95 lies far above this budget; the others lie below it. */
export const plantedBudgetMs = 1_000;

/** The three templates, each filled with varying ids, paths and numbers. */
export const plantedTemplates = [
  { type: 'ConnectionError', make: (r: () => number) => `Connection refused to 10.${int(r, 0, 255)}.${int(r, 0, 255)}.${int(r, 1, 254)}:${int(r, 1024, 65535)} after ${int(r, 1, 9)} retries for user-${int(r, 1, 999)}@example.com` },
  { type: 'FileNotFound', make: (r: () => number) => `ENOENT: no such file or directory, open '/workspace/${pick(r, ['api', 'web', 'core', 'jobs'])}/src/${hex(r, 6)}/${pick(r, ['index', 'util', 'main', 'types'])}.ts' (task ${uuid(r)})` },
  { type: 'ThrottlingException', make: (r: () => number) => `Rate exceeded for model request req_${hex(r, 12)}: retry after ${int(r, 1, 60)} s (attempt ${int(r, 1, 5)} of 5)` },
] as const;

function int(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}
function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)] as T;
}
function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += Math.floor(r() * 16).toString(16);
  }
  return s;
}
function uuid(r: () => number): string {
  return `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
}

export interface PlantedRecord {
  executionId: string;
  timestamp: number;
  operation: string;
  status: 'success' | 'failure' | 'timeout' | 'error';
  latencyMs: number;
  context?: { userId: string; taskType: string };
  error?: { type: string; message: string };
}

/**
 * `count` records spread evenly over [from, to). One in ten fails, the failures split over the three
 * templates; the slow operation takes 2-4 s; the degraded operation takes `degradedMs` (±20 %),
 * the others 50-300 ms.
 */
export function plantedRecords(options: { seed: number; count: number; from: number; to: number; degradedMs: number; idPrefix: string }): PlantedRecord[] {
  const r = seeded(options.seed);
  const span = options.to - options.from;
  const out: PlantedRecord[] = [];
  for (let i = 0; i < options.count; i++) {
    out.push(plantedRecord(r, i, options.from + Math.floor((i / options.count) * span), options));
  }
  return out;
}

/** The i-th record of a planted stream (see {@link plantedRecords}). */
export function plantedRecord(r: () => number, i: number, timestamp: number, options: { degradedMs: number; idPrefix: string }): PlantedRecord {
  const op = i % 5 === 0 ? plantedOperations.slow : i % 5 < 3 ? plantedOperations.degraded : plantedOperations.fast;
  const latencyMs = op === plantedOperations.slow ? 2_000 + r() * 2_000 : op === plantedOperations.degraded ? options.degradedMs * (0.8 + r() * 0.4) : 50 + r() * 250;
  const failed = i % 20 === 3 || i % 20 === 7;
  const record: PlantedRecord = {
    executionId: `${options.idPrefix}-${i}`,
    timestamp,
    operation: op,
    status: failed ? 'error' : 'success',
    latencyMs: Math.round(latencyMs * 10) / 10,
    context: { userId: `user-${i % 50}`, taskType: 'coding' },
  };
  if (failed) {
    const t = plantedTemplates[Math.floor(i / 10) % plantedTemplates.length] as (typeof plantedTemplates)[number];
    record.error = { type: t.type, message: t.make(r) };
  }
  return record;
}
