/**
 * Alert notifications: the body posted to the webhook, Slack-compatible (`{text, blocks}`) or a
 * generic JSON shape (`{event, alert}`), and the errors a delivery ends with.
 */
import type { Alert, AlertEvent } from './alert.js';

export const webhookFormats = ['slack', 'json'] as const;
export type WebhookFormat = (typeof webhookFormats)[number];

/** The webhook answered with a status no retry changes (a 4xx other than 429). */
export class WebhookRejectedError extends Error {
  override readonly name = 'WebhookRejectedError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** The webhook could not take the notification now (unreachable, timed out, 429, 5xx): deliver it again later. */
export class WebhookUnavailableError extends Error {
  override readonly name = 'WebhookUnavailableError';
}

/** The public fields of an alert, as the generic JSON body and the API show them. */
export function alertView(alert: Alert) {
  return {
    id: alert.id,
    rule: alert.rule,
    subject: alert.subject,
    level: alert.level,
    state: alert.state,
    title: alert.title,
    detail: alert.detail,
    firedAt: alert.firedAt,
    lastSeenAt: alert.lastSeenAt,
    firings: alert.firings,
    acknowledged: alert.acknowledged,
    resolvedAt: alert.resolvedAt,
  };
}

const minutes = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`);

/** Slack caps a header at 150 characters and a section at 3,000. */
function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** Slack reads `&`, `<` and `>` in text as markup (links, mentions): escaped, as its documentation asks. */
function slackEscaped(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** The one-line summary of a notification. */
export function headline(alert: Alert, event: AlertEvent, escalateAfterMs: number): string {
  switch (event) {
    case 'firing':
      return `[${alert.level}] FIRING: ${alert.title}`;
    case 'resolved':
      return `[${alert.level}] RESOLVED: ${alert.title}`;
    case 'escalation':
      return `[${alert.level}] ESCALATED, not acknowledged for ${minutes(escalateAfterMs)}: ${alert.title}`;
  }
}

/**
 * The body of one notification. `escalateAfterMs` is the delay of the alert's level (said in an
 * escalation). Every text comes from the alert as stored: measured values, and what a caller
 * wrote only as redacted.
 */
export function notificationBody(alert: Alert, event: AlertEvent, format: WebhookFormat, escalateAfterMs: number): Record<string, unknown> {
  if (format === 'json') {
    return { event, alert: alertView(alert) };
  }
  const head = headline(alert, event, escalateAfterMs);
  const when =
    event === 'resolved'
      ? `fired ${alert.firedAt}, resolved ${alert.resolvedAt ?? '?'}`
      : `fired ${alert.firedAt}${alert.firings > 1 ? ` (firing ${alert.firings})` : ''}`;
  const ack = event === 'resolved' ? '' : ` · acknowledge: POST /admin/bedrock-support/alerts/${alert.id}/ack`;
  return {
    text: slackEscaped(`${head}: ${alert.detail}`),
    blocks: [
      { type: 'header', text: { type: 'plain_text', text: cut(head, 150) } },
      { type: 'section', text: { type: 'mrkdwn', text: cut(slackEscaped(alert.detail), 3_000) } },
      { type: 'context', elements: [{ type: 'mrkdwn', text: cut(slackEscaped(`${alert.id} · rule ${alert.rule} · subject ${alert.subject} · ${when}${ack}`), 3_000) }] },
    ],
  };
}
