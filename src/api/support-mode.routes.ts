import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { componentNames, statusOf, type ComponentName, type SupportModeState } from '../domain/support-mode/state.js';
import type { TransitionResult } from '../domain/support-mode/service.js';
import type { FleetSnapshot } from '../queues/fleet.js';
import { queueNames } from '../queues/names.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { AnyJson, bodyErrors, guard, jsonBody, jsonResponse, protectedErrors, reason } from './openapi.js';

const Component = z.enum(componentNames).openapi({ example: 'infrastructure-auditor' });

const EnableBody = z.object({ active: z.boolean().default(false), reason }).strict().openapi('EnableBody');
const ActivateBody = z
  .object({
    components: z
      .array(z.union([Component, z.literal('all')]))
      .min(1)
      .default(['all'])
      .openapi({ example: ['all'] }),
    reason,
  })
  .strict()
  .openapi('ActivateBody');
const ActivateComponentBody = z.object({ component: Component, reason }).strict().openapi('ActivateComponentBody');
const DeactivateBody = z
  .object({ components: z.array(z.union([Component, z.literal('all')])).min(1).default(['all']), reason })
  .strict()
  .openapi('DeactivateBody');
const ShutdownBody = z
  .object({
    reason: z.string().trim().min(1).max(500).openapi({ example: 'Emergency shutdown - compliance violation' }),
    initiated_by: z.string().trim().min(1).max(200).openapi({ example: 'ops-engineer' }),
    immediate: z.boolean().default(true),
  })
  .strict()
  .openapi('EmergencyShutdownBody');

function expand(components: readonly (ComponentName | 'all')[]): ComponentName[] {
  return components.includes('all') ? [...componentNames] : [...new Set(components as ComponentName[])];
}

/** The support mode as an operator reads it: state plus each queue's live numbers. */
export function statusView(state: SupportModeState, fleet: FleetSnapshot) {
  return {
    status: statusOf(state),
    featureFlag: { name: 'bedrock-support', ...state.flag },
    components: Object.fromEntries(
      componentNames.map((c) => {
        const q = fleet.queues[c];
        return [c, { ...state.components[c], queue: { paused: q.paused, workers: q.workers.count, waiting: q.counts.waiting + q.counts.prioritized, active: q.counts.active } }];
      }),
    ),
    queues: Object.fromEntries(
      queueNames.map((n) => {
        const q = fleet.queues[n];
        return [n, { paused: q.paused, workers: q.workers.count, waiting: q.counts.waiting + q.counts.prioritized, active: q.counts.active, delayed: q.counts.delayed, failed: q.counts.failed }];
      }),
    ),
    emergency: state.emergency,
    lastEmergency: state.lastEmergency,
    lastTransition: state.lastTransition,
    version: state.version,
    checkedAt: fleet.at,
  };
}

const transitionView = (r: TransitionResult) => ({ from: r.from, to: r.to, status: r.to, changed: r.changed, components: r.state.components, featureFlag: r.state.flag, version: r.state.version });

const post = <T extends z.ZodType>(path: string, body: T, required: boolean, summary: string) =>
  createRoute({
    method: 'post',
    path,
    summary,
    ...guard('operate'),
    request: { body: jsonBody(body, required) },
    responses: { 200: jsonResponse(AnyJson, 'The transition: from, to, components'), ...protectedErrors, ...bodyErrors },
  });

export function supportModeRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const actor = (by: string, r?: string) => ({ by, reason: r });

  app.openapi(post('/enable', EnableBody, false, 'Enable support mode (inactive unless active: true)'), async (c) => {
    const body = EnableBody.parse(c.req.valid('json'));
    const r = await deps.supportMode.execute({ type: 'enable', activate: body.active }, actor(c.get('principal').name, body.reason));
    return c.json(transitionView(r), 200);
  });

  app.openapi(post('/activate', ActivateBody, false, 'Activate components (default: all)'), async (c) => {
    const body = ActivateBody.parse(c.req.valid('json'));
    const r = await deps.supportMode.execute({ type: 'activate', components: expand(body.components) }, actor(c.get('principal').name, body.reason));
    return c.json(transitionView(r), 200);
  });

  app.openapi(post('/activate-component', ActivateComponentBody, true, 'Activate one component (gradual activation)'), async (c) => {
    const body = c.req.valid('json');
    const r = await deps.supportMode.execute({ type: 'activate', components: [body.component] }, actor(c.get('principal').name, body.reason));
    return c.json(transitionView(r), 200);
  });

  app.openapi(post('/deactivate', DeactivateBody, false, 'Deactivate components (default: all); running jobs finish, new ones wait'), async (c) => {
    const body = DeactivateBody.parse(c.req.valid('json'));
    const r = await deps.supportMode.execute({ type: 'deactivate', components: expand(body.components) }, actor(c.get('principal').name, body.reason));
    return c.json(transitionView(r), 200);
  });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/emergency/shutdown',
      summary: 'Emergency shutdown: pause every queue, cancel running jobs back to waiting, disable the feature flag',
      ...guard('operate'),
      request: { body: jsonBody(ShutdownBody) },
      responses: { 200: jsonResponse(AnyJson, 'What was shut down'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const r = await deps.supportMode.emergencyShutdown(
        { reason: body.reason, initiatedBy: body.initiated_by, immediate: body.immediate },
        actor(c.get('principal').name, body.reason),
      );
      return c.json(
        {
          ...transitionView(r),
          emergency: r.state.emergency,
          processesNotified: r.processesNotified,
          activeJobsBefore: r.activeJobsBefore,
          activeJobsAfter: r.activeJobsAfter,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/status',
      summary: 'Support mode status: feature flag, components, queues',
      ...guard('read'),
      responses: { 200: jsonResponse(AnyJson, 'Status'), ...protectedErrors },
    }),
    async (c) => {
      const [state, snapshot] = await Promise.all([deps.supportMode.read(), deps.fleet.snapshot()]);
      return c.json(statusView(state, snapshot), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/schedules',
      summary: 'Every job scheduler with its next run (UTC)',
      ...guard('read'),
      responses: { 200: jsonResponse(AnyJson, 'Schedulers'), ...protectedErrors },
    }),
    async (c) => c.json({ schedules: await deps.schedules() }, 200),
  );

  return app;
}
