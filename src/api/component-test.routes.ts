import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { LlmThrottledError, operationTypes, type OperationType } from '../domain/llm/types.js';
import type { CanaryResult } from '../jobs/canary.job.js';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';
import type { ApiDeps } from './deps.js';
import { defaultLimits } from './deps.js';
import type { AppEnv } from './env.js';
import { assertRunnable } from './runnable.js';
import { ApiError, errorBody } from './errors.js';
import { bodyErrors, ErrorSchema, guard, jsonBody, jsonResponse, LlmPathSchema, notFound, protectedErrors, QueueNameSchema, RemotePathSchema, RouteReasonSchema } from './openapi.js';

const operationOf: Record<QueueName, OperationType> = {
  'bedrock-support': 'standard',
  'infrastructure-auditor': 'infrastructure',
  'meta-monitor': 'meta_monitor',
  'implementation-support': 'implementation',
  compliance: 'background',
};

/** The LLM call of a passed test: the answer's routing, or (throttled, error) why there was none. */
const LlmCheck = z
  .discriminatedUnion('outcome', [
    z.object({
      operation: z.enum(operationTypes),
      outcome: z.enum(['success', 'fallback_local']),
      explanation: z.string(),
      path: LlmPathSchema,
      primary: RemotePathSchema,
      reason: RouteReasonSchema,
      model: z.string(),
      latencyMs: z.number(),
      withinBudget: z.boolean(),
    }),
    z.object({ operation: z.enum(operationTypes), outcome: z.enum(['throttled', 'error']), error: z.string(), latencyMs: z.number() }),
  ])
  .openapi('ComponentTestLlm');

const canaryFields = {
  component: QueueNameSchema,
  jobId: z.string(),
  latencyMs: z.number().openapi({ description: 'Enqueue to finish, as BullMQ timed it' }),
  roundTripMs: z.number().openapi({ description: "Enqueue to finish, plus this request's polling" }),
};
/** A canary that passed. One that failed is a 502 (`canary_failed`), so `curl -f` in a script fails too. */
export const ComponentTestSchema = z
  .object({ ...canaryFields, status: z.literal('passed'), queueWaitMs: z.number().nullable(), workerPid: z.number().int(), llm: LlmCheck })
  .openapi('ComponentTest');

/** One LLM call through the router with the component's operation type: which path answered, how fast. */
async function llmCheck(deps: ApiDeps, queue: QueueName, canary: CanaryResult): Promise<z.infer<typeof LlmCheck>> {
  const operation = operationOf[queue];
  const started = performance.now();
  try {
    const a = await deps.llm.router.ask({
      component: queue,
      operation,
      task: 'component-test',
      system: 'You are Bedrock Support Mode. Confirm in one sentence that you received this component test.',
      prompt: `Component test of ${queue}.`,
      facts: { component: queue, canary: { waitedMs: canary.waitedMs, heldMs: canary.heldMs } },
      maxTokens: 64,
    });
    // The outcome word of the routing decision, as /metrics/routing counts it.
    return { operation, outcome: a.path === 'local' ? 'fallback_local' : 'success', explanation: a.explanation, path: a.path, primary: a.primary, reason: a.reason, model: a.model, latencyMs: Math.round(a.latencyMs * 10) / 10, withinBudget: a.withinBudget };
  } catch (err) {
    return { operation, outcome: err instanceof LlmThrottledError ? 'throttled' : 'error', error: (err as Error).message, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
  }
}

export function unknownComponent(name: string): ApiError {
  return new ApiError(404, 'not_found', `unknown component "${name}": valid components are ${queueNames.join(', ')}`, { valid: queueNames });
}

/** `/test/bedrock-support/{component}`: a canary through the component's real queue and worker. */
export function componentTestRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const timeoutMs = deps.limits?.canaryTimeoutMs ?? defaultLimits.canaryTimeoutMs;

  app.openapi(
    createRoute({
      method: 'post',
      path: '/bedrock-support/{component}',
      summary: "Send a canary job through the component's queue and worker; answers with its result and measured latency",
      ...guard('operate'),
      request: { params: z.object({ component: z.string().openapi({ example: 'infrastructure-auditor' }) }), body: jsonBody(z.object({}).strict().openapi('ComponentTestBody'), false) },
      responses: {
        200: jsonResponse(ComponentTestSchema, 'The canary passed'),
        502: jsonResponse(ErrorSchema, "The canary failed in the component's worker (code canary_failed; details: jobId, attempts, the job's error, latencies)"),
        504: jsonResponse(ErrorSchema, 'No result within the timeout (code timeout; details: jobId and the job state)'),
        ...notFound,
        ...protectedErrors,
        ...bodyErrors,
      },
    }),
    async (c) => {
      const name = c.req.valid('param').component;
      if (!(queueNames as readonly string[]).includes(name)) {
        throw unknownComponent(name);
      }
      const queue = name as QueueName;
      await assertRunnable(deps, queue, `test ${queue}`);
      await recordBeforeChange(deps.auditTrail, { actor: c.get('principal').name, action: 'component.test', target: queue, details: { requestId: c.get('requestId') } });
      const started = performance.now();
      const job = await deps.fleet.add(queue, 'canary', { requestedBy: c.get('principal').name }, { priority: 'high' });
      const jobId = job.id as string;
      const done = await deps.fleet.waitForFinish(queue, jobId, timeoutMs);
      // Enqueue to finish as BullMQ timed it; the round trip adds this request's polling.
      const roundTripMs = Math.round((performance.now() - started) * 10) / 10;
      const latencyMs = done?.finishedOn === undefined ? roundTripMs : done.finishedOn - done.timestamp;
      if (!done) {
        const state = await deps.fleet.queue(queue).getJobState(jobId);
        return c.json(errorBody('timeout', `canary ${jobId} did not finish within ${timeoutMs} ms`, { jobId, state }), 504);
      }
      if (done.failedReason) {
        return c.json(
          errorBody('canary_failed', `canary ${jobId} failed in the ${queue} worker: ${done.failedReason}`, {
            component: queue,
            jobId,
            attemptsMade: done.attemptsMade,
            error: done.failedReason,
            latencyMs,
            roundTripMs,
          }),
          502,
        );
      }
      const result = done.returnvalue as CanaryResult;
      const llm = await llmCheck(deps, queue, result);
      return c.json({ component: queue, status: 'passed' as const, jobId, latencyMs, roundTripMs, queueWaitMs: result.waitedMs, workerPid: result.workerPid, llm }, 200);
    },
  );
  return app;
}
