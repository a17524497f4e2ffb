import { z } from 'zod';
import { alertEvents, alertIdPattern } from '../../domain/alerts/alert.js';
import { WebhookRejectedError } from '../../domain/alerts/notification.js';
import { defineJob, PermanentJobError } from '../define.js';

/**
 * Delivers one alert notification: an alert fired, was resolved, or went unacknowledged past its
 * level's escalation delay (to the escalation webhook). Queued with its own attempts and back-off
 * (`BSM_ALERT_NOTIFY_ATTEMPTS`, `BSM_ALERT_NOTIFY_BACKOFF_MS`): a webhook that is down fails the
 * attempt and the delivery waits for the next; a refusal (a 4xx other than 429) fails it for good.
 * The alert is read when the job runs, so a notification already delivered, or about a firing
 * that was since superseded, is not sent.
 */
export const alertNotifyJob = defineJob({
  queue: 'bedrock-support',
  name: 'alert-notify',
  description: 'posts one alert notification (firing, resolved, or an escalation) to the alert webhook, retried with back-off while the webhook is down',
  payload: z.object({
    alertId: z.string().regex(alertIdPattern),
    event: z.enum(alertEvents),
    firing: z.number().int().min(1),
  }),
  result: z.object({
    alertId: z.string(),
    event: z.enum(alertEvents),
    firing: z.number(),
    delivered: z.boolean(),
    skipped: z.enum(['superseded', 'already_delivered', 'acknowledged', 'resolved', 'not_resolved', 'no_webhook']).nullable(),
  }),
  stored: false,
  handler: async (job, ctx, deps) => {
    try {
      const outcome = await deps.alerts.service.deliver(job.data, ctx.signal);
      return { ...job.data, ...outcome };
    } catch (err) {
      throw err instanceof WebhookRejectedError ? new PermanentJobError(err.message) : err;
    }
  },
});
