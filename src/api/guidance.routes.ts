import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { criticalities, targetKinds } from '../domain/audit/inventory.js';
import { gapSeverities, gapSources, gapStatuses, gapTypes } from '../domain/gaps/gap.js';
import { guidanceNarrative, guidanceNarrativeRequest } from '../domain/implementation/guidance-narrative.js';
import { guidanceFor, redactedGap, targetOfGap } from '../domain/implementation/guidance.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { findGapOr404, GapIdParam } from './implementation.routes.js';
import { guard, isoTime, jsonResponse, LlmPathSchema, noQuery, notFound, protectedErrors } from './openapi.js';

const GuidanceGap = z
  .object({
    id: z.string(),
    title: z.string(),
    type: z.enum(gapTypes),
    severity: z.enum(gapSeverities),
    status: z.enum(gapStatuses),
    source: z.enum(gapSources),
    subject: z.string(),
    check: z.string(),
    components: z.array(z.string()),
  })
  .openapi('GuidanceGap', { description: 'The gap, its free text redacted and its URLs without user information, query or fragment' });

const GuidanceTarget = z
  .object({ id: z.string(), kind: z.enum(targetKinds), component: z.string(), criticality: z.enum(criticalities) })
  .openapi('GuidanceTarget', { description: 'The inventory target the gap names (an audit or spec gap), when the inventory in force still holds it' });

const ConfigurationChange = z
  .object({
    setting: z.string().openapi({ description: 'A variable of the settings (`AWS_REGION`), `inventory <target>.<field>`, `feature flag <name>` or `redis <parameter>`', example: 'inventory api-health.expectStatus' }),
    change: z.string(),
    why: z.string(),
  })
  .openapi('GuidanceConfigurationChange');

const GuidanceNarrative = z
  .object({
    text: z.string(),
    path: LlmPathSchema,
    model: z.string(),
    reason: z.string().openapi({ description: 'Why this path wrote it (a route reason, or `llm_narratives_off`)' }),
    latencyMs: z.number(),
    costUsd: z.number(),
    cached: z.boolean().openapi({ description: 'Read from the cache: a model wrote it within the last hour for the same facts, nothing was paid now' }),
  })
  .openapi('GuidanceNarrative');

const Guidance = z
  .object({
    gapId: z.string(),
    gap: GuidanceGap,
    target: GuidanceTarget.nullable(),
    steps: z.array(z.string()),
    configurationChanges: z.array(ConfigurationChange),
    risks: z.array(z.string()),
    rollback: z.array(z.string()),
    references: z.array(z.string()),
    narrative: GuidanceNarrative.nullable(),
    narrativeError: z.string().nullable().openapi({ description: 'Why there is no narrative (support mode off, rate_limited, throttled, a failure); null when there is one' }),
    generatedAt: isoTime,
  })
  .openapi('ImplementationGuidance');

/**
 * `/admin/bedrock-support/implementation/gaps/{id}/guidance`: implementation guidance for one gap
 * (runbook "ImplementationSupport", implementation guidance): the rules' steps, configuration
 * changes, risks and rollback, and the router's narrative over them.
 */
export function guidanceRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/gaps/{id}/guidance',
      summary:
        'Implementation guidance for a gap: steps, configuration changes, risks, rollback and references from rules, and a narrative through the LLM router (operation implementation) over the redacted evidence, cached an hour. A narrative that cannot be written leaves `narrative` null with `narrativeError`',
      ...guard('read'),
      request: { params: GapIdParam, ...noQuery },
      responses: { 200: jsonResponse(Guidance, 'The guidance'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const gap = await findGapOr404(deps.gaps, c.req.valid('param').id);
      const { inventory } = await deps.audit.inventory.current();
      const target = targetOfGap(gap, inventory.targets);
      const shown = redactedGap(gap);
      const guidance = guidanceFor(gap, target);
      const principal = c.get('principal');
      const outcome = await guidanceNarrative(
        {
          router: deps.llm.router,
          local: deps.llm.local,
          modelAllowed: () => deps.featureFlags.enabled('llm-narratives'),
          supportMode: () => deps.supportMode.read(),
          limiter: deps.llm.assistLimit,
          cache: deps.guidanceNarratives,
          onFailure: (err) => deps.logger.warn({ gapId: gap.id, err: err instanceof Error ? err.message : String(err) }, 'guidance narrative not written'),
        },
        { gapId: gap.id, request: guidanceNarrativeRequest(shown, target, guidance), caller: principal.name, signal: c.req.raw.signal },
      );
      return c.json(
        {
          gapId: gap.id,
          gap: { id: shown.id, title: shown.title, type: shown.type, severity: shown.severity, status: shown.status, source: shown.source, subject: shown.subject, check: shown.check, components: shown.components },
          target: target === undefined ? null : { id: target.id, kind: target.kind, component: target.component, criticality: target.criticality },
          ...guidance,
          narrative: outcome.narrative,
          narrativeError: outcome.error,
          generatedAt: deps.clock().toISOString(),
        },
        200,
      );
    },
  );

  return app;
}
