/**
 * The runbook's "Morning Support Mode Check (08:15 UTC)" as one verdict: its three steps (support
 * mode health; overnight activity; performance) judged from the service's own answers. Pure: the
 * command reads the answers, this decides.
 */
import type { AlertView } from './alerts.commands.js';
import type { InsightsAnswer } from './meta-monitor.commands.js';
import type { HealthAnswer, StatusAnswer } from './support-mode.commands.js';

export type Verdict = 'pass' | 'warn' | 'fail';

export interface Check {
  /** The runbook step: 1 health, 2 overnight activity, 3 performance. */
  step: 1 | 2 | 3;
  id: string;
  verdict: Verdict;
  detail: string;
}

/** An answer, or why it could not be read (the service's error message). */
export type Read<T> = { ok: true; body: T } | { ok: false; error: string; status: number };

export interface AuditsAnswer {
  count: number;
  totals: { gaps: number; newGaps: number; resolvedGaps: number };
  audits: { auditId: string; status: string; score: number; startedAt: string }[];
}

export interface ActivitiesAnswer {
  counts: Record<string, number>;
  awaitingApproval: number;
  autoResolution: { '24h': { attempted: number; rate: number | null; meetsTarget: boolean | null }; target: number };
}

export interface PerformanceAnswer {
  window: string;
  operations: Record<string, { count: number; errors: number; successRate: number | null; p95Ms: number | null }>;
}

export interface RoutingAnswer {
  decisions: number;
  efficiency: number | null;
}

export interface DailyInputs {
  now: Date;
  status: Read<StatusAnswer>;
  health: Read<HealthAnswer>;
  audits: Read<AuditsAnswer>;
  insights: Read<InsightsAnswer>;
  activities: Read<ActivitiesAnswer>;
  performance: Read<PerformanceAnswer>;
  routing: Read<RoutingAnswer>;
  alerts: Read<{ alerts: AlertView[] }>;
}

/** The thresholds of step 3; the defaults are the runbook's (routing efficiency P1 below 60 %, P2 below 80 %). */
export interface DailyThresholds {
  routingFailPct: number;
  routingWarnPct: number;
  /** An operation whose error rate over 24 h is above this percent fails the check. */
  errorRatePct: number;
  /** An operation whose p95 over 24 h is above this fails the check; null: not judged. */
  maxP95Ms: number | null;
}

export const defaultThresholds: DailyThresholds = { routingFailPct: 60, routingWarnPct: 80, errorRatePct: 10, maxP95Ms: null };

export interface DailyResult {
  verdict: 'pass' | 'fail';
  checkedAt: string;
  checks: Check[];
  /** The reasons of the failed checks, one line each. */
  reasons: string[];
  warnings: string[];
}

const day = 24 * 3600 * 1000;

function unread(step: Check['step'], id: string, what: string, read: { error: string; status: number }): Check {
  return { step, id, verdict: 'fail', detail: `could not read ${what}: ${read.error}` };
}

export function judgeDaily(inputs: DailyInputs, thresholds: DailyThresholds = defaultThresholds): DailyResult {
  const checks: Check[] = [];
  const add = (c: Check) => checks.push(c);

  // Step 1: support mode health.
  if (!inputs.status.ok) {
    add(unread(1, 'support-mode', 'the support-mode status', inputs.status));
  } else {
    const s = inputs.status.body;
    const inactive = Object.entries(s.components)
      .filter(([, c]) => !c.active)
      .map(([name]) => name);
    if (s.emergency) {
      add({ step: 1, id: 'support-mode', verdict: 'fail', detail: `emergency shutdown since ${s.emergency.at} by ${s.emergency.initiatedBy}: ${s.emergency.reason}` });
    } else if (s.status !== 'active') {
      add({ step: 1, id: 'support-mode', verdict: 'fail', detail: `support mode is ${s.status}${inactive.length > 0 ? `; inactive: ${inactive.join(', ')}` : ''}` });
    } else {
      add({ step: 1, id: 'support-mode', verdict: 'pass', detail: `active, every component active (version ${s.version})` });
    }
  }
  if (!inputs.health.ok) {
    add(unread(1, 'components', 'the component health', inputs.health));
  } else {
    const bad = Object.entries(inputs.health.body.components).filter(([, c]) => c.status !== 'healthy');
    add(
      bad.length === 0
        ? { step: 1, id: 'components', verdict: 'pass', detail: `all ${Object.keys(inputs.health.body.components).length} components healthy` }
        : { step: 1, id: 'components', verdict: 'fail', detail: bad.map(([name, c]) => `${name} ${c.status}: ${c.reasons.join('; ') || 'no reason given'}`).join(' | ') },
    );
  }

  // Step 2: overnight activity.
  if (!inputs.audits.ok) {
    add(unread(2, 'audits', 'the audits of the last 24 h', inputs.audits));
  } else {
    const a = inputs.audits.body;
    const latest = a.audits[0];
    if (a.count === 0 || latest === undefined) {
      add({ step: 2, id: 'audits', verdict: 'fail', detail: 'no infrastructure audit in the last 24 h (the schedule runs one every 30 min: is infrastructure-auditor active and its worker running?)' });
    } else {
      const detail = `${a.count} audit(s); latest ${latest.auditId} ${latest.status}, score ${latest.score}; ${a.totals.newGaps} new gap(s), ${a.totals.resolvedGaps} resolved`;
      add({ step: 2, id: 'audits', verdict: latest.status === 'unhealthy' ? 'warn' : 'pass', detail: latest.status === 'unhealthy' ? `${detail} (the infrastructure is unhealthy: bsm audit show)` : detail });
    }
  }
  if (!inputs.insights.ok) {
    add(inputs.insights.status === 404 ? { step: 2, id: 'meta-monitor', verdict: 'fail', detail: 'no meta-monitor analysis yet (the schedule runs one every 5 min: is meta-monitor active?)' } : unread(2, 'meta-monitor', 'the meta-monitor insights', inputs.insights));
  } else {
    const i = inputs.insights.body;
    const age = inputs.now.getTime() - Date.parse(i.window.to);
    const p1 = i.insights.filter((x) => x.level === 'P1');
    if (age > day) {
      add({ step: 2, id: 'meta-monitor', verdict: 'fail', detail: `the latest analysis (${i.analysisId}) ended ${i.window.to}, more than 24 h ago` });
    } else {
      add({
        step: 2,
        id: 'meta-monitor',
        verdict: p1.length > 0 ? 'warn' : 'pass',
        detail: `${i.insights.length} insight(s) from ${i.analysisId}, health score ${i.healthScore ?? '-'}${p1.length > 0 ? `; P1: ${p1.map((x) => x.summary).join('; ')}` : ''}`,
      });
    }
  }
  if (!inputs.activities.ok) {
    add(unread(2, 'implementation', 'the implementation activities', inputs.activities));
  } else {
    const a = inputs.activities.body;
    const failed = a.counts.failed ?? 0;
    const auto = a.autoResolution['24h'];
    const notes = [
      ...(failed > 0 ? [`${failed} remediation(s) failed`] : []),
      ...(a.awaitingApproval > 0 ? [`${a.awaitingApproval} await approval (bsm approve ID)`] : []),
      ...(auto.meetsTarget === false ? [`auto-resolution ${Math.round((auto.rate ?? 0) * 100)} % is below the ${Math.round(a.autoResolution.target * 100)} % target`] : []),
    ];
    const done = Object.entries(a.counts)
      .filter(([, n]) => n > 0)
      .map(([k, n]) => `${n} ${k}`)
      .join(', ');
    add({ step: 2, id: 'implementation', verdict: notes.length > 0 ? 'warn' : 'pass', detail: `${done || 'no remediation activity'}${notes.length > 0 ? `; ${notes.join('; ')}` : ''}` });
  }

  // Step 3: performance against thresholds.
  if (!inputs.performance.ok) {
    add(unread(3, 'latency', 'the operation latencies', inputs.performance));
  } else {
    const ran = Object.entries(inputs.performance.body.operations).filter(([, o]) => o.count > 0);
    const problems = ran.flatMap(([name, o]) => [
      ...((o.errors / o.count) * 100 > thresholds.errorRatePct ? [`${name} failed ${o.errors} of ${o.count} (over ${thresholds.errorRatePct} %)`] : []),
      ...(thresholds.maxP95Ms !== null && o.p95Ms !== null && o.p95Ms > thresholds.maxP95Ms ? [`${name} p95 ${o.p95Ms} ms (over ${thresholds.maxP95Ms} ms)`] : []),
    ]);
    add(
      problems.length > 0
        ? { step: 3, id: 'latency', verdict: 'fail', detail: problems.join('; ') }
        : { step: 3, id: 'latency', verdict: 'pass', detail: ran.length === 0 ? 'no support operation ran in 24 h' : ran.map(([name, o]) => `${name} ${o.count}x p95 ${o.p95Ms ?? '-'} ms`).join(', ') },
    );
  }
  if (!inputs.routing.ok) {
    add(unread(3, 'routing', 'the routing efficiency', inputs.routing));
  } else {
    const r = inputs.routing.body;
    if (r.efficiency === null) {
      add({ step: 3, id: 'routing', verdict: 'pass', detail: `no routed LLM request to judge in 24 h (${r.decisions} decisions)` });
    } else {
      const p = r.efficiency * 100;
      const verdict: Verdict = p < thresholds.routingFailPct ? 'fail' : p < thresholds.routingWarnPct ? 'warn' : 'pass';
      add({ step: 3, id: 'routing', verdict, detail: `${p.toFixed(1)} % of ${r.decisions} requests served by their primary path within budget (fail below ${thresholds.routingFailPct} %, warn below ${thresholds.routingWarnPct} %)` });
    }
  }
  if (!inputs.alerts.ok) {
    add(unread(3, 'alerts', 'the firing alerts', inputs.alerts));
  } else {
    // The service's own thresholds (BSM_ALERT_*): a firing P0/P1 nobody acknowledged fails the check.
    const firing = inputs.alerts.body.alerts.filter((a) => a.state === 'firing');
    const severe = firing.filter((a) => a.level === 'P0' || a.level === 'P1');
    add({
      step: 3,
      id: 'alerts',
      verdict: severe.length > 0 ? 'fail' : firing.length > 0 ? 'warn' : 'pass',
      detail: firing.length === 0 ? 'no alert firing' : firing.map((a) => `${a.level} ${a.title}`).join('; '),
    });
  }

  const reasons = checks.filter((c) => c.verdict === 'fail').map((c) => `${c.id}: ${c.detail}`);
  return {
    verdict: reasons.length > 0 ? 'fail' : 'pass',
    checkedAt: inputs.now.toISOString(),
    checks,
    reasons,
    warnings: checks.filter((c) => c.verdict === 'warn').map((c) => `${c.id}: ${c.detail}`),
  };
}
