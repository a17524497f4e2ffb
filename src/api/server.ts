import { createServer, type Server } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { withEveryAnswerHeaders } from './security-headers.js';

/**
 * The Node HTTP server of the app, as the api role runs it (call `listen` on it): Hono's Node
 * adapter, with the headers every answer carries set beneath it.
 */
export function createApiServer(fetch: Parameters<typeof getRequestListener>[0], options: { hostname?: string } = {}): Server {
  return createServer(withEveryAnswerHeaders(getRequestListener(fetch, { hostname: options.hostname })));
}
