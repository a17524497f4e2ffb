/**
 * The alerts service: records what an evaluation saw (alerts fired, updated, resolved), raises
 * an alert at once (an emergency shutdown), takes acknowledgements, and delivers notifications.
 * Every change of an alert's state is in the audit trail before it is stored; a caller's note is
 * redacted first. Notifications are queued deliveries, asked for once per event of a firing.
 */
import type { AuditEventInput } from '../audit-trail/chain.js';
import { recordBeforeChange } from '../audit-trail/ports.js';
import { Redactor } from '../compliance/pii.js';
import {
  acknowledged,
  alertIdOf,
  isOpenAlert,
  pendingEvents,
  reconcile,
  resolved,
  sighted,
  type Alert,
  type AlertChanges,
  type AlertCondition,
  type AlertEvent,
  type AlertLevel,
  type AlertState,
  type AlertTransition,
  type Evaluation,
} from './alert.js';
import { notificationBody, WebhookRejectedError, type WebhookFormat } from './notification.js';
import type { AlertStore, NotificationQueue, NotificationRequest, WebhookSender } from './ports.js';

export interface AlertSettings {
  /** `ALERT_WEBHOOK_URL` and `ALERT_ESCALATION_WEBHOOK_URL` (null: none), and the body format. */
  webhooks: { main: string | null; escalation: string | null; format: WebhookFormat };
  /** How long an alert of each level may go unacknowledged before it is escalated. */
  escalateAfterMs: Record<AlertLevel, number>;
  /** Attempts and first delay (doubling) of a delivery made by the raising process itself. */
  directRetry: { attempts: number; backoffMs: number };
}

export interface AlertServiceDeps {
  store: AlertStore;
  queue: NotificationQueue;
  sender: WebhookSender;
  audit: { append(event: AuditEventInput): Promise<unknown> };
  settings: AlertSettings;
  clock: () => Date;
  /** Told of each failed attempt of a direct delivery, and when it gives up. */
  onDirectDeliveryFailed?: (event: { alertId: string; event: AlertEvent; attempt: number; error: string; gaveUp: boolean }) => void;
  /** Told when the entry of a raised alert could not be written yet (it is retried until it is). */
  onAuditRetry?: (event: { alertId: string; attempt: number; error: string; nextRetryMs: number }) => void;
}

/** No alert has that id. */
export class AlertNotFoundError extends Error {
  override readonly name = 'AlertNotFoundError';
  constructor(readonly id: string) {
    super(`no alert ${id}`);
  }
}

/** A notification of a firing that is not stored yet (the evaluation that raised it has not written it): deliver it later. */
export class AlertNotStoredYetError extends Error {
  override readonly name = 'AlertNotStoredYetError';
}

/** Why a notification was not sent. */
export type DeliverySkip = 'superseded' | 'already_delivered' | 'acknowledged' | 'resolved' | 'not_resolved' | 'no_webhook';

export interface DeliveryOutcome {
  delivered: boolean;
  /** Null when it was delivered. */
  skipped: DeliverySkip | null;
}

export interface AlertFilter {
  state?: AlertState;
  level?: AlertLevel;
}

export interface AlertService {
  /** Records an evaluation: alerts fired, updated and resolved (audited first), then queues what they owe. */
  record(evaluation: Evaluation, by: string): Promise<AlertChanges>;
  /**
   * Raises one alert now and delivers its notification from this process (the queues may be
   * paused: an emergency shutdown pauses them all), retrying with back-off; the queued delivery
   * stays as the backstop and is skipped once this one got through. Always a new firing: an alert
   * of the same rule and subject still open is resolved first. As the emergency's own
   * entry, the alert's audit entry is retried until the trail takes it: the team hears of an
   * emergency even when the audit trail is what failed.
   */
  raise(condition: AlertCondition, by: string): Promise<Alert>;
  /** A person saw the alert. `note` is redacted before it is stored. Throws AlertNotFoundError, AlertConflictError. */
  acknowledge(id: string, by: string, note?: string): Promise<Alert>;
  get(id: string): Promise<Alert | null>;
  /** Kept alerts, firing first, then acknowledged, then resolved; the most severe and the newest first within each. */
  list(filter?: AlertFilter): Promise<Alert[]>;
  history(alertId: string, limit?: number): Promise<AlertTransition[]>;
  /** Delivers one notification (what the `alert-notify` job does). Throws when it should be tried again. */
  deliver(request: NotificationRequest, signal?: AbortSignal): Promise<DeliveryOutcome>;
}

const stateOrder: Record<AlertState, number> = { firing: 0, acknowledged: 1, resolved: 2 };
const levelOrder: Record<AlertLevel, number> = { P0: 0, P1: 1, P2: 2 };

/** Resolved alerts whose notification is re-asked for by later evaluations, in case the first ask was lost. */
const resolvedRecheckMs = 60 * 60_000;

export function createAlertService(deps: AlertServiceDeps): AlertService {
  const { store, settings } = deps;
  const webhooks = { main: settings.webhooks.main !== null, escalation: settings.webhooks.escalation !== null };

  const auditEntry = (by: string, action: string, transitions: readonly AlertTransition[]): AuditEventInput => ({
    actor: by,
    action,
    target: transitions.length === 1 ? transitions[0]?.alertId : 'alerts',
    details: { transitions: transitions.map((t) => ({ alertId: t.alertId, rule: t.rule, subject: t.subject, level: t.level, from: t.from, to: t.to, firing: t.firing })) },
  });

  /** Queues every notification the alerts still owe (asking twice for one is harmless: the queue keeps one). */
  const dispatch = async (alerts: readonly Alert[]) => {
    const now = deps.clock().getTime();
    for (const alert of alerts) {
      for (const event of pendingEvents(alert, webhooks)) {
        const delayMs = event === 'escalation' ? Math.max(0, Date.parse(alert.firedAt) + settings.escalateAfterMs[alert.level] - now) : 0;
        await deps.queue.enqueue({ alertId: alert.id, event, firing: alert.firings }, delayMs);
      }
    }
  };

  const mark = (request: NotificationRequest, at: Date) =>
    store.exclusive(async () => {
      const alert = await store.get(request.alertId);
      if (alert?.firings === request.firing) {
        await store.save({ alerts: [{ ...alert, notified: { ...alert.notified, [request.event]: at.toISOString() } }], transitions: [] }, at);
      }
    });

  const deliver = async (request: NotificationRequest, signal?: AbortSignal): Promise<DeliveryOutcome> => {
    const alert = await store.get(request.alertId);
    if (alert === null || alert.firings < request.firing) {
      throw new AlertNotStoredYetError(`firing ${request.firing} of alert ${request.alertId} is not stored yet`);
    }
    const skip = (skipped: DeliverySkip): DeliveryOutcome => ({ delivered: false, skipped });
    if (alert.firings > request.firing) {
      return skip('superseded');
    }
    if (alert.notified[request.event] !== null) {
      return skip('already_delivered');
    }
    if (request.event === 'resolved' && alert.state !== 'resolved') {
      return skip('not_resolved');
    }
    if (request.event === 'escalation' && alert.state !== 'firing') {
      return skip(alert.state);
    }
    const url = request.event === 'escalation' ? settings.webhooks.escalation : settings.webhooks.main;
    if (url === null) {
      return skip('no_webhook');
    }
    await deps.sender.post(url, notificationBody(alert, request.event, settings.webhooks.format, settings.escalateAfterMs[alert.level]), signal);
    await mark(request, deps.clock());
    return { delivered: true, skipped: null };
  };

  /** Appends an entry, retrying with a doubling pause (up to 30 s) until the trail takes it; timers do not hold the process open. */
  const appendUntilWritten = (alertId: string, entry: AuditEventInput) => {
    let attempt = 0;
    let pause = 1_000;
    const tryOnce = () => {
      attempt += 1;
      deps.audit.append(entry).catch((err: unknown) => {
        deps.onAuditRetry?.({ alertId, attempt, error: (err as Error).message, nextRetryMs: pause });
        setTimeout(tryOnce, pause).unref();
        pause = Math.min(pause * 2, 30_000);
      });
    };
    tryOnce();
  };

  /** Delivers from this process, retrying with a doubling pause; timers do not hold the process open. */
  const deliverDirectly = (request: NotificationRequest) => {
    let attempt = 0;
    let pause = settings.directRetry.backoffMs;
    const tryOnce = () => {
      attempt += 1;
      deliver(request).catch((err: unknown) => {
        const gaveUp = err instanceof WebhookRejectedError || attempt >= settings.directRetry.attempts;
        deps.onDirectDeliveryFailed?.({ alertId: request.alertId, event: request.event, attempt, error: (err as Error).message, gaveUp });
        if (!gaveUp) {
          setTimeout(tryOnce, pause).unref();
          pause *= 2;
        }
      });
    };
    tryOnce();
  };

  return {
    async record(evaluation, by) {
      const changes = await store.exclusive(async () => {
        const open = await store.open();
        const openIds = new Set(open.map((a) => a.id));
        const others = await store.getMany(evaluation.firing.map((c) => alertIdOf(c.rule, c.subject)).filter((id) => !openIds.has(id)));
        const at = deps.clock();
        const result = reconcile(new Map([...others, ...open].map((a) => [a.id, a])), evaluation, by, at);
        if (result.transitions.length > 0) {
          await recordBeforeChange(deps.audit, auditEntry(by, 'alert.evaluate', result.transitions));
        }
        if (result.alerts.length > 0) {
          await store.save(result, at);
        }
        return result;
      });
      const changed = new Set(changes.alerts.map((a) => a.id));
      const recentlyResolved = (await store.resolvedSince(new Date(deps.clock().getTime() - resolvedRecheckMs))).filter((a) => !changed.has(a.id));
      await dispatch([...changes.alerts, ...recentlyResolved]);
      return changes;
    },

    async raise(condition, by) {
      const alert = await store.exclusive(async () => {
        const at = deps.clock();
        const stored = await store.get(alertIdOf(condition.rule, condition.subject));
        // A raised alert is an event: one still open from an earlier one (a second shutdown before the
        // evaluation saw the first recovered) is resolved and fires again, so this one is notified too.
        const ended = stored !== null && isOpenAlert(stored) ? resolved(stored, by, at) : null;
        const s = sighted(ended?.alert ?? stored, condition, by, at);
        const transitions = [...(ended ? [ended.transition] : []), ...(s.transition ? [s.transition] : [])];
        appendUntilWritten(s.alert.id, auditEntry(by, 'alert.raise', transitions));
        await store.save({ alerts: [s.alert], transitions }, at);
        return s.alert;
      });
      await dispatch([alert]);
      if (webhooks.main && alert.notified.firing === null) {
        deliverDirectly({ alertId: alert.id, event: 'firing', firing: alert.firings });
      }
      return alert;
    },

    acknowledge(id, by, rawNote) {
      const note = rawNote === undefined ? null : new Redactor().redact(rawNote);
      return store.exclusive(async () => {
        const alert = await store.get(id);
        if (alert === null) {
          throw new AlertNotFoundError(id);
        }
        const at = deps.clock();
        const r = acknowledged(alert, by, note, at);
        await recordBeforeChange(deps.audit, { ...auditEntry(by, 'alert.acknowledge', [r.transition]), details: { rule: alert.rule, subject: alert.subject, level: alert.level, firing: alert.firings, note } });
        await store.save({ alerts: [r.alert], transitions: [r.transition] }, at);
        return r.alert;
      });
    },

    get: (id) => store.get(id),

    async list(filter = {}) {
      return (await store.list())
        .filter((a) => (filter.state === undefined || a.state === filter.state) && (filter.level === undefined || a.level === filter.level))
        .sort((a, b) => stateOrder[a.state] - stateOrder[b.state] || levelOrder[a.level] - levelOrder[b.level] || b.firedAt.localeCompare(a.firedAt) || a.id.localeCompare(b.id));
    },

    history: (alertId, limit) => store.history({ alertId, limit }),

    deliver,
  };
}
