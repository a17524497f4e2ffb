/**
 * The HTTP benchmark's baseline: a bare Hono app with one route, served by @hono/node-server
 * the way the service serves its app. bench/http.ts starts it as a child process
 * (`node --import tsx bench/bare-hono.ts` with PORT and HOST), like the service.
 */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const port = Number(process.env.PORT ?? 3000);
const hostname = process.env.HOST ?? '127.0.0.1';

const app = new Hono();
app.get('/health', (c) => c.json({ status: 'healthy' }));

const server = serve({ fetch: app.fetch, port, hostname }, () => {
  process.stdout.write(`bare hono listening on http://${hostname}:${port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
