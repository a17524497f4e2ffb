import { Hono } from 'hono';
import type { Fleet } from '../queues/fleet.js';
import type { Logger } from '../observability/logger.js';
import { healthRoutes } from './health.routes.js';

export interface ApiDeps {
  fleet: Fleet;
  logger: Logger;
  /** Bound on how long a health probe may wait for Redis. */
  healthTimeoutMs?: number;
}

/** The HTTP application. One sub-app per resource. */
export function createApp(deps: ApiDeps): Hono {
  const app = new Hono();
  app.route('/health', healthRoutes(deps));
  app.notFound((c) => c.json({ error: { code: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` } }, 404));
  app.onError((err, c) => {
    deps.logger.error({ err: err.message, path: c.req.path }, 'request failed');
    return c.json({ error: { code: 'internal_error', message: 'internal error' } }, 500);
  });
  return app;
}
