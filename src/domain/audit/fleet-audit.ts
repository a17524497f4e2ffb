import { z } from 'zod';
import type { FleetState } from '../fleet/fleet-state.js';
import { redisSlowMs } from '../fleet/thresholds.js';

/** Facts read from Redis `INFO`. Absent fields were not reported by the server. */
export interface RedisFacts {
  maxmemoryPolicy?: string;
  maxmemoryBytes?: number;
  usedMemoryBytes?: number;
  aofEnabled?: boolean;
}

export const checkStatuses = ['pass', 'warn', 'fail'] as const;
export type CheckStatus = (typeof checkStatuses)[number];
export const severities = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof severities)[number];
export const auditTypes = ['comprehensive', 'incremental', 'targeted'] as const;

export const checkResultSchema = z.object({
  id: z.string(),
  title: z.string(),
  status: z.enum(checkStatuses),
  severity: z.enum(severities),
  observed: z.string(),
  expected: z.string(),
});
export type CheckResult = z.infer<typeof checkResultSchema>;

export const fleetAuditResultSchema = z.object({
  type: z.enum(auditTypes),
  auditedAt: z.string(),
  /** Share of checks that passed, 0-100. */
  score: z.number(),
  summary: z.object({ pass: z.number(), warn: z.number(), fail: z.number() }),
  checks: z.array(checkResultSchema),
  /** For incremental audits: what changed since the previous audit. */
  changes: z.object({ newlyFailing: z.array(z.string()), resolved: z.array(z.string()), previousAuditId: z.string().nullable() }).optional(),
});
export type FleetAuditResult = z.infer<typeof fleetAuditResultSchema>;

function check(id: string, title: string, ok: boolean, warnOnly: boolean, severity: Severity, observed: string, expected: string): CheckResult {
  return { id, title, status: ok ? 'pass' : warnOnly ? 'warn' : 'fail', severity, observed, expected };
}

/**
 * The auditor's own-fleet audit (used when no inventory is configured): the Redis the
 * fleet depends on and each queue's workers and backlog.
 */
export function auditFleet(
  type: FleetAuditResult['type'],
  state: FleetState,
  redis: RedisFacts,
  options: { targets?: string[]; previous?: { id: string; checks: CheckResult[] } | null } = {},
): FleetAuditResult {
  const checks: CheckResult[] = [];
  const latency = state.redis.latencyMs;
  checks.push({
    id: 'redis.latency',
    title: 'Redis answers quickly',
    status: latency < redisSlowMs ? 'pass' : 'warn',
    severity: 'high',
    observed: `${latency} ms`,
    expected: `< ${redisSlowMs} ms`,
  });
  if (redis.maxmemoryPolicy !== undefined) {
    checks.push(
      check('redis.eviction-policy', 'Redis never evicts queue keys', redis.maxmemoryPolicy === 'noeviction', false, 'critical', redis.maxmemoryPolicy, 'noeviction'),
    );
  }
  if (redis.aofEnabled !== undefined) {
    checks.push(check('redis.persistence', 'Redis keeps jobs across restarts (AOF)', redis.aofEnabled, true, 'medium', redis.aofEnabled ? 'aof on' : 'aof off', 'aof on'));
  }
  if (redis.maxmemoryBytes !== undefined && redis.maxmemoryBytes > 0 && redis.usedMemoryBytes !== undefined) {
    const used = redis.usedMemoryBytes / redis.maxmemoryBytes;
    checks.push({
      id: 'redis.memory',
      title: 'Redis has memory headroom',
      status: used < 0.8 ? 'pass' : used < 0.95 ? 'warn' : 'fail',
      severity: 'high',
      observed: `${Math.round(used * 100)}% of maxmemory`,
      expected: '< 80%',
    });
  }
  for (const q of Object.values(state.queues)) {
    const waiting = q.counts.waiting + q.counts.prioritized;
    checks.push(check(`queue.${q.name}.workers`, `${q.name} has a live worker`, q.workers.count > 0, q.paused, 'high', `${q.workers.count} worker(s)`, '>= 1'));
    checks.push(check(`queue.${q.name}.backlog`, `${q.name} keeps up with its work`, waiting <= 1_000, true, 'medium', `${waiting} waiting`, '<= 1000 waiting'));
  }
  const selected = options.targets?.length ? checks.filter((c) => options.targets?.some((t) => c.id === t || c.id.startsWith(`${t}.`))) : checks;
  const summary: Record<CheckStatus, number> = { pass: 0, warn: 0, fail: 0 };
  for (const c of selected) {
    summary[c.status] += 1;
  }
  const result: FleetAuditResult = {
    type,
    auditedAt: state.at,
    score: selected.length === 0 ? 0 : Math.round((summary.pass / selected.length) * 100),
    summary,
    checks: selected,
  };
  if (type === 'incremental') {
    const before = new Set((options.previous?.checks ?? []).filter((c) => c.status !== 'pass').map((c) => c.id));
    const now = new Set(selected.filter((c) => c.status !== 'pass').map((c) => c.id));
    result.changes = {
      newlyFailing: [...now].filter((id) => !before.has(id)),
      resolved: [...before].filter((id) => !now.has(id)),
      previousAuditId: options.previous?.id ?? null,
    };
  }
  return result;
}

/** Parses the text of Redis `INFO` into the facts the audit needs. */
export function parseRedisInfo(info: string): RedisFacts {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) {
      fields.set(line.slice(0, i), line.slice(i + 1).trim());
    }
  }
  const num = (k: string) => (fields.has(k) ? Number(fields.get(k)) : undefined);
  return {
    maxmemoryPolicy: fields.get('maxmemory_policy'),
    maxmemoryBytes: num('maxmemory'),
    usedMemoryBytes: num('used_memory'),
    aofEnabled: fields.has('aof_enabled') ? fields.get('aof_enabled') === '1' : undefined,
  };
}
