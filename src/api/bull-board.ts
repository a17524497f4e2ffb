import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { Fleet } from '../queues/fleet.js';
import { queueNames } from '../queues/names.js';
import { roleCan } from './auth.js';
import type { AppEnv } from './env.js';

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
 * Bull Board for the five queues. Operators and admins get the full board; viewers and
 * approvers a read-only one. Authentication and CSRF checks run before this.
 */
export function bullBoardRoutes(fleet: Fleet): Hono<AppEnv> {
  const full = board(fleet, false);
  const readOnly = board(fleet, true);
  const app = new Hono<AppEnv>();
  app.all('*', (c) => (roleCan(c.get('principal').role, 'operate') ? full : readOnly).fetch(c.req.raw, c.env));
  return app;
}
