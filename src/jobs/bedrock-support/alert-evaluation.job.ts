import { z } from 'zod';
import { alertConditionSchema, alertIdOf } from '../../domain/alerts/alert.js';
import { ruleInitiator, shutdownCause } from '../../domain/alerts/auto-shutdown.js';
import { alertWindowMinutes, evaluateRules, type AlertInputs } from '../../domain/alerts/rules.js';
import { verifyTail } from '../../domain/audit-trail/chain.js';
import { complianceCheckResultSchema } from '../../domain/compliance/daily-check.js';
import { gapStatuses } from '../../domain/gaps/gap.js';
import { isOpenGap } from '../../domain/gaps/lifecycle.js';
import { queueNames } from '../../domain/queue-names.js';
import { componentHealthOf } from '../../domain/support-mode/health.js';
import { componentNames, type ComponentName } from '../../domain/support-mode/state.js';
import { defineJob } from '../define.js';
import type { JobDeps } from '../deps.js';

/** Who the evaluation's transitions and its automatic shutdown name. */
export const evaluationActor = 'alert-evaluation';

/** Finished jobs read per queue and state for the run-time p95 of two windows (the newest ones). */
const runTimeReadLimit = 1_000;
/** Open audit gaps read for configuration drift (the most recently seen). */
const driftReadLimit = 1_000;
const openGapStatuses = gapStatuses.filter(isOpenGap);

const resultSchema = z.object({
  evaluatedAt: z.string(),
  /** Every condition firing now, with its alert's id. */
  firing: z.array(alertConditionSchema.extend({ id: z.string() })),
  /** Rules (or single alerts) with too little to go on this time: their open alerts were left as they were. */
  unjudged: z.array(z.string()),
  /** Alerts that fired (again) and that were resolved by this evaluation. */
  fired: z.array(z.string()),
  resolved: z.array(z.string()),
  /** The automatic emergency shutdown this evaluation made, or null. */
  autoShutdown: z.object({ rule: z.string(), subject: z.string(), initiatedBy: z.string(), changed: z.boolean() }).nullable(),
});

/** Everything the rules read, measured now. */
async function measure(deps: JobDeps, at: Date): Promise<AlertInputs> {
  const { thresholds } = deps.alerts;
  const windowMs = alertWindowMinutes * 60_000;
  const [fleet, compliance, tail, routing, lastHour, gaps] = await Promise.all([
    deps.fleet.snapshot(),
    deps.reports.latest('compliance-check', complianceCheckResultSchema),
    deps.auditTrail.tail(deps.alerts.auditTail),
    deps.alerts.llm(windowMs),
    thresholds.llmHourlySpendUsd === null ? Promise.resolve(null) : deps.alerts.llm(60 * 60_000),
    deps.gaps.list({ source: 'audit', status: openGapStatuses, limit: driftReadLimit }),
  ]);
  const trail = verifyTail(tail, deps.alerts.auditTail);
  if (!trail.ok) {
    const first = trail.breaks[0];
    await deps.alerts.llmGate.recordChain({ ok: false, full: false, detail: `${trail.breaks.length} break(s) in the newest ${trail.checked} entries${first ? `, first at seq ${first.seq}: ${first.problem} (${first.detail})` : ''}`, source: 'alert-evaluation' });
  }
  const llmBlocked = await deps.alerts.llmGate.violations();
  const split = at.getTime() - windowMs;
  const [finished, completed] = await Promise.all([
    Promise.all(componentNames.map((c) => deps.fleet.recentFinished(c, { limit: thresholds.consecutiveFailures }))),
    Promise.all(queueNames.map((q) => deps.fleet.recentFinished(q, { limit: runTimeReadLimit, since: new Date(split - windowMs), states: ['completed'] }))),
  ]);
  const lastFinished = {} as Record<ComponentName, ('completed' | 'failed')[]>;
  for (const [i, c] of componentNames.entries()) {
    lastFinished[c] = (finished[i] ?? []).map((j) => j.state);
  }
  const runTimes: Record<string, { current: number[]; previous: number[] }> = {};
  for (const [i, q] of queueNames.entries()) {
    for (const j of completed[i] ?? []) {
      if (j.runMs === null) {
        continue;
      }
      const times = (runTimes[`${q}/${j.name}`] ??= { current: [], previous: [] });
      (j.finishedAt >= split ? times.current : times.previous).push(j.runMs);
    }
  }
  return {
    at,
    fleet,
    health: componentHealthOf(fleet, at),
    compliance: compliance === null ? null : { checkedAt: compliance.body.checkedAt, items: compliance.body.items },
    auditTrail: trail,
    llmBlocked: llmBlocked.map((v) => ({ check: v.check, detail: v.detail })),
    lastFinished,
    runTimes,
    routing: { decisions: routing.decisions, efficiency: routing.efficiency },
    llmSpendLastHourUsd: lastHour?.costUsd ?? 0,
    drift: gaps.filter((g) => g.type === 'configuration_drift').map((g) => ({ id: g.id, subject: g.subject, title: g.title })),
  };
}

/**
 * Every minute: the runbook's alert rules over measured values, recorded as alerts (fired,
 * updated, resolved; their notifications queued), and, while the `auto-emergency-shutdown` flag
 * is on, an emergency shutdown when a configured trigger fires.
 */
export const alertEvaluationJob = defineJob({
  queue: 'bedrock-support',
  name: 'alert-evaluation',
  description:
    'evaluates the alert rules (P0: support mode unavailable, every component unhealthy, a compliance violation, LLM calls blocked by a critical compliance violation, audit-trail corruption; P1/P2: component health, job run-time degradation, routing efficiency, error rate, consecutive failures, LLM spend, configuration drift, and the fleet rules), keeps the alerts, queues their notifications, and shuts support mode down on a trigger when automatic shutdown is on',
  payload: z.object({}),
  result: resultSchema,
  stored: true,
  schedule: { id: 'alert-evaluation', setting: 'BSM_SCHEDULE_ALERTS', data: {}, priority: 'high', description: 'Alert evaluation' },
  handler: async (_job, ctx, deps) => {
    const at = deps.clock();
    const inputs = await measure(deps, at);
    const evaluation = evaluateRules(inputs, deps.alerts.thresholds);
    ctx.signal.throwIfAborted();
    const changes = await deps.alerts.service.record(evaluation, evaluationActor);
    // One line per transition, so an operator tailing the log (or a CloudWatch filter on WARN) sees alerts come and go.
    for (const t of changes.transitions) {
      const alert = changes.alerts.find((a) => a.id === t.alertId);
      const fields = { alertId: t.alertId, rule: t.rule, subject: t.subject, level: t.level, firing: t.firing, detail: alert?.detail };
      if (t.to === 'firing') {
        ctx.log.warn(fields, `alert ${t.level} firing: ${alert?.title ?? t.rule}`);
      } else {
        ctx.log.info(fields, `alert ${t.level} resolved: ${alert?.title ?? t.rule}`);
      }
    }
    let autoShutdown: z.infer<typeof resultSchema>['autoShutdown'] = null;
    const { autoShutdown: auto } = deps.alerts;
    const cause = shutdownCause(evaluation.firing, auto.triggers);
    const mode = inputs.fleet.mode;
    if (cause !== null && mode.flag.enabled && mode.emergency === null && (await auto.enabled())) {
      const initiatedBy = ruleInitiator(cause.rule);
      const reason = `automatic emergency shutdown: ${cause.title}: ${cause.detail}`;
      ctx.log.warn({ rule: cause.rule, subject: cause.subject, detail: cause.detail }, 'alert trigger fired with auto-emergency-shutdown on: shutting support mode down');
      const r = await auto.shutdown({ reason, initiatedBy, immediate: true }, { by: evaluationActor, reason });
      autoShutdown = { rule: cause.rule, subject: cause.subject, initiatedBy, changed: r.changed };
    }
    const moved = (to: string) => changes.transitions.filter((t) => t.to === to).map((t) => t.alertId);
    return {
      evaluatedAt: at.toISOString(),
      firing: evaluation.firing.map((c) => ({ id: alertIdOf(c.rule, c.subject), ...c })),
      unjudged: [...evaluation.unjudged].sort(),
      fired: moved('firing'),
      resolved: moved('resolved'),
      autoShutdown,
    };
  },
});
