import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { SupportModeState } from '../domain/support-mode/state.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, jsonBody, jsonResponse, noQuery, notFound, protectedErrors, reason, SupportStatusSchema } from './openapi.js';
import { NamedFlagSchema, namedFlag } from './support-mode.routes.js';

const FlagBody = z.object({ reason }).strict().openapi('FeatureFlagBody');

export const FeatureFlagSchema = NamedFlagSchema.extend({ supportModeVersion: count }).openapi('FeatureFlag');
export const FeatureFlagChangeSchema = FeatureFlagSchema.extend({
  changed: z.boolean().openapi({ description: 'False when the flag already was as asked (nothing moved, the version neither)' }),
  supportMode: z.object({ from: SupportStatusSchema, to: SupportStatusSchema }),
}).openapi('FeatureFlagChange');

const flagView = (state: SupportModeState): z.infer<typeof FeatureFlagSchema> => ({ ...namedFlag(state.flag), supportModeVersion: state.version });

/** `/admin/feature-flags`: the `bedrock-support` flag, the master switch of support mode. */
export function featureFlagRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/bedrock-support',
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
        path: `/bedrock-support/${action}`,
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
      summary: 'Any other flag: 404',
      ...guard('read'),
      request: { params: z.object({ flag: z.string() }) },
      responses: { ...notFound, ...protectedErrors },
      hide: true,
    }),
    (c) => {
      throw new ApiError(404, 'not_found', `unknown feature flag "${c.req.valid('param').flag}": known flags are bedrock-support`);
    },
  );
  return app;
}
