/**
 * Idle cost: what `node dist/main.js all` costs while nothing happens, against a bare process of
 * the same fleet shape doing nothing, measured in the same run on the same Redis, one after the
 * other (never together).
 *
 * - Service: the compiled program (bench/dist.ts builds it), `node dist/main.js all`, local LLM
 *   provider (no Bedrock, no MCP), on the REDIS_URL this bench was given, its own key prefix, an
 *   API key, a temporary data directory; its log (LOG_LEVEL=info, as shipped) goes to a file there.
 * - Baseline: bench/bare-fleet.ts, compiled the same way: one Queue and one Worker per queue with
 *   the service's names, prefix layout and worker options, and a bare Hono server.
 * - Each is started, ready when GET /health answers 200, left to settle for
 *   BENCH_IDLE_SETTLE_SECONDS (5), then sampled for BENCH_IDLE_SECONDS (60): CPU time
 *   (utime + stime from /proc/<pid>/stat, children included) at both ends, resident memory
 *   (VmRSS from /proc/<pid>/status, children included) every second, and Redis's CPU time
 *   (INFO cpu, used_cpu_user + used_cpu_sys) at both ends, since idle workers poll Redis.
 *
 * Reported: CPU share (CPU-seconds / wall seconds) of both and service/baseline, mean and max RSS
 * and the ratio of the means, Redis's CPU share in each window and its ratio. Linux only (/proc).
 *
 * Run alone with `npm run bench -- idle` (a throwaway Redis is started); `npm run bench` runs it
 * with the others.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import { keyPrefix, loadConfig } from '../src/config.js';
import { queueNames } from '../src/domain/queue-names.js';
import type { FleetShape } from './bare-fleet.js';
import { buildDist } from './dist.js';
import { benchRedis, benchServers, deleteKeys, machineBusySeconds, positiveNumber, processCpuSeconds, redisCpuSeconds, residentBytes, sleep, startServer, type Server } from './processes.js';

const sampleMs = 1_000;
const mb = (bytes: number) => bytes / 1024 / 1024;

/** What one process cost over its idle window. */
interface IdleCost {
  label: string;
  wallSeconds: number;
  cpuSeconds: number;
  /** CPU-seconds per wall second: 1 is a whole core. */
  cpuShare: number;
  rssMeanBytes: number;
  rssMaxBytes: number;
  samples: number;
  /** Most processes seen at once in its tree (1: no children). */
  processes: number;
  redisCpuSeconds: number;
  redisShare: number;
  /** The whole machine's busy share (1 = a core) meanwhile: other work on it, mostly. */
  machineShare: number | undefined;
}

async function measureIdle(label: string, server: Server, redis: Redis, settleSeconds: number, seconds: number): Promise<IdleCost> {
  process.stderr.write(`idle bench: ${label}: ready (pid ${server.pid}); settling ${settleSeconds} s, then ${seconds} s sampled\n`);
  await sleep(settleSeconds * 1000);
  const need = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) {
      throw new Error(`idle bench: ${label}: could not read ${what} (Linux /proc and Redis INFO are needed)`);
    }
    return value;
  };
  const rss: number[] = [];
  let processes = 0;
  const sampleRss = async () => {
    const r = need(await residentBytes(server.pid), `the resident memory of pid ${server.pid}`);
    rss.push(r.bytes);
    processes = Math.max(processes, r.processes);
  };
  const redis0 = need(await redisCpuSeconds(redis), "Redis's CPU time");
  const cpu0 = need(await processCpuSeconds(server.pid), `the CPU time of pid ${server.pid}`);
  const machine0 = await machineBusySeconds();
  const t0 = performance.now();
  await sampleRss();
  for (let k = 1; k * sampleMs <= seconds * 1000; k += 1) {
    await sleep(Math.max(0, t0 + k * sampleMs - performance.now()));
    if (server.exit !== undefined) {
      throw new Error(`idle bench: ${label} ended (${server.exit}) while it was sampled; its log: ${server.logPath}`);
    }
    await sampleRss();
  }
  const cpu1 = need(await processCpuSeconds(server.pid), `the CPU time of pid ${server.pid}`);
  const machine1 = await machineBusySeconds();
  const wallSeconds = (performance.now() - t0) / 1000;
  const redis1 = need(await redisCpuSeconds(redis), "Redis's CPU time");
  const cpuSeconds = cpu1 - cpu0;
  const redisCpu = redis1 - redis0;
  return {
    label,
    wallSeconds,
    cpuSeconds,
    cpuShare: cpuSeconds / wallSeconds,
    rssMeanBytes: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMaxBytes: Math.max(...rss),
    samples: rss.length,
    processes,
    redisCpuSeconds: redisCpu,
    redisShare: redisCpu / wallSeconds,
    machineShare: machine0 === undefined || machine1 === undefined ? undefined : (machine1 - machine0) / wallSeconds,
  };
}

const pct = (share: number) => `${(100 * share).toFixed(2)}%`;
const ratio = (a: number, b: number) => (b > 0 ? (a / b).toFixed(2) : 'n/a');

function detailLine(c: IdleCost): string {
  return (
    `  ${c.label.padEnd(40)} cpu ${c.cpuSeconds.toFixed(2)} s in ${c.wallSeconds.toFixed(1)} s = ${pct(c.cpuShare)} of a core; ` +
    `rss mean ${mb(c.rssMeanBytes).toFixed(1)} MB, max ${mb(c.rssMaxBytes).toFixed(1)} MB (${c.samples} samples, ${c.processes} process${c.processes === 1 ? '' : 'es'}); ` +
    `redis cpu ${c.redisCpuSeconds.toFixed(2)} s = ${pct(c.redisShare)}; the whole machine meanwhile ${c.machineShare === undefined ? 'n/a' : `${(100 * c.machineShare).toFixed(0)}% of ${cpus().length * 100}%`}`
  );
}

export interface IdleBenchResult {
  ok: boolean;
  report: string;
}

export async function idleBench(): Promise<IdleBenchResult> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    throw new Error('REDIS_URL is not set: run the idle bench through scripts/with-redis.ts (npm run bench -- idle)');
  }
  const seconds = positiveNumber('BENCH_IDLE_SECONDS', 60);
  const settleSeconds = positiveNumber('BENCH_IDLE_SETTLE_SECONDS', 5);
  const dist = await buildDist();
  const dir = await mkdtemp(join(tmpdir(), 'bench-idle-'));
  const servicePrefix = `bench-idle-${randomBytes(4).toString('hex')}`;
  const barePrefix = `bench-idle-bare-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  const redis = benchRedis(redisUrl);
  const { servers, stopAll, release } = benchServers('idle bench');

  let kept = false;
  try {
    await redis.connect().catch((err: unknown) => {
      throw new Error(`Redis at REDIS_URL does not answer: ${(err as Error).message}`);
    });
    // The baseline's shape, from the settings the service reads (its defaults: the service gets no queue settings either).
    const config = loadConfig({ REDIS_URL: redisUrl, BSM_PREFIX: barePrefix });
    const shape: FleetShape = {
      prefix: keyPrefix(config),
      queues: queueNames.map((name) => ({
        name,
        concurrency: config.queues[name].concurrency,
        limiter: { max: config.queues[name].rateLimit.max, duration: config.queues[name].rateLimit.durationMs },
        lockDuration: config.BSM_LOCK_DURATION_MS,
        stalledInterval: config.BSM_STALLED_INTERVAL_MS,
      })),
    };
    process.stderr.write(`idle bench: ${settleSeconds} s settle + ${seconds} s sampled per process, one after the other; logs in ${dir}\n`);

    const bare = await startServer('bare fleet', [dist.bareFleet], { REDIS_URL: redisUrl, BENCH_FLEET_SHAPE: JSON.stringify(shape) }, join(dir, 'bare-fleet.log'), [200]);
    servers.push(bare);
    const baseline = await measureIdle(`baseline: bare fleet (${shape.queues.length} queues + workers, Hono)`, bare, redis, settleSeconds, seconds);
    servers.splice(servers.indexOf(bare), 1);
    process.stderr.write(`idle bench: bare fleet stopped: ${await bare.stop()}\n`);

    const service = await startServer(
      'service',
      [dist.main, 'all'],
      {
        REDIS_URL: redisUrl,
        BSM_PREFIX: servicePrefix,
        BSM_API_KEYS: `bench:admin:${token}`,
        BSM_DATA_DIR: dir,
        // Its default (./data/archive) is relative to the working directory, the repository.
        BSM_ARCHIVE_URL: pathToFileURL(join(dir, 'archive')).href,
        LOG_LEVEL: 'info',
      },
      join(dir, 'service.log'),
      [200],
    );
    servers.push(service);
    const measured = await measureIdle('node dist/main.js all', service, redis, settleSeconds, seconds);
    await stopAll();

    const lines = [
      '',
      `Idle: ${seconds} s sampled after ${settleSeconds} s of settling, each process alone on the same Redis (CPU share: CPU-seconds / wall seconds, 1 = a core)`,
      detailLine(baseline),
      detailLine(measured),
      '',
      '| benchmark | service | baseline | ratio |',
      '| --- | --- | --- | --- |',
      `| idle ${seconds} s, CPU share of \`node dist/main.js all\` | ${pct(measured.cpuShare)} (${measured.cpuSeconds.toFixed(2)} CPU-s) | ${pct(baseline.cpuShare)} (${baseline.cpuSeconds.toFixed(2)} CPU-s; bare fleet) | ${ratio(measured.cpuShare, baseline.cpuShare)} |`,
      `| idle ${seconds} s, RSS mean (max) | ${mb(measured.rssMeanBytes).toFixed(1)} MB (${mb(measured.rssMaxBytes).toFixed(1)}) | ${mb(baseline.rssMeanBytes).toFixed(1)} MB (${mb(baseline.rssMaxBytes).toFixed(1)}) | ${ratio(measured.rssMeanBytes, baseline.rssMeanBytes)} |`,
      `| idle ${seconds} s, Redis CPU share | ${pct(measured.redisShare)} | ${pct(baseline.redisShare)} | ${ratio(measured.redisShare, baseline.redisShare)} |`,
      '',
    ];
    const report = lines.join('\n');
    process.stdout.write(`${report}\n`);
    return { ok: true, report };
  } catch (err) {
    kept = true;
    process.stderr.write(`idle bench: logs kept in ${dir}\n`);
    throw err;
  } finally {
    await release();
    if (redis.status === 'ready') {
      for (const prefix of [servicePrefix, barePrefix]) {
        await deleteKeys(redis, `{${prefix}}`).catch((err: unknown) => process.stderr.write(`idle bench: could not delete the keys of ${prefix}: ${String(err)}\n`));
      }
    }
    redis.disconnect();
    if (!kept) {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { ok } = await idleBench();
  process.exit(ok ? 0 : 1);
}
