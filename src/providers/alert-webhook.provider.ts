import { WebhookRejectedError, WebhookUnavailableError } from '../domain/alerts/notification.js';
import type { WebhookSender } from '../domain/alerts/ports.js';

export interface WebhookSenderOptions {
  /** How long one post may take before it counts as unavailable. Default 10 s. */
  timeoutMs?: number;
}

/**
 * Posts alert notifications as JSON with `fetch`. A 2xx is delivered; 429, a 5xx, a timeout or a
 * connection that fails are worth another attempt; any other status is a refusal no retry
 * changes. Errors name the status, never the URL: a Slack webhook URL is its secret.
 */
export function createWebhookSender(options: WebhookSenderOptions = {}): WebhookSender {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return {
    async post(url, body, signal) {
      const signals = [AbortSignal.timeout(timeoutMs), ...(signal ? [signal] : [])];
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'user-agent': 'bedrock-support-mode-alerts' },
          body: JSON.stringify(body),
          signal: AbortSignal.any(signals),
          // A redirect is answered as it is (a refusal): the notification is not re-sent elsewhere.
          redirect: 'manual',
        });
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
        throw new WebhookUnavailableError(`the alert webhook did not answer${err instanceof Error && err.name === 'TimeoutError' ? ` within ${timeoutMs} ms` : cause}`);
      }
      // The body is of no use beyond the status: read it so the connection can be reused.
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) {
        return;
      }
      if (response.status === 429 || response.status >= 500) {
        throw new WebhookUnavailableError(`the alert webhook answered ${response.status}`);
      }
      throw new WebhookRejectedError(`the alert webhook refused the notification with ${response.status}`, response.status);
    },
  };
}
