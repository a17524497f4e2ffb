/**
 * The idle benchmark's baseline: the service's fleet shape doing nothing. One BullMQ Queue and
 * one Worker (no-op processor) per queue, with the names, key prefix and worker options
 * (concurrency, limiter, lock duration, stalled-check interval) the service uses, the Queues on
 * one connection and the Workers sharing another, as the service does; and a bare Hono server
 * with one route, GET /health. No schedulers, no handlers, no reads of its own.
 *
 * It runs as plain JavaScript like `node dist/main.js` (no TypeScript loader in the process):
 * bench/dist.ts compiles it to dist/bench/bare-fleet.js. The shape comes from the bench in
 * BENCH_FLEET_SHAPE (JSON, see {@link FleetShape}), taken from the service's own settings, so
 * this file imports nothing of the service.
 */
import { serve } from '@hono/node-server';
import { Queue, Worker } from 'bullmq';
import { Hono } from 'hono';
import { Redis } from 'ioredis';

/** What BENCH_FLEET_SHAPE holds. */
export interface FleetShape {
  /** BullMQ key prefix, e.g. `{bsm}`. */
  prefix: string;
  queues: { name: string; concurrency: number; limiter: { max: number; duration: number }; lockDuration: number; stalledInterval: number }[];
}

const url = process.env.REDIS_URL;
const shapeJson = process.env.BENCH_FLEET_SHAPE;
if (!url || !shapeJson) {
  process.stderr.write('bare fleet: REDIS_URL and BENCH_FLEET_SHAPE must be set (bench/idle.ts sets them)\n');
  process.exit(2);
}
const shape = JSON.parse(shapeJson) as FleetShape;
const port = Number(process.env.PORT ?? 3000);
const hostname = process.env.HOST ?? '127.0.0.1';

const client = new Redis(url, { maxRetriesPerRequest: null });
const blocking = new Redis(url, { maxRetriesPerRequest: null });
const queues = shape.queues.map((q) => new Queue(q.name, { connection: client, prefix: shape.prefix }));
const workers = shape.queues.map(
  (q) =>
    new Worker(q.name, () => Promise.resolve(null), {
      connection: blocking,
      prefix: shape.prefix,
      name: `bare-fleet:${process.pid}`,
      concurrency: q.concurrency,
      limiter: q.limiter,
      lockDuration: q.lockDuration,
      stalledInterval: q.stalledInterval,
    }),
);
for (const w of workers) {
  w.on('error', (err) => process.stderr.write(`bare fleet: worker ${w.name}: ${err.message}\n`));
}

const app = new Hono();
app.get('/health', (c) => c.json({ status: 'healthy' }));
const server = serve({ fetch: app.fetch, port, hostname }, () => {
  process.stdout.write(`bare fleet: ${queues.length} queues and workers on ${shape.prefix}, listening on http://${hostname}:${port}\n`);
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    void Promise.all(workers.map((w) => w.close()))
      .then(() => Promise.all(queues.map((q) => q.close())))
      .then(() => Promise.all([client.quit(), blocking.quit()]))
      .finally(() => process.exit(0));
  });
}
