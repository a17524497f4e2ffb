import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { Fleet } from '../queues/fleet.js';
import { queueNames } from '../domain/queue-names.js';
import { requirePermission, roleCan } from './auth.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';

export const bullBoardPath = '/admin/queues';

function board(fleet: Fleet, readOnlyMode: boolean): Hono {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(bullBoardPath);
  createBullBoard({
    queues: queueNames.map((n) => new BullMQAdapter(fleet.queue(n), { readOnlyMode, description: n })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: readOnlyMode ? 'Bedrock Support (read-only)' : 'Bedrock Support' } },
  });
  return new Hono().route(bullBoardPath, adapter.registerPlugin());
}

/**
 * Board actions that would go around the service: pausing and resuming belong to the
 * support-mode lifecycle, concurrency, rate limits and schedulers to configuration, and
 * jobs enter through the API, where their payloads are validated.
 */
const ownedElsewhere: { pattern: RegExp; use: string }[] = [
  { pattern: /^\/api\/queues\/(pause|resume)$/, use: 'POST /admin/bedrock-support/activate or /deactivate (support mode owns queue pausing)' },
  { pattern: /^\/api\/queues\/[^/]+\/(pause|resume)$/, use: 'POST /admin/bedrock-support/activate-component or /deactivate (support mode owns queue pausing)' },
  { pattern: /^\/api\/queues\/[^/]+\/obliterate$/, use: 'nothing: obliterating a queue would destroy its history' },
  { pattern: /^\/api\/queues\/[^/]+\/(concurrency|rate-limit)$/, use: 'the BSM_<QUEUE>_CONCURRENCY and BSM_<QUEUE>_RATE_* settings' },
  { pattern: /^\/api\/queues\/[^/]+\/job-schedulers\/[^/]+(\/remove)?$/, use: 'the BSM_SCHEDULE_* settings (schedulers are declared, and re-applied at start-up); "run now" of a scheduler is allowed' },
  {
    pattern: /^\/api\/queues\/[^/]+\/add$/,
    use: 'the job schedulers ("run now" adds a scheduler\'s own job) or the API (POST /test/bedrock-support/{component} for a canary); a job added here would skip payload validation',
  },
  { pattern: /^\/api\/queues\/[^/]+\/[^/]+\/update-data$/, use: 'nothing: a job\'s payload is validated when it is added and is not edited in place; remove the job and let its scheduler add it again' },
];

/**
 * Bull Board for the five queues. Operators and admins get the full board; viewers and
 * approvers a read-only one. Authentication and CSRF checks run before this.
 */
export function bullBoardRoutes(fleet: Fleet): Hono<AppEnv> {
  const full = board(fleet, false);
  const readOnly = board(fleet, true);
  const app = new Hono<AppEnv>();
  // Viewing the board is reading: an ingest key (no read permission) gets the 403 every GET gives it.
  app.use('*', requirePermission('read'));
  app.all('*', (c) => {
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const sub = c.req.path.slice(bullBoardPath.length);
      const owned = ownedElsewhere.find((o) => o.pattern.test(sub));
      if (owned) {
        throw new ApiError(409, 'conflict', `not from Bull Board: use ${owned.use}`);
      }
    }
    return (roleCan(c.get('principal').role, 'operate') ? full : readOnly).fetch(c.req.raw, c.env);
  });
  return app;
}
