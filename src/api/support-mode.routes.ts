import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { componentNames, statusOf, type ComponentName, type SupportModeState } from '../domain/support-mode/state.js';
import type { TransitionResult } from '../domain/support-mode/service.js';
import { perRead, withSnapshot } from '../domain/fleet/per-read.js';
import type { FleetSnapshot } from '../domain/fleet/ports.js';
import { queueNames } from '../domain/queue-names.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { bodyErrors, count, guard, isoTime, jsonBody, jsonResponse, keyed, noQuery, protectedErrors, QueueNameSchema, reason, SupportStatusSchema } from './openapi.js';

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

/** The `bedrock-support` feature flag as the support-mode state keeps it. */
export const FlagStateSchema = z
  .object({ enabled: z.boolean(), updatedAt: isoTime.nullable(), updatedBy: z.string().nullable(), reason: z.string().nullable() })
  .openapi('FeatureFlagState');
/** The flag with its name, as status and transitions show it. */
export const NamedFlagSchema = FlagStateSchema.extend({ name: z.literal('bedrock-support') }).openapi('NamedFeatureFlag');
export const namedFlag = (flag: SupportModeState['flag']): z.infer<typeof NamedFlagSchema> => ({ name: 'bedrock-support', ...flag });
const ComponentState = z.object({ active: z.boolean(), since: isoTime.nullable(), by: z.string().nullable() }).openapi('ComponentState');
// Not registered: zod-to-openapi would then mark the shared component itself nullable, as it is used nullable here.
const EmergencyRecord = z.object({ at: isoTime, reason: z.string(), initiatedBy: z.string(), requestedBy: z.string(), immediate: z.boolean() });
/** A queue's live numbers; `waiting` includes prioritized jobs. */
const QueueLoad = z.object({ paused: z.boolean(), workers: count, waiting: count, active: count }).openapi('QueueLoad');

export const SupportModeStatusSchema = z
  .object({
    status: SupportStatusSchema,
    featureFlag: NamedFlagSchema,
    components: keyed(componentNames, ComponentState.extend({ queue: QueueLoad })),
    queues: keyed(queueNames, QueueLoad.extend({ delayed: count, failed: count })),
    emergency: EmergencyRecord.nullable(),
    lastEmergency: EmergencyRecord.extend({
      recoveredAt: isoTime,
      recoveredBy: z.string(),
      reactivatedAt: isoTime.nullable().openapi({ description: 'When every component was active again; null while the one-at-a-time reactivation is under way' }),
    }).nullable(),
    lastTransition: z.object({ at: isoTime, action: z.string().openapi({ example: 'activate' }), by: z.string(), reason: z.string().nullable() }).nullable(),
    version: count,
    checkedAt: isoTime,
    figuresAt: isoTime.openapi({ description: 'When the queue figures were read (one read serves many requests for a moment, BSM_FLEET_SNAPSHOT_MS)' }),
    figuresAgeMs: count.openapi({ description: 'How old the queue figures were when this answer was made' }),
  })
  .openapi('SupportModeStatus');

export const TransitionSchema = z
  .object({
    from: SupportStatusSchema,
    to: SupportStatusSchema,
    // Same as `to`.
    status: SupportStatusSchema,
    changed: z.boolean().openapi({ description: 'False when the state already was as asked (the version did not move)' }),
    components: keyed(componentNames, ComponentState),
    featureFlag: NamedFlagSchema,
    version: count,
  })
  .openapi('Transition');

export const EmergencyShutdownSchema = TransitionSchema.extend({
  // Always set after a shutdown; typed nullable because the state type is.
  emergency: EmergencyRecord.nullable(),
  processesNotified: count,
  activeJobsBefore: count,
  activeJobsAfter: count.openapi({ description: 'Jobs still running when the call returned' }),
}).openapi('EmergencyShutdown');

export const SchedulesSchema = z
  .object({
    schedules: z.array(
      z
        .object({
          id: z.string(),
          queue: QueueNameSchema,
          job: z.string(),
          pattern: z.string().nullable(),
          tz: z.string().nullable(),
          nextRunAt: isoTime.nullable().openapi({ description: 'The pending run; in the past while the queue is paused (the run is due and waits)' }),
          queuePaused: z.boolean(),
        })
        .openapi('Schedule'),
    ),
  })
  .openapi('Schedules');

type SupportModeStatus = z.infer<typeof SupportModeStatusSchema>;

function expand(components: readonly (ComponentName | 'all')[]): ComponentName[] {
  return components.includes('all') ? [...componentNames] : [...new Set(components as ComponentName[])];
}

/** The support mode as an operator reads it: state plus each queue's live numbers (the answer adds when they were read). */
export function statusView(fleet: FleetSnapshot): Omit<SupportModeStatus, 'checkedAt' | 'figuresAt' | 'figuresAgeMs'> {
  const state = fleet.mode;
  return {
    status: statusOf(state),
    featureFlag: namedFlag(state.flag),
    components: Object.fromEntries(
      componentNames.map((c) => {
        const q = fleet.queues[c];
        return [c, { ...state.components[c], queue: { paused: q.paused, workers: q.workers.count, waiting: q.counts.waiting + q.counts.prioritized, active: q.counts.active } }];
      }),
    ) as SupportModeStatus['components'],
    queues: Object.fromEntries(
      queueNames.map((n) => {
        const q = fleet.queues[n];
        return [n, { paused: q.paused, workers: q.workers.count, waiting: q.counts.waiting + q.counts.prioritized, active: q.counts.active, delayed: q.counts.delayed, failed: q.counts.failed }];
      }),
    ) as SupportModeStatus['queues'],
    emergency: state.emergency,
    lastEmergency: state.lastEmergency,
    lastTransition: state.lastTransition,
    version: state.version,
  };
}

const transitionView = (r: TransitionResult) => ({ from: r.from, to: r.to, status: r.to, changed: r.changed, components: r.state.components, featureFlag: namedFlag(r.state.flag), version: r.state.version });

const post = <T extends z.ZodType>(path: string, body: T, required: boolean, summary: string) =>
  createRoute({
    method: 'post',
    path,
    summary,
    ...guard('operate'),
    request: { body: jsonBody(body, required) },
    responses: { 200: jsonResponse(TransitionSchema, 'The transition: from, to, components'), ...protectedErrors, ...bodyErrors },
  });

export function supportModeRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  // One view per read of the fleet, however many requests it serves.
  const status = perRead(statusView);
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
      responses: { 200: jsonResponse(EmergencyShutdownSchema, 'What was shut down'), ...protectedErrors, ...bodyErrors },
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
      request: noQuery,
      responses: { 200: jsonResponse(SupportModeStatusSchema, 'Status'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    (c) =>
      withSnapshot(deps.fleetReader, (fleet) => {
        const now = deps.clock();
        const v = status(fleet, now);
        // One object literal rather than a spread of the kept view: this runs on every request.
        return c.json(
          {
            status: v.status,
            featureFlag: v.featureFlag,
            components: v.components,
            queues: v.queues,
            emergency: v.emergency,
            lastEmergency: v.lastEmergency,
            lastTransition: v.lastTransition,
            version: v.version,
            checkedAt: now.toISOString(),
            figuresAt: fleet.at,
            figuresAgeMs: fleet.ageMs,
          },
          200,
        );
      }),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/schedules',
      summary: 'Every job scheduler with its next run (UTC)',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(SchedulesSchema, 'Schedulers'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => c.json({ schedules: await deps.schedules() }, 200),
  );

  return app;
}
