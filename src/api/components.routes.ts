import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';
import { unknownComponent } from './component-test.routes.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError, errorBody } from './errors.js';
import { bodyErrors, count, ErrorSchema, guard, jsonBody, jsonResponse, notFound, protectedErrors } from './openapi.js';

/** How long a restart may take in every worker process: their grace period and cancel wait, and some. */
export const restartTimeoutMs = 60_000;

const Answer = z.object({ worker: z.string(), restarted: z.boolean(), tookMs: z.number(), error: z.string().nullable() }).openapi('RestartAnswer');
const Restarted = z
  .object({
    component: z.string(),
    processes: count.openapi({ description: 'Worker processes that heard the request' }),
    restarted: count.openapi({ description: 'Of them, those that ran the queue and restarted its workers' }),
    answers: z.array(Answer),
    tookMs: z.number(),
  })
  .openapi('ComponentRestart');

/** `POST /admin/bedrock-support/components/{component}/restart`: the runbook's "restart the infrastructure auditor component". */
export function componentRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  app.openapi(
    createRoute({
      method: 'post',
      path: '/components/{component}/restart',
      summary: "Every worker process closes that component's queue workers (running jobs finish within the grace period, else go back to waiting) and starts them again; answers when all have",
      ...guard('operate'),
      request: {
        params: z.object({ component: z.string().openapi({ example: 'infrastructure-auditor' }) }),
        body: jsonBody(z.object({ reason: z.string().trim().max(500).optional() }).strict().openapi('ComponentRestartBody'), false),
      },
      responses: {
        200: jsonResponse(Restarted, 'Every worker process answered'),
        ...notFound,
        ...protectedErrors,
        ...bodyErrors,
        504: jsonResponse(ErrorSchema, 'Not every worker process answered in time (details: the answers so far)'),
      },
    }),
    async (c) => {
      const name = c.req.valid('param').component;
      if (!(queueNames as readonly string[]).includes(name)) {
        throw unknownComponent(name);
      }
      const queue = name as QueueName;
      // Refused before anything is written when no process runs the queue.
      if ((await deps.fleetReader.snapshot({ maxAgeMs: 0 })).queues[queue].workers.count === 0) {
        throw new ApiError(409, 'conflict', `no worker process runs ${queue}: start one with bsm worker --queues ${queue}`, { workers: 0 });
      }
      const requestId = c.get('requestId');
      await recordBeforeChange(deps.auditTrail, { actor: c.get('principal').name, action: 'component.restart', target: queue, details: { requestId } });
      const started = performance.now();
      const { heard, answers } = await deps.control.restartQueue(queue, requestId, restartTimeoutMs);
      if (heard === 0) {
        throw new ApiError(503, 'unavailable', `no worker process is listening: start one with bsm worker --queues ${queue}`, { processes: 0 });
      }
      const tookMs = Math.round(performance.now() - started);
      const restarted = answers.filter((a) => a.restarted).length;
      if (answers.length < heard) {
        return c.json(errorBody('timeout', `${answers.length} of ${heard} worker processes answered within ${restartTimeoutMs} ms`, { processes: heard, answers }), 504);
      }
      if (restarted === 0) {
        throw new ApiError(409, 'conflict', `no worker process runs ${queue}: start one with bsm worker --queues ${queue}`, { processes: heard, answers });
      }
      return c.json({ component: queue, processes: heard, restarted, answers, tookMs }, 200);
    },
  );
  return app;
}
