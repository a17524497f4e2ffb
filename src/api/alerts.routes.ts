import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { alertLevels, alertStates, type Alert, type AlertTransition } from '../domain/alerts/alert.js';
import { alertView } from '../domain/alerts/notification.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, isoTime, jsonBody, jsonResponse, notFound, protectedErrors } from './openapi.js';

const Level = z.enum(alertLevels).openapi('AlertLevel', { description: 'P0 critical, P1 high, P2 medium (the runbook\'s levels)' });
const State = z.enum(alertStates).openapi('AlertState');

export const AlertSchema = z
  .object({
    id: z.string().openapi({ example: 'alert-3f2a9c0d1b7e4a55', description: 'From the rule and the subject: the same condition is always the same alert' }),
    rule: z.string().openapi({ example: 'component.unhealthy' }),
    subject: z.string().openapi({ example: 'meta-monitor' }),
    level: Level,
    state: State,
    title: z.string(),
    detail: z.string().openapi({ description: 'The measured values behind the alert, as last seen' }),
    firedAt: isoTime.openapi({ description: 'When the current firing began' }),
    lastSeenAt: isoTime.openapi({ description: 'The last evaluation that saw the condition' }),
    firings: count.openapi({ description: 'Times the alert fired, this firing included' }),
    acknowledged: z.object({ by: z.string(), at: isoTime, note: z.string().nullable() }).nullable(),
    resolvedAt: isoTime.nullable(),
  })
  .openapi('Alert');

const Transition = z
  // An inline enum: OpenAPI 3.0 cannot make a referenced schema nullable.
  .object({ at: isoTime, from: z.enum(alertStates).nullable().openapi({ description: 'null when it fired for the first time' }), to: State, by: z.string(), firing: count, note: z.string().nullable() })
  .openapi('AlertTransition');

const AlertDetailSchema = AlertSchema.extend({
  notified: z
    .object({ firing: isoTime.nullable(), resolved: isoTime.nullable(), escalation: isoTime.nullable() })
    .openapi({ description: 'When each notification of the current firing was delivered; null: not (yet), or no webhook for it' }),
  history: z.array(Transition).openapi({ description: 'Its transitions, newest first, as far as the bounded history keeps them' }),
}).openapi('AlertDetail');

const AlertListSchema = z
  .object({
    alerts: z.array(AlertSchema),
    counts: z.object({ firing: count, acknowledged: count, resolved: count }).openapi({ description: 'Every kept alert by state, whatever the filters' }),
  })
  .openapi('AlertList');

const ListQuery = z.object({ state: State.optional(), level: Level.optional() }).strict();
const IdParam = z.object({ id: z.string().openapi({ example: 'alert-3f2a9c0d1b7e4a55' }) });
const AckBody = z
  .object({ note: z.string().trim().max(500).optional().openapi({ example: 'looking into it', description: 'Redacted of personal data before it is stored' }) })
  .strict()
  .openapi('AlertAckBody');

const transitionView = (t: AlertTransition) => ({ at: t.at, from: t.from, to: t.to, by: t.by, firing: t.firing, note: t.note });
const unknownAlert = (id: string) => new ApiError(404, 'not_found', `no alert ${id}`);

/** `/admin/bedrock-support/alerts…`: the alerts the evaluation keeps, and their acknowledgement. */
export function alertRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/alerts',
      summary: 'The alerts: open ones and those resolved in the last 30 days; firing first, then acknowledged, then resolved, the most severe and newest first',
      ...guard('read'),
      request: { query: ListQuery },
      responses: { 200: jsonResponse(AlertListSchema, 'The alerts'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const filter = c.req.valid('query');
      const all = await deps.alerts.list();
      const counts = { firing: 0, acknowledged: 0, resolved: 0 };
      for (const a of all) {
        counts[a.state] += 1;
      }
      const alerts = all.filter((a: Alert) => (filter.state === undefined || a.state === filter.state) && (filter.level === undefined || a.level === filter.level));
      return c.json({ alerts: alerts.map(alertView), counts }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/alerts/{id}',
      summary: 'One alert, with the notifications delivered for its current firing and its transitions',
      ...guard('read'),
      request: { params: IdParam, query: z.object({}).strict() },
      responses: { 200: jsonResponse(AlertDetailSchema, 'The alert'), ...notFound, ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const { id } = c.req.valid('param');
      const [alert, history] = await Promise.all([deps.alerts.get(id), deps.alerts.history(id)]);
      if (alert === null) {
        throw unknownAlert(id);
      }
      return c.json({ ...alertView(alert), notified: alert.notified, history: history.map(transitionView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/alerts/{id}/ack',
      summary: 'Acknowledge a firing alert: it stays open until its condition ends, and is not escalated; recorded in the audit trail first',
      ...guard('operate'),
      request: { params: IdParam, body: jsonBody(AckBody, false) },
      responses: { 200: jsonResponse(AlertSchema, 'The alert, acknowledged'), ...notFound, ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const body = AckBody.parse(c.req.valid('json') ?? {});
      const alert = await deps.alerts.acknowledge(c.req.valid('param').id, c.get('principal').name, body.note);
      return c.json(alertView(alert), 200);
    },
  );

  return app;
}
