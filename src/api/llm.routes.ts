import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { operationTypes } from '../ai/types.js';
import { detectInjection } from '../domain/compliance/prompt-injection.js';
import { statusOf } from '../domain/support-mode/state.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { AnyJson, bodyErrors, guard, jsonBody, jsonResponse, protectedErrors } from './openapi.js';

const AssistBody = z
  .object({
    question: z.string().trim().min(1).max(8_000).openapi({ example: 'Why did the meta-monitor queue back up overnight?' }),
    context: z.record(z.string(), z.unknown()).optional().openapi({ example: { queue: 'meta-monitor', waiting: 120 } }),
    operation: z.enum(operationTypes).default('standard'),
  })
  .strict()
  .openapi('AssistBody');

const units = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const Window = z
  .object({
    window: z
      .string()
      .regex(/^[1-9]\d{0,3}[mhd]$/, 'must be 1 to 4 digits and a unit m, h or d, such as 15m, 24h or 7d')
      .default('24h')
      .openapi({ example: '24h' }),
  })
  .strict();

function windowMs(w: string): number {
  return Number(w.slice(0, -1)) * units[w.slice(-1) as keyof typeof units];
}

const assistSystem =
  'You are Bedrock Support Mode, a secondary operator beside a primary AI agent, answering an operations engineer. ' +
  'Be concrete and brief. Say when the facts given are not enough to answer.';

/** `/admin/bedrock-support`: asking the operator, routing figures and LLM costs. */
export function llmRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  app.openapi(
    createRoute({
      method: 'post',
      path: '/assist',
      summary: 'Ask the support operator a question; answered through the router (redacted first)',
      ...guard('operate'),
      request: { body: jsonBody(AssistBody) },
      responses: { 200: jsonResponse(AnyJson, 'The answer with the path used, latency, tokens and cost'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      // With the feature flag off the operator is off: no question reaches a model (an emergency
      // shutdown means no paid call either).
      const state = await deps.supportMode.read();
      if (!state.flag.enabled) {
        const status = statusOf(state);
        throw new ApiError(
          409,
          'conflict',
          state.emergency
            ? `support mode is in an emergency shutdown since ${state.emergency.at} (${state.emergency.reason}): the operator answers again once the feature flag is enabled`
            : 'support mode is disabled: enable it with POST /admin/bedrock-support/enable before asking the operator',
          { status },
        );
      }
      // The context travels as facts: the router scans them and the providers fence them as
      // untrusted data. The question is the caller's own instruction; it is scanned, not fenced.
      const inQuestion = detectInjection(body.question);
      const answer = await deps.llm.router.ask(
        {
          component: 'bedrock-support',
          operation: body.operation,
          task: 'assist',
          system: assistSystem,
          prompt: body.question,
          facts: body.context === undefined ? undefined : { context: body.context },
        },
        { signal: c.req.raw.signal },
      );
      return c.json(
        {
          answer: answer.text,
          path: answer.path,
          primary: answer.primary,
          fallbackUsed: answer.fallbackUsed,
          reason: answer.reason,
          explanation: answer.explanation,
          model: answer.model,
          latencyMs: Math.round(answer.latencyMs * 10) / 10,
          withinBudget: answer.withinBudget,
          tokens: { inputTokens: answer.usage.inputTokens, outputTokens: answer.usage.outputTokens, estimated: answer.usage.estimated === true },
          costUsd: answer.costUsd,
          priceKnown: answer.priceKnown,
          decisionId: answer.decisionId,
          injection: {
            flagged: inQuestion.flagged || answer.injection.flagged,
            question: inQuestion.markers,
            context: answer.injection.markers,
          },
        },
        200,
      );
    },
  );

  const windowed = (path: string, summary: string, read: (windowMs: number) => Promise<object>) =>
    app.openapi(
      createRoute({
        method: 'get',
        path,
        summary,
        ...guard('read'),
        request: { query: Window },
        responses: { 200: jsonResponse(AnyJson, summary), ...protectedErrors, 400: bodyErrors[400] },
      }),
      async (c) => {
        const { window } = c.req.valid('query');
        return c.json({ ...(await read(windowMs(window))), window }, 200);
      },
    );
  windowed('/routing/efficiency', 'Share of LLM requests served by their primary path, successfully, within budget', (ms) => deps.llm.router.routingEfficiency(ms));
  windowed('/metrics/routing', 'Routing totals, per path and per operation, p50/p95 latency, fallback rate', (ms) => deps.llm.router.routingMetrics(ms));

  app.openapi(
    createRoute({
      method: 'get',
      path: '/costs',
      summary: 'LLM spend per day, component and model; budgets and their alerts',
      ...guard('read'),
      request: { query: z.object({ days: z.coerce.number().int().min(1).max(90).default(7) }).strict() },
      responses: { 200: jsonResponse(AnyJson, 'Costs'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => c.json(await deps.llm.budget.report({ days: c.req.valid('query').days }), 200),
  );

  return app;
}
