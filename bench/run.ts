/**
 * Benchmarks, each reported as a ratio against a bare baseline measured in the same run
 * on the same Redis (absolute times drift between machines; ratios less so).
 *
 * 1. Job throughput: N canary jobs through the fleet (payload validation, handler table,
 *    cancellation wrapper, metrics) against a bare BullMQ Worker with a no-op processor.
 * 2. Audit-trail appends: hash-chained, compare-and-set appends against plain XADDs.
 * 3. HTTP: the service's read endpoints against a bare Hono app (bench/http.ts).
 * 4. Idle cost: `node dist/main.js all` doing nothing against a bare process of the same fleet
 *    shape, CPU share, resident memory and Redis's CPU (bench/idle.ts).
 * 6. An audit of 200 HTTP targets on loopback against the same GETs made bare (bench/audit.ts).
 * 5. Bedrock under a quota: LLM jobs through the compiled worker against a Converse fake with a
 *    request quota, the share of the quota turned into answers (bench/bedrock-quota.ts).
 * 7. Execution ingest: records through the ingest route in batches of 1,000 against pipelined
 *    XADDs of the same records (bench/ingest.ts).
 * 8. Failure clustering: grouping accuracy of the template miner on the LogHub 2k samples against
 *    Drain tuned per dataset (bench/loghub.ts; no Redis).
 * 9. The meta-monitor's analysis of 1,000,000 executions against only reading them from Redis
 *    (bench/analysis.ts).
 * 10. Verification of a 1,000,000-entry audit trail against only reading it in the same pages, with
 *    its peak heap (bench/trail-verify.ts).
 * 11. Execution ingest through the store on a local three-master Redis Cluster against one
 *    redis-server, same records, same run (bench/cluster-ingest.ts; it starts both itself).
 *
 * Run with `npm run bench` (a throwaway redis-server is started for it). Some of them by name:
 * `npm run bench -- idle bedrock-quota` (names: jobs, appends, audit, http, idle, bedrock-quota, ingest, loghub, analysis, trail-verify, cluster-ingest, analysis-flow); the
 * HTTP part alone also with `npm run bench:http`. The last two compile the service to dist/ first.
 * Exits 1 when a benchmark's figures are broken or miss their goal.
 */
import { randomBytes } from 'node:crypto';
import { Queue, Worker } from 'bullmq';
import { keyPrefix, loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createFleet } from '../src/queues/fleet.js';
import { createRedis, waitReady } from '../src/redis.js';
import { createAuditTrail } from '../src/store/audit-trail.store.js';
import { composeAdapters } from '../src/runtime/compose.js';
import { createControlChannel } from '../src/store/control-channel.js';
import { startWorkers } from '../src/workers/runner.js';
import { auditBench } from './audit.js';
import { bedrockQuotaBench } from './bedrock-quota.js';
import { httpBench } from './http.js';
import { idleBench } from './idle.js';
import { ingestBench } from './ingest.js';
import { clusterIngestBench } from './cluster-ingest.js';
import { loghubBench } from './loghub.js';
import { analysisBench } from './analysis.js';
import { analysisFlowBench } from './analysis-flow.js';
import { trailVerifyBench } from './trail-verify.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const jobs = Number(process.env.BENCH_JOBS ?? 3000);
const appends = Number(process.env.BENCH_APPENDS ?? 3000);
const concurrency = 8;

async function drain(queue: Queue, total: number): Promise<void> {
  for (;;) {
    const c = await queue.getJobCounts('completed', 'failed');
    if ((c.completed ?? 0) + (c.failed ?? 0) >= total) {
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function bareThroughput(): Promise<number> {
  const connection = createRedis(url, 'blocking');
  const prefix = `{bench-bare-${randomBytes(3).toString('hex')}}`;
  const queue = new Queue('bare', { connection, prefix });
  await queue.addBulk(Array.from({ length: jobs }, () => ({ name: 'canary', data: { holdMs: 0 } })));
  const started = performance.now();
  const worker = new Worker('bare', () => Promise.resolve({ ok: true }), { connection, prefix, concurrency });
  await drain(queue, jobs);
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  connection.disconnect();
  return jobs / seconds;
}

async function fleetThroughput(): Promise<number> {
  const bsmPrefix = `bench-fleet-${randomBytes(3).toString('hex')}`;
  const config = loadConfig({ REDIS_URL: url, BSM_PREFIX: bsmPrefix, BSM_IMPLEMENTATION_SUPPORT_CONCURRENCY: String(concurrency), BSM_IMPLEMENTATION_SUPPORT_RATE_MAX: '100000', BSM_IMPLEMENTATION_SUPPORT_RATE_DURATION_MS: '1000' });
  const client = createRedis(url, 'client');
  const blocking = createRedis(url, 'blocking');
  await waitReady(client);
  const prefix = keyPrefix(config);
  const fleet = createFleet({ connection: client, prefix, jobOptions: { attempts: 3, backoffMs: 1000, keepCompletedHours: 1, keepCompletedCount: jobs * 2, keepFailedHours: 1, keepFailedCount: jobs } });
  const logger = createLogger('silent');
  const adapters = composeAdapters({ config, redis: client, prefix, logger, control: createControlChannel(client, null, prefix) });
  const queue = fleet.queue('implementation-support');
  await queue.addBulk(Array.from({ length: jobs }, () => ({ name: 'canary', data: { holdMs: 0 } })));
  const started = performance.now();
  const runner = startWorkers({
    queues: ['implementation-support'],
    deps: adapters.jobDeps,
    connection: blocking,
    fleet,
    prefix,
    settings: config.queues,
    graceMs: 1000,
    logger,
  });
  await drain(queue, jobs);
  const seconds = (performance.now() - started) / 1000;
  await runner.close();
  await queue.obliterate({ force: true });
  await fleet.close();
  await adapters.close();
  client.disconnect();
  blocking.disconnect();
  return jobs / seconds;
}

async function appendRates(): Promise<{ chained: number; bare: number }> {
  const redis = createRedis(url, 'blocking');
  const prefix = `{bench-trail-${randomBytes(3).toString('hex')}}`;
  const trail = createAuditTrail(redis, prefix);
  const event = { actor: 'bench', action: 'bench.append', details: { nested: { a: 1, list: [1, 2, 3] } } };
  const chainedBlock = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await trail.append(event);
    }
  };
  const bareBlock = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await redis.xadd(`${prefix}:bare`, '*', 'json', JSON.stringify(event));
    }
  };
  // Warm both up, then alternate blocks so drift affects both sides alike.
  await chainedBlock(200);
  await bareBlock(200);
  const rounds = 6;
  const block = Math.ceil(appends / rounds);
  let chainedMs = 0;
  let bareMs = 0;
  for (let r = 0; r < rounds; r++) {
    let t0 = performance.now();
    await chainedBlock(block);
    chainedMs += performance.now() - t0;
    t0 = performance.now();
    await bareBlock(block);
    bareMs += performance.now() - t0;
  }
  const chained = (block * rounds) / (chainedMs / 1000);
  const bare = (block * rounds) / (bareMs / 1000);
  await redis.del(`${prefix}:audit-trail`, `${prefix}:audit-trail:head`, `${prefix}:bare`);
  redis.disconnect();
  return { chained, bare };
}

const names = ['jobs', 'appends', 'audit', 'http', 'idle', 'bedrock-quota', 'ingest', 'loghub', 'analysis', 'trail-verify', 'cluster-ingest', 'analysis-flow'] as const;
type BenchName = (typeof names)[number];
const isBenchName = (arg: string): arg is BenchName => (names as readonly string[]).includes(arg);
const args = process.argv.slice(2);
const unknown = args.filter((a) => !isBenchName(a));
if (unknown.length > 0) {
  process.stderr.write(`bench: unknown benchmark ${unknown.map((u) => `"${u}"`).join(', ')}; the names: ${names.join(', ')} (none: all of them)
`);
  process.exit(2);
}
const selected = new Set<BenchName>(args.length === 0 ? names : args.filter(isBenchName));

let ok = true;
const rows: Record<string, string>[] = [];
if (selected.has('jobs')) {
  const bare = await bareThroughput();
  const fleet = await fleetThroughput();
  rows.push({ benchmark: `job throughput, ${jobs} jobs, concurrency ${concurrency}`, service: `${fleet.toFixed(0)} jobs/s`, baseline: `${bare.toFixed(0)} jobs/s (bare BullMQ)`, ratio: (fleet / bare).toFixed(2) });
}
if (selected.has('appends')) {
  const trail = await appendRates();
  rows.push({ benchmark: `audit-trail append, ${appends} sequential`, service: `${trail.chained.toFixed(0)} appends/s`, baseline: `${trail.bare.toFixed(0)} XADD/s`, ratio: (trail.chained / trail.bare).toFixed(2) });
}
if (rows.length > 0) {
  console.table(rows);
}
if (selected.has('audit')) {
  ok = (await auditBench()).ok && ok;
}
if (selected.has('http')) {
  ok = (await httpBench()).ok && ok;
}
if (selected.has('idle')) {
  ok = (await idleBench()).ok && ok;
}
if (selected.has('ingest')) {
  ok = (await ingestBench()).ok && ok;
}
if (selected.has('loghub')) {
  ok = (await loghubBench()).ok && ok;
}
if (selected.has('analysis')) {
  ok = (await analysisBench()).ok && ok;
}
if (selected.has('analysis-flow')) {
  ok = (await analysisFlowBench()).ok && ok;
}
if (selected.has('trail-verify')) {
  ok = (await trailVerifyBench()).ok && ok;
}
if (selected.has('cluster-ingest')) {
  ok = (await clusterIngestBench()).ok && ok;
}
if (selected.has('bedrock-quota')) {
  ok = (await bedrockQuotaBench()).ok && ok;
}
process.exit(ok ? 0 : 1);
