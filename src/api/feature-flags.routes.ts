import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { permissions, roles, rolesWith } from '../domain/access.js';
import { featureFlagNames, featureFlags, isFeatureFlagName, masterSwitch, type FeatureFlagName } from '../domain/feature-flags.js';
import type { FlagView } from '../domain/feature-flags.service.js';
import type { SupportModeState } from '../domain/support-mode/state.js';
import { assertPermission } from './auth.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors, reason, SupportStatusSchema } from './openapi.js';
import { FlagStateSchema, NamedFlagSchema, namedFlag } from './support-mode.routes.js';

const FlagBody = z.object({ reason }).strict().openapi('FeatureFlagBody');

export const FeatureFlagSchema = NamedFlagSchema.extend({ supportModeVersion: count }).openapi('FeatureFlag');
export const FeatureFlagChangeSchema = FeatureFlagSchema.extend({
  changed: z.boolean().openapi({ description: 'False when the flag already was as asked (nothing moved, the version neither)' }),
  supportMode: z.object({ from: SupportStatusSchema, to: SupportStatusSchema }),
}).openapi('FeatureFlagChange');

/** A flag of the registry: its value and last change, what it does, who may change it, and whether anything acts on it yet. */
export const RegisteredFlagSchema = FlagStateSchema.extend({
  name: z.enum(featureFlagNames).openapi({ example: 'llm-narratives' }),
  description: z.string(),
  default: z.boolean(),
  permission: z.enum(permissions).openapi({ description: 'The permission needed to change the flag' }),
  changeableBy: z.array(z.enum(roles)).openapi({ description: 'The roles that grant that permission', example: ['operator', 'admin'] }),
  inEffect: z.boolean().openapi({ description: 'False when nothing in this version acts on the flag yet: setting it changes nothing until its feature lands' }),
  enforcedBy: z.string().nullable().openapi({ description: 'What acts on the flag; null when nothing does yet' }),
  notInEffectBecause: z.string().nullable().openapi({ description: 'Why nothing acts on the flag yet; null when something does' }),
}).openapi('RegisteredFeatureFlag');
const FlagListSchema = z.object({ flags: z.array(RegisteredFlagSchema) }).openapi('FeatureFlagList');
const RegisteredFlagChangeSchema = RegisteredFlagSchema.extend({
  changed: z.boolean().openapi({ description: 'False when the flag already was as asked: nothing was written (the request is still in the audit trail)' }),
}).openapi('RegisteredFeatureFlagChange');
const FlagParam = z.object({ flag: z.string().openapi({ example: 'llm-narratives' }) });

const flagView = (state: SupportModeState): z.infer<typeof FeatureFlagSchema> => ({ ...namedFlag(state.flag), supportModeVersion: state.version });

const registeredView = ({ definition: d, state: s }: FlagView): z.infer<typeof RegisteredFlagSchema> => ({
  name: d.name,
  description: d.description,
  enabled: s.enabled,
  default: d.default,
  permission: d.permission,
  changeableBy: rolesWith(d.permission),
  inEffect: d.enforcedBy !== null,
  enforcedBy: d.enforcedBy,
  notInEffectBecause: d.enforcedBy === null ? d.notInEffectBecause : null,
  updatedAt: s.updatedAt,
  updatedBy: s.updatedBy,
  reason: s.reason,
});

/** The registry's flag of that name; 404 naming it otherwise. */
function knownFlag(name: string): FeatureFlagName {
  if (!isFeatureFlagName(name)) {
    throw new ApiError(404, 'not_found', `unknown feature flag "${name}": known flags are ${featureFlagNames.join(', ')}`);
  }
  return name;
}

/**
 * `/admin/feature-flags`: the registry. `bedrock-support`, the master switch of support mode, keeps
 * its own routes (its value and changes are the lifecycle's); every other flag is read and set
 * through `/{flag}`, by the roles its permission names.
 */
export function featureFlagRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/',
      summary: 'Every feature flag: value, default, description, who may change it, and whether anything acts on it yet',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(FlagListSchema, 'The registry, in order'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => c.json({ flags: (await deps.featureFlags.list()).map(registeredView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: `/${masterSwitch}`,
      summary: 'The bedrock-support feature flag',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(FeatureFlagSchema, 'The flag'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => c.json(flagView(await deps.supportMode.read()), 200),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/${masterSwitch}/${action}`,
        summary:
          action === 'enable'
            ? 'Enable the flag: support mode becomes enabled and inactive; reactivate components one by one'
            : 'Disable the flag: every component is deactivated and its queue paused',
        ...guard('operate'),
        request: { body: jsonBody(FlagBody, false) },
        responses: { 200: jsonResponse(FeatureFlagChangeSchema, 'The flag after the change'), ...protectedErrors, ...bodyErrors },
      }),
      async (c) => {
        const body = FlagBody.parse(c.req.valid('json'));
        const r = await deps.supportMode.execute({ type: action === 'enable' ? 'flag.enable' : 'flag.disable' }, { by: c.get('principal').name, reason: body.reason });
        return c.json({ ...flagView(r.state), changed: r.changed, supportMode: { from: r.from, to: r.to } }, 200);
      },
    );
  }

  app.openapi(
    createRoute({
      method: 'get',
      path: '/{flag}',
      summary: 'One feature flag of the registry (bedrock-support answers in its own shape, above)',
      ...guard('read'),
      request: { params: FlagParam, ...noQuery },
      responses: { 200: jsonResponse(RegisteredFlagSchema, 'The flag'), ...notFound, ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => c.json(registeredView(await deps.featureFlags.get(knownFlag(c.req.valid('param').flag))), 200),
  );

  for (const action of ['enable', 'disable'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/{flag}/${action}`,
        summary: `${action === 'enable' ? 'Enable' : 'Disable'} a feature flag; the change is in the audit trail before it is stored`,
        description: 'Needs `operate`, and the flag\'s own permission (`permission` in GET /admin/feature-flags): `administer` flags only an admin changes.',
        ...guard('operate'),
        request: { params: FlagParam, body: jsonBody(FlagBody, false) },
        responses: { 200: jsonResponse(RegisteredFlagChangeSchema, 'The flag after the request'), ...notFound, ...protectedErrors, ...bodyErrors },
      }),
      async (c) => {
        const name = knownFlag(c.req.valid('param').flag);
        if (name === masterSwitch) {
          throw new Error(`${masterSwitch} has its own routes, registered before this one`);
        }
        const principal = c.get('principal');
        assertPermission(principal, featureFlags[name].permission, `change ${name}`);
        const body = FlagBody.parse(c.req.valid('json'));
        const r = await deps.featureFlags.set(name, action === 'enable', { by: principal.name, reason: body.reason });
        return c.json({ ...registeredView(r), changed: r.changed }, 200);
      },
    );
  }
  return app;
}
