/**
 * The runbook's alert levels as rules over measured values. Each rule reads what the evaluation
 * measured this minute (the fleet's snapshot, the health rules, the latest compliance check, the
 * audit trail's newest entries, finished jobs, the LLM router's figures, the gap store) and
 * assumes nothing: a rule without enough to go on is left unjudged, and its open alerts stay.
 *
 * P0: support mode shut down by an emergency, or enabled with no worker on any active
 * component's queue; every running component unhealthy; a failed item of the latest compliance
 * check; LLM calls blocked by a critical compliance violation (the LLM gate); breaks in the audit
 * trail's newest entries; no worker on any queue (fleet rules).
 * P1: one component unhealthy; a job's run-time p95 on its queue more than `degradation.p1Pct`
 * above the 15 minutes before; routing efficiency below `routing.p1Pct`; the support operations' error rate
 * above `errorRatePct`; a component's last `consecutiveFailures` jobs all failed; LLM spend of
 * the last hour above its limit; work waiting on a queue without a worker (fleet rules).
 * P2: the p95 more than `degradation.p2Pct` above; routing efficiency below `routing.p2Pct`; a
 * component degraded; open configuration-drift gaps; slow Redis (fleet rules).
 */
import type { ChainBreak } from '../audit-trail/chain.js';
import type { FleetSnapshot } from '../fleet/ports.js';
import type { QueueName } from '../queue-names.js';
import { queueNames } from '../queue-names.js';
import { round, percentile } from '../stats.js';
import type { ComponentHealth } from '../support-mode/health.js';
import { componentNames, desiredQueueStates, type ComponentName } from '../support-mode/state.js';
import { alertIdOf, type AlertCondition, type Evaluation } from './alert.js';
import { evaluateFleetRules } from './fleet-rules.js';

/** The thresholds of the rules (settings `BSM_ALERT_*`, `BSM_LLM_HOURLY_SPEND_LIMIT_USD`). */
export interface AlertThresholds {
  /** Finished jobs or routed calls a 15-minute window needs before a rate or a p95 is judged. */
  minSamples: number;
  /** Support operations' error rate, percent: above it, P1. */
  errorRatePct: number;
  /** A component's last this-many finished jobs all failed: P1. */
  consecutiveFailures: number;
  /** Run-time p95 increase, percent: above `p1Pct` P1, above `p2Pct` P2; a p95 below `minP95Ms` is not judged. */
  degradation: { p1Pct: number; p2Pct: number; minP95Ms: number };
  /** Routing efficiency, percent: below `p1Pct` P1, below `p2Pct` P2. */
  routing: { p1Pct: number; p2Pct: number };
  /** LLM spend of the last 60 minutes above this (USD): P1. Null: no limit. */
  llmHourlySpendUsd: number | null;
}

/** The window rates and percentiles are taken over (the health rules' window). */
export const alertWindowMinutes = 15;

/** What the evaluation measured, for the rules. */
export interface AlertInputs {
  at: Date;
  /** The fleet, read for this evaluation (queues, workers, Redis, the support-mode state). */
  fleet: FleetSnapshot;
  /** Every component's health from that snapshot (the rules behind `/health/component/{c}`). */
  health: Record<QueueName, ComponentHealth>;
  /** The latest stored compliance check, or null when none ran yet. */
  compliance: { checkedAt: string; items: readonly { id: string; status: 'pass' | 'fail'; detail: string }[] } | null;
  /** The verification of the audit trail's newest entries. */
  auditTrail: { ok: boolean; checked: number; breaks: readonly ChainBreak[] };
  /** The critical compliance violations blocking LLM calls now (the LLM gate's); absent: not measured. */
  llmBlocked?: readonly { check: string; detail: string }[];
  /** Per component queue, its newest finished jobs (newest first; at most `consecutiveFailures`). */
  lastFinished: Record<ComponentName, readonly ('completed' | 'failed')[]>;
  /**
   * Per job, `<queue>/<job name>`, the run times (ms) of those completed in the last window and in
   * the window before it: every job that completed in either window is listed.
   */
  runTimes: Readonly<Record<string, { current: readonly number[]; previous: readonly number[] }>>;
  /** The LLM router's decisions over the last window and their efficiency (0..1, null without any). */
  routing: { decisions: number; efficiency: number | null };
  /** LLM spend of the last 60 minutes, USD, as the router's decisions tallied it. */
  llmSpendLastHourUsd: number;
  /** Open gaps of type configuration_drift. */
  drift: readonly { id: string; subject: string; title: string }[];
}

const pct = (ratio: number) => `${round(ratio * 100, 1)} %`;

/** The emergency shutdown as an alert: who, why, when (all redacted when the shutdown was stored). */
export function emergencyCondition(emergency: { at: string; reason: string; initiatedBy: string; requestedBy: string }): AlertCondition {
  return {
    rule: 'support-mode.emergency-shutdown',
    subject: 'bedrock-support',
    level: 'P0',
    title: 'Support mode emergency shutdown',
    detail: `shut down at ${emergency.at} by ${emergency.initiatedBy} (requested by ${emergency.requestedBy}): ${emergency.reason}; recover with POST /admin/feature-flags/bedrock-support/enable, then activate components one at a time`,
  };
}

/** Every rule over what was measured: the conditions firing and the rules (or alerts) left unjudged. */
export function evaluateRules(inputs: AlertInputs, thresholds: AlertThresholds): Evaluation & { firing: AlertCondition[] } {
  const firing: AlertCondition[] = [...evaluateFleetRules(inputs.fleet)];
  const unjudged = new Set<string>();
  const mode = inputs.fleet.mode;
  const desired = desiredQueueStates(mode);
  const running = queueNames.filter((q) => desired[q] === 'running');

  // P0: support mode unavailable.
  if (mode.emergency !== null) {
    firing.push(emergencyCondition(mode.emergency));
  }
  const active = componentNames.filter((c) => mode.flag.enabled && mode.components[c].active);
  if (active.length > 0 && active.every((c) => inputs.fleet.queues[c].workers.count === 0)) {
    firing.push({
      rule: 'support-mode.unavailable',
      subject: 'bedrock-support',
      level: 'P0',
      title: 'Support mode unavailable: no active component has a worker',
      detail: `support mode is enabled with ${active.join(', ')} active, and none of their queues has a live worker`,
    });
  }

  // Health: only the queues support mode runs; one it keeps paused on purpose raises nothing.
  const unhealthy = running.filter((q) => inputs.health[q].status === 'unhealthy');
  if (mode.flag.enabled && running.length > 0 && unhealthy.length === running.length) {
    firing.push({ rule: 'components.all-failing', subject: 'fleet', level: 'P0', title: 'Every running component fails its health check', detail: unhealthy.map((q) => `${q}: ${inputs.health[q].reasons.join('; ')}`).join(' | ') });
  }
  for (const q of running) {
    const h = inputs.health[q];
    if (h.status === 'unhealthy') {
      firing.push({ rule: 'component.unhealthy', subject: q, level: 'P1', title: `${q} fails its health check`, detail: h.reasons.join('; ') });
    } else if (h.status === 'degraded') {
      firing.push({ rule: 'component.degraded', subject: q, level: 'P2', title: `${q} is degraded`, detail: h.reasons.join('; ') });
    }
  }

  // P0: compliance and the audit trail.
  if (inputs.compliance === null) {
    unjudged.add('compliance.violation');
  } else {
    for (const item of inputs.compliance.items.filter((i) => i.status === 'fail')) {
      firing.push({ rule: 'compliance.violation', subject: item.id, level: 'P0', title: `Compliance check failed: ${item.id}`, detail: `${item.detail} (compliance check of ${inputs.compliance.checkedAt})` });
    }
  }
  if (inputs.llmBlocked === undefined) {
    unjudged.add('compliance.llm-blocked');
  } else if (inputs.llmBlocked.length > 0) {
    firing.push({
      rule: 'compliance.llm-blocked',
      subject: 'llm',
      level: 'P0',
      title: 'LLM calls are blocked by a critical compliance violation',
      detail: `${inputs.llmBlocked.map((v) => `${v.check}: ${v.detail}`).join('; ')}; every LLM request is refused until it is fixed`,
    });
  }
  if (!inputs.auditTrail.ok) {
    const first = inputs.auditTrail.breaks[0];
    firing.push({
      rule: 'audit-trail.corruption',
      subject: 'audit-trail',
      level: 'P0',
      title: 'The audit trail is corrupted',
      detail: `${inputs.auditTrail.breaks.length} break(s) in the newest ${inputs.auditTrail.checked} entries${first ? `, first at seq ${first.seq}: ${first.problem} (${first.detail})` : ''}`,
    });
  }

  // Performance: each job's run-time p95 on its queue against the window before (one job of a queue
  // at a time: a change in the queue's mix of quick and slow jobs is no slowdown).
  for (const [q, { current, previous }] of Object.entries(inputs.runTimes)) {
    if (current.length < thresholds.minSamples || previous.length < thresholds.minSamples) {
      unjudged.add(alertIdOf('performance.degradation.p1', q)).add(alertIdOf('performance.degradation.p2', q));
      continue;
    }
    const now = percentile(current, 95) ?? 0;
    const before = percentile(previous, 95) ?? 0;
    if (now < thresholds.degradation.minP95Ms || before <= 0) {
      continue;
    }
    const change = ((now - before) / before) * 100;
    const detail = `job run-time p95 ${round(now, 1)} ms over the last ${alertWindowMinutes} min (${current.length} jobs) against ${round(before, 1)} ms before (${previous.length} jobs): +${round(change, 1)} %`;
    if (change > thresholds.degradation.p1Pct) {
      firing.push({ rule: 'performance.degradation.p1', subject: q, level: 'P1', title: `${q} jobs run more than ${thresholds.degradation.p1Pct} % slower`, detail });
    } else if (change > thresholds.degradation.p2Pct) {
      firing.push({ rule: 'performance.degradation.p2', subject: q, level: 'P2', title: `${q} jobs run ${thresholds.degradation.p2Pct}-${thresholds.degradation.p1Pct} % slower`, detail });
    }
  }

  // Routing efficiency of the LLM router.
  const { decisions, efficiency } = inputs.routing;
  if (decisions < thresholds.minSamples || efficiency === null) {
    unjudged.add('routing.efficiency.p1').add('routing.efficiency.p2');
  } else {
    const detail = `${pct(efficiency)} of ${decisions} LLM requests in the last ${alertWindowMinutes} min were served by their primary path within budget`;
    if (efficiency * 100 < thresholds.routing.p1Pct) {
      firing.push({ rule: 'routing.efficiency.p1', subject: 'llm-router', level: 'P1', title: `Routing efficiency below ${thresholds.routing.p1Pct} %`, detail });
    } else if (efficiency * 100 < thresholds.routing.p2Pct) {
      firing.push({ rule: 'routing.efficiency.p2', subject: 'llm-router', level: 'P2', title: `Routing efficiency below ${thresholds.routing.p2Pct} %`, detail });
    }
  }

  // Errors of the support operations: the component queues' jobs over the window.
  const totals = componentNames.reduce((t, c) => ({ completed: t.completed + inputs.fleet.queues[c].recent.completed, failed: t.failed + inputs.fleet.queues[c].recent.failed }), { completed: 0, failed: 0 });
  const finished = totals.completed + totals.failed;
  if (finished < thresholds.minSamples) {
    unjudged.add('support-operations.error-rate');
  } else if ((totals.failed / finished) * 100 > thresholds.errorRatePct) {
    firing.push({
      rule: 'support-operations.error-rate',
      subject: 'support-operations',
      level: 'P1',
      title: `More than ${thresholds.errorRatePct} % of support operations fail`,
      detail: `${totals.failed} of ${finished} jobs of ${componentNames.join(', ')} failed in the last ${alertWindowMinutes} min (${pct(totals.failed / finished)})`,
    });
  }
  for (const c of componentNames) {
    const last = inputs.lastFinished[c].slice(0, thresholds.consecutiveFailures);
    if (last.length === thresholds.consecutiveFailures && last.every((s) => s === 'failed')) {
      firing.push({
        rule: 'component.consecutive-failures',
        subject: c,
        level: 'P1',
        title: `${c}: ${thresholds.consecutiveFailures} jobs failed in a row`,
        detail: `the last ${thresholds.consecutiveFailures} finished jobs of ${c} all failed`,
      });
    }
  }

  // LLM spend of the last hour.
  const limit = thresholds.llmHourlySpendUsd;
  if (limit !== null && inputs.llmSpendLastHourUsd > limit) {
    firing.push({ rule: 'llm.spend', subject: 'llm', level: 'P1', title: `LLM spend above ${limit} USD an hour`, detail: `${round(inputs.llmSpendLastHourUsd, 6)} USD spent on LLM calls in the last 60 min (limit ${limit} USD)` });
  }

  // Configuration drift the auditor found, per target.
  const bySubject = new Map<string, { id: string; title: string }[]>();
  for (const g of inputs.drift) {
    bySubject.set(g.subject, [...(bySubject.get(g.subject) ?? []), g]);
  }
  for (const [subject, gaps] of bySubject) {
    firing.push({
      rule: 'config.drift',
      subject,
      level: 'P2',
      title: `Configuration drift on ${subject}`,
      detail: `${gaps.length} open configuration-drift gap(s): ${gaps
        .slice(0, 5)
        .map((g) => `${g.id} ${g.title}`)
        .join('; ')}${gaps.length > 5 ? '; …' : ''}`,
    });
  }
  return { firing, unjudged };
}
