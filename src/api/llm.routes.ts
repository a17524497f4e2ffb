import { createHash } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { llmPaths, operationTypes } from '../domain/llm/types.js';
import { detectInjection, injectionMarkers } from '../domain/compliance/prompt-injection.js';
import { statusOf } from '../domain/support-mode/state.js';
import { costDayRetentionDays as maxReportDays, decisionOutcomes, decisionRetentionDays } from '../domain/llm/ports.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, ErrorSchema, guard, isoTime, jsonBody, jsonResponse, keyed, LlmPathSchema, protectedErrors, RemotePathSchema, RouteReasonSchema } from './openapi.js';
import { durationMs, durationUnits } from './query.js';

const maxContextDepth = 16;

/**
 * What makes a parsed JSON value unfit as LLM context: nesting deeper than `maxDepth`, or a number
 * JSON cannot carry (`1e999` parses to Infinity and would be sent as null). Null when fine.
 * Iterative, so a hostile depth cannot exhaust the stack here either.
 */
function jsonProblem(root: unknown, maxDepth: number): string | null {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: root, depth: 0, path: '' }];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const { value, depth, path } = next;
    if (typeof value === 'number' && !Number.isFinite(value)) {
      return `${path.slice(1) || 'the value'} must be a finite number`;
    }
    if (typeof value === 'object' && value !== null) {
      if (depth >= maxDepth) {
        return `is nested deeper than ${maxDepth} levels (at ${path.slice(1)})`;
      }
      for (const [k, v] of Object.entries(value)) {
        stack.push({ value: v, depth: depth + 1, path: `${path}.${k}` });
      }
    }
  }
  return null;
}

export const AssistBody = z
  .object({
    question: z.string().trim().min(1).max(8_000).openapi({ example: 'Why did the meta-monitor queue back up overnight?' }),
    context: z
      .record(z.string(), z.unknown())
      .superRefine((value, ctx) => {
        const problem = jsonProblem(value, maxContextDepth);
        if (problem !== null) {
          ctx.addIssue({ code: 'custom', message: problem });
        }
      })
      .optional()
      .openapi({ example: { queue: 'meta-monitor', waiting: 120 }, description: `Facts for the question, nested at most ${maxContextDepth} levels` }),
    operation: z.enum(operationTypes).default('standard'),
  })
  .strict()
  .openapi('AssistBody');

const share = z.number().min(0).max(1).nullable();
const latency = z.number().nullable();
/** Token counts as the provider reported them (or estimated: `estimated`). */
const tokens = z.number();
const markers = z.array(z.enum(injectionMarkers));

export const AssistAnswerSchema = z
  .object({
    answer: z.string(),
    path: LlmPathSchema,
    primary: RemotePathSchema,
    fallbackUsed: z.boolean(),
    reason: RouteReasonSchema,
    explanation: z.string(),
    model: z.string(),
    latencyMs: z.number(),
    withinBudget: z.boolean(),
    tokens: z.object({ inputTokens: tokens, outputTokens: tokens, estimated: z.boolean() }),
    costUsd: z.number(),
    priceKnown: z.boolean(),
    decisionId: z.string(),
    injection: z.object({ flagged: z.boolean(), question: markers, context: markers }),
  })
  .openapi('AssistAnswer');

/** Share of decisions served by their primary path, successfully, within budget (`ai/router.ts`). */
export const RoutingEfficiencySchema = z
  .object({
    windowStart: isoTime,
    windowEnd: isoTime,
    decisions: count,
    notCounted: z.object({ aborted: count, noRemotePath: count }),
    servedByPrimaryWithinBudget: count,
    efficiency: share,
    window: z.string().openapi({ example: '24h' }),
  })
  .openapi('RoutingEfficiency');

const PathMetrics = z
  .object({
    attempts: count,
    success: count,
    errors: count,
    timeouts: count,
    throttled: count,
    aborted: count,
    skipped: count,
    served: count,
    p50LatencyMs: latency,
    p95LatencyMs: latency,
  })
  .openapi('LlmPathMetrics');
const OperationMetrics = z
  .object({ decisions: count, servedByPrimaryWithinBudget: count, fallbackUsed: count, efficiency: share, p50LatencyMs: latency, p95LatencyMs: latency })
  .openapi('OperationMetrics');

export const RoutingMetricsSchema = RoutingEfficiencySchema.extend({
  windowMs: count,
  totalDecisions: count,
  outcomes: keyed(decisionOutcomes, count),
  fallbackRate: share,
  withinBudgetRate: share,
  p50LatencyMs: latency,
  p95LatencyMs: latency,
  // Keyed by the reason stored on each decision (a RouteReason); only reasons that occurred.
  reasons: z.record(z.string(), count),
  paths: keyed(llmPaths, PathMetrics),
  operations: keyed(operationTypes, OperationMetrics),
  costUsd: z.number(),
  inputTokens: tokens,
  outputTokens: tokens,
}).openapi('RoutingMetrics');

const ModelPrice = z.object({ inputPer1k: z.number(), outputPer1k: z.number() }).openapi('ModelPrice');
const SpendTotals = z.object({ costUsd: z.number(), calls: count, inputTokens: count, outputTokens: count, unpricedCalls: count }).openapi('SpendTotals');
const PeriodStatus = z
  .object({
    period: z.enum(['day', 'month']),
    id: z.string().openapi({ example: '2026-11-26' }),
    spentUsd: z.number(),
    budgetUsd: z.number().nullable(),
    usedPct: z.number().nullable(),
    exhausted: z.boolean(),
  })
  .openapi('BudgetPeriod');

export const CostReportSchema = z
  .object({
    generatedAt: isoTime,
    status: z.object({ at: isoTime, day: PeriodStatus, month: PeriodStatus, exhausted: z.boolean(), reason: z.string().nullable() }).openapi('BudgetStatus'),
    month: SpendTotals.extend({ month: z.string().openapi({ example: '2026-11' }) }),
    days: z.array(
      z
        .object({ day: z.string().openapi({ example: '2026-11-26' }), totals: SpendTotals, rows: z.array(SpendTotals.extend({ component: z.string(), model: z.string() })) })
        .openapi('DaySpend'),
    ),
    alerts: z.array(
      z
        .object({ period: z.enum(['day', 'month']), periodId: z.string(), thresholdPct: z.number(), spentUsd: z.number(), budgetUsd: z.number(), at: isoTime })
        .openapi('BudgetAlert'),
    ),
    // Keyed by model id.
    prices: z.record(z.string(), ModelPrice),
    unknownModelPrice: ModelPrice,
  })
  .openapi('CostReport');

const Window = z
  .object({
    window: z
      .string()
      .regex(/^[1-9]\d{0,5}[mhd]$/, 'must be a number and a unit m, h or d, such as 15m, 24h or 7d')
      .refine((w) => windowMs(w) <= decisionRetentionDays * durationUnits.d, `must be at most ${decisionRetentionDays}d (${decisionRetentionDays * 24}h), the time decisions are kept`)
      .default('24h')
      .openapi({ example: '24h', description: `How far back, at most ${decisionRetentionDays}d (decisions are kept that long)` }),
  })
  .strict();

/** A window the schema accepted, in ms. */
const windowMs = (w: string): number => durationMs(w) ?? 0;

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
      responses: {
        200: jsonResponse(AssistAnswerSchema, 'The answer with the path used, latency, tokens and cost'),
        ...protectedErrors,
        ...bodyErrors,
        429: jsonResponse(ErrorSchema, 'This API key asked BSM_ASSIST_RATE_MAX questions in the window (`rate_limited`), or the LLM provider throttles (`throttled`); Retry-After says when to ask again'),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      // The question is a prompt: the request's audit entry keeps the body's size and SHA-256, never its text (the call itself is an `llm.call` entry).
      const raw = await c.req.text();
      c.set('bulkBody', { bytes: Buffer.byteLength(raw), sha256: createHash('sha256').update(raw).digest('hex') });
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
      // After the checks that refuse without writing: a refused question (here too) counts for nothing.
      const limit = await deps.llm.assistLimit.take(c.get('principal').name);
      if (limit.limit > 0) {
        c.header('RateLimit-Limit', String(limit.limit));
        c.header('RateLimit-Remaining', String(limit.remaining));
      }
      if (!limit.allowed) {
        const seconds = Math.max(1, Math.ceil(limit.retryAfterMs / 1000));
        throw new ApiError(
          429,
          'rate_limited',
          `API key ${c.get('principal').name} asked ${limit.limit} questions in the window of BSM_ASSIST_RATE_WINDOW_MS; ask again in ${seconds} s`,
          { limit: limit.limit, retryAfterSeconds: seconds },
          { 'Retry-After': String(seconds) },
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

  // One route per read (not one generic handler) so each answer is type-checked against its schema.
  const windowed = <T extends z.ZodType>(path: string, summary: string, schema: T) =>
    createRoute({
      method: 'get',
      path,
      summary,
      ...guard('read'),
      request: { query: Window },
      responses: { 200: jsonResponse(schema, summary), ...protectedErrors, 400: bodyErrors[400] },
    });
  app.openapi(windowed('/routing/efficiency', 'Share of LLM requests served by their primary path, successfully, within budget', RoutingEfficiencySchema), async (c) => {
    const { window } = c.req.valid('query');
    return c.json({ ...(await deps.llm.router.routingEfficiency(windowMs(window))), window }, 200);
  });
  app.openapi(windowed('/metrics/routing', 'Routing totals, per path and per operation, p50/p95 latency, fallback rate', RoutingMetricsSchema), async (c) => {
    const { window } = c.req.valid('query');
    return c.json({ ...(await deps.llm.router.routingMetrics(windowMs(window))), window }, 200);
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/costs',
      summary: 'LLM spend per day, component and model; budgets and their alerts',
      ...guard('read'),
      request: { query: z.object({ days: z.coerce.number().int().min(1).max(maxReportDays).default(7).openapi({ description: `UTC days back from today, 1-${maxReportDays} (per-day spend is kept ${maxReportDays} days)` }) }).strict() },
      responses: { 200: jsonResponse(CostReportSchema, 'Costs'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => c.json(await deps.llm.budget.report({ days: c.req.valid('query').days }), 200),
  );

  return app;
}
