/**
 * Alerts: what the rules see firing, kept with a lifecycle. An alert is one rule about one
 * subject, so the same condition seen minute after minute is one alert (its id `alert-…` comes
 * from the rule and the subject); it fires, may be acknowledged by a person, and is resolved by
 * the evaluation that no longer sees it. Seen again later, the same alert fires again (`firings`
 * counts the times). Pure data and transitions: the store and the evaluation live beside it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** The runbook's alert levels: P0 critical, P1 high, P2 medium. */
export const alertLevels = ['P0', 'P1', 'P2'] as const;
export type AlertLevel = (typeof alertLevels)[number];

export const alertStates = ['firing', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof alertStates)[number];

/** What a notification tells: an alert fired, was resolved, or went unacknowledged past its escalation delay. */
export const alertEvents = ['firing', 'resolved', 'escalation'] as const;
export type AlertEvent = (typeof alertEvents)[number];

/** A condition a rule sees now: one rule about one subject, with the measured values that make it fire. */
export interface AlertCondition {
  /** The rule, dotted: `component.unhealthy`, `support-mode.emergency-shutdown`. */
  rule: string;
  /** What it is about: a queue, `bedrock-support`, `audit-trail`, an inventory target. */
  subject: string;
  level: AlertLevel;
  title: string;
  /** The measured values behind it, in a sentence (no personal data: what it quotes is redacted). */
  detail: string;
}

export const alertConditionSchema = z.object({
  rule: z.string(),
  subject: z.string(),
  level: z.enum(alertLevels),
  title: z.string(),
  detail: z.string(),
}) satisfies z.ZodType<AlertCondition>;

/** When each notification of the current firing was delivered (null: not yet, or not sent). */
export interface DeliveryMarks {
  firing: string | null;
  resolved: string | null;
  escalation: string | null;
}

export interface Alert extends AlertCondition {
  id: string;
  state: AlertState;
  /** When the current firing began. */
  firedAt: string;
  /** The last evaluation that saw the condition. */
  lastSeenAt: string;
  /** Times it fired, this firing included: notifications name the firing they are about. */
  firings: number;
  /** Who acknowledged the current firing, when, and their note (redacted). */
  acknowledged: { by: string; at: string; note: string | null } | null;
  resolvedAt: string | null;
  notified: DeliveryMarks;
}

const instant = z.string();

export const alertSchema = alertConditionSchema.extend({
  id: z.string(),
  state: z.enum(alertStates),
  firedAt: instant,
  lastSeenAt: instant,
  firings: z.number().int().min(1),
  acknowledged: z.object({ by: z.string(), at: instant, note: z.string().nullable() }).nullable(),
  resolvedAt: instant.nullable(),
  notified: z.object({ firing: instant.nullable(), resolved: instant.nullable(), escalation: instant.nullable() }),
}) satisfies z.ZodType<Alert>;

/** One change of an alert's state, as the bounded history keeps it. */
export interface AlertTransition {
  at: string;
  alertId: string;
  rule: string;
  subject: string;
  level: AlertLevel;
  /** Null when it fired for the first time. */
  from: AlertState | null;
  to: AlertState;
  /** `alert-evaluation`, the support-mode service (an emergency shutdown), or the API key that acknowledged. */
  by: string;
  firing: number;
  note: string | null;
}

export const alertTransitionSchema = z.object({
  at: instant,
  alertId: z.string(),
  rule: z.string(),
  subject: z.string(),
  level: z.enum(alertLevels),
  from: z.enum(alertStates).nullable(),
  to: z.enum(alertStates),
  by: z.string(),
  firing: z.number().int().min(1),
  note: z.string().nullable(),
}) satisfies z.ZodType<AlertTransition>;

export const alertIdPattern = /^alert-[0-9a-f]{16}$/;

/** The alert of a rule about a subject: the same pair always has the same id. */
export function alertIdOf(rule: string, subject: string): string {
  return `alert-${createHash('sha256').update(`${rule}\n${subject}`).digest('hex').slice(0, 16)}`;
}

/** Whether the alert is still on: firing or acknowledged. */
export function isOpenAlert(alert: Pick<Alert, 'state'>): boolean {
  return alert.state !== 'resolved';
}

/** The alert cannot take the change asked (acknowledging one that is resolved, or acknowledged already). */
export class AlertConflictError extends Error {
  override readonly name = 'AlertConflictError';
  constructor(
    message: string,
    readonly state: AlertState,
  ) {
    super(message);
  }
}

const noMarks = (): DeliveryMarks => ({ firing: null, resolved: null, escalation: null });

const transitionOf = (alert: Alert, from: AlertState | null, by: string, at: string, note: string | null = null): AlertTransition => ({
  at,
  alertId: alert.id,
  rule: alert.rule,
  subject: alert.subject,
  level: alert.level,
  from,
  to: alert.state,
  by,
  firing: alert.firings,
  note,
});

/** What one change did: the alerts to write and the transitions to record. */
export interface AlertChanges {
  alerts: Alert[];
  transitions: AlertTransition[];
}

/**
 * The condition seen now, against the alert as stored (null: never fired): an open alert takes
 * the new figures, a resolved or new one fires (again).
 */
export function sighted(stored: Alert | null, condition: AlertCondition, by: string, at: Date): { alert: Alert; transition: AlertTransition | null } {
  const now = at.toISOString();
  if (stored !== null && isOpenAlert(stored)) {
    return { alert: { ...stored, title: condition.title, detail: condition.detail, lastSeenAt: now }, transition: null };
  }
  const alert: Alert = {
    ...condition,
    id: alertIdOf(condition.rule, condition.subject),
    state: 'firing',
    firedAt: now,
    lastSeenAt: now,
    firings: (stored?.firings ?? 0) + 1,
    acknowledged: null,
    resolvedAt: null,
    notified: noMarks(),
  };
  return { alert, transition: transitionOf(alert, stored?.state ?? null, by, now) };
}

/** The alert's condition has ended. */
export function resolved(alert: Alert, by: string, at: Date): { alert: Alert; transition: AlertTransition } {
  const now = at.toISOString();
  const next: Alert = { ...alert, state: 'resolved', resolvedAt: now };
  return { alert: next, transition: transitionOf(next, alert.state, by, now) };
}

/** A person has seen the alert; `note` is already redacted. */
export function acknowledged(alert: Alert, by: string, note: string | null, at: Date): { alert: Alert; transition: AlertTransition } {
  if (alert.state !== 'firing') {
    const when = alert.state === 'resolved' ? `resolved at ${alert.resolvedAt ?? '?'}` : `acknowledged by ${alert.acknowledged?.by ?? '?'} at ${alert.acknowledged?.at ?? '?'}`;
    throw new AlertConflictError(`alert ${alert.id} is ${when}: only a firing alert can be acknowledged`, alert.state);
  }
  const now = at.toISOString();
  const next: Alert = { ...alert, state: 'acknowledged', acknowledged: { by, at: now, note } };
  return { alert: next, transition: transitionOf(next, 'firing', by, now, note) };
}

/** What one evaluation saw: the conditions firing, and the rules it could not judge this time. */
export interface Evaluation {
  firing: readonly AlertCondition[];
  /**
   * Rules, or single alerts (by id), that had too little to go on (too few samples, no stored
   * result): their open alerts stay as they are, neither confirmed nor resolved.
   */
  unjudged: ReadonlySet<string>;
}

/**
 * An evaluation against the alerts as stored: every condition firing now is sighted (an open
 * alert updated, another one fired), and every open alert of a judged rule that is not firing
 * now is resolved. `stored` holds the open alerts and the stored ones of the firing conditions.
 */
export function reconcile(stored: ReadonlyMap<string, Alert>, evaluation: Evaluation, by: string, at: Date): AlertChanges {
  const alerts: Alert[] = [];
  const transitions: AlertTransition[] = [];
  const seen = new Set<string>();
  for (const condition of evaluation.firing) {
    const id = alertIdOf(condition.rule, condition.subject);
    if (seen.has(id)) {
      continue;
    }
    seen.add(id);
    const s = sighted(stored.get(id) ?? null, condition, by, at);
    alerts.push(s.alert);
    if (s.transition) {
      transitions.push(s.transition);
    }
  }
  for (const alert of stored.values()) {
    if (!seen.has(alert.id) && isOpenAlert(alert) && !evaluation.unjudged.has(alert.rule) && !evaluation.unjudged.has(alert.id)) {
      const r = resolved(alert, by, at);
      alerts.push(r.alert);
      transitions.push(r.transition);
    }
  }
  return { alerts, transitions };
}

/** The notifications an alert still owes for its current firing, given which webhooks exist. */
export function pendingEvents(alert: Alert, webhooks: { main: boolean; escalation: boolean }): AlertEvent[] {
  const out: AlertEvent[] = [];
  if (webhooks.main && alert.notified.firing === null) {
    out.push('firing');
  }
  if (webhooks.main && alert.state === 'resolved' && alert.notified.resolved === null) {
    out.push('resolved');
  }
  if (webhooks.escalation && alert.state === 'firing' && alert.notified.escalation === null) {
    out.push('escalation');
  }
  return out;
}

/** Another change of the alerts held their lock too long. */
export class AlertsBusyError extends Error {
  override readonly name = 'AlertsBusyError';
}
