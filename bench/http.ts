/**
 * HTTP benchmark: the service's read endpoints against a bare Hono app, measured in the same
 * run on the same machine and reported as ratios (target req/s / baseline req/s).
 *
 * - Baseline: bench/bare-hono.ts (one route, GET /health -> {status:"healthy"}) as a child process.
 * - Service: the real program, `node --import tsx src/main.ts all`, as a child process on the
 *   REDIS_URL this bench was given (scripts/with-redis.ts starts a throwaway one), with its own
 *   key prefix, an admin API key, and a temporary data directory. Its log goes to a file there.
 * - Load: autocannon in this process, BENCH_HTTP_CONNECTIONS (50) connections, a warm-up of
 *   BENCH_HTTP_WARMUP_SECONDS (2) that is not counted, then BENCH_HTTP_SECONDS (8) measured.
 * - Order: baseline, the service's endpoints, baseline again (with the service stopped, so its
 *   background workers do not slow the baseline); the ratio uses the mean of both baseline runs,
 *   and both are printed so drift shows.
 * - CPU: the share of a core the server, the load generator, Redis and everything else on the
 *   machine used while each target was measured (Linux /proc), and requests per CPU-second of
 *   server and Redis, a cost figure that other work on a 2-core machine disturbs much less.
 *
 * A target with more than 1% non-2xx answers, or more than 1% errors, fails the bench (a
 * benchmark of 401s is worthless). Children are stopped at the end, also on error or Ctrl-C.
 *
 * Run alone with `npm run bench:http`; `npm run bench` runs it after the other benchmarks.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Redis } from 'ioredis';
import autocannon from 'autocannon';
import { benchRedis, benchServers, deleteKeys, machineBusySeconds, positiveNumber, processCpuSeconds, redisCpuSeconds, startServer, type Server } from './processes.js';

/** Above this share of non-2xx answers (or of errors) a target's figures mean nothing: the bench fails. */
const maxBadShare = 0.01;
/** Two baseline runs further apart than this say the machine was busy with something else. */
const maxDrift = 0.15;

// ---------------------------------------------------------------------------------------------
// CPU accounting, to see whether the load generator or the server is the bottleneck (2 cores)

/** Shares of one core (1 = a whole core) while a target was measured. */
interface CpuShares {
  server?: number;
  loadgen: number;
  redis?: number;
  /** Everything else on the machine: other people's work slows both sides and shows as baseline drift. */
  others?: number;
}

async function cpuWhile<T>(serverPid: number, redis: Redis, work: () => Promise<T>): Promise<{ value: T; cpu: CpuShares }> {
  const sample = async () => ({ server: await processCpuSeconds(serverPid), redis: await redisCpuSeconds(redis), machine: await machineBusySeconds() });
  const before = await sample();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const wall = (performance.now() - t0) / 1000;
  const self = process.cpuUsage(self0);
  const after = await sample();
  const share = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : (b - a) / wall);
  const cpu: CpuShares = { server: share(before.server, after.server), loadgen: (self.user + self.system) / 1e6 / wall, redis: share(before.redis, after.redis) };
  const machine = share(before.machine, after.machine);
  if (machine !== undefined) {
    cpu.others = Math.max(0, machine - cpu.loadgen - (cpu.server ?? 0) - (cpu.redis ?? 0));
  }
  return { value, cpu };
}

// ---------------------------------------------------------------------------------------------
// Load

interface Target {
  label: string;
  server: Server;
  path: string;
  headers?: Record<string, string>;
}

interface Measured {
  label: string;
  rps: number;
  meanMs: number;
  p99Ms: number;
  responses: number;
  non2xx: number;
  codes: Record<string, number>;
  errors: number;
  timeouts: number;
  cpu: CpuShares;
  problems: string[];
}

interface LoadSettings {
  connections: number;
  seconds: number;
  warmupSeconds: number;
}

/** One GET before the load: the status and the body's `status` field, so a wrong answer shows at once. */
async function preflight(target: Target): Promise<string> {
  const res = await fetch(`${target.server.base}${target.path}`, { headers: target.headers ?? {} });
  const body = await res.text();
  let status: unknown;
  try {
    status = (JSON.parse(body) as { status?: unknown }).status;
  } catch {
    status = undefined;
  }
  const said = `${res.status}${typeof status === 'string' ? ` (body status "${status}")` : ''}`;
  return res.ok ? said : `${said}: ${body.slice(0, 300)}`;
}

async function measure(target: Target, load: LoadSettings, redis: Redis): Promise<Measured> {
  const url = `${target.server.base}${target.path}`;
  const options = { url, connections: load.connections, headers: target.headers ?? {} };
  process.stderr.write(`http bench: ${target.label}: preflight ${await preflight(target)}; warm-up ${load.warmupSeconds} s, then ${load.seconds} s measured\n`);
  await autocannon({ ...options, duration: load.warmupSeconds });
  const { value: r, cpu } = await cpuWhile(target.server.pid, redis, () => autocannon({ ...options, duration: load.seconds }));
  const codes = Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([code, s]) => [code, s.count ?? 0]));
  const responses = r['2xx'] + r.non2xx;
  const problems: string[] = [];
  if (responses === 0) {
    problems.push('no answers at all');
  }
  if (r.non2xx > 0) {
    const bad = Object.entries(codes).filter(([code]) => !code.startsWith('2'));
    problems.push(`${r.non2xx} non-2xx answers (${((100 * r.non2xx) / Math.max(responses, 1)).toFixed(2)}%: ${bad.map(([c, n]) => `${c}×${n}`).join(', ')})`);
  }
  if (r.errors > 0) {
    problems.push(`${r.errors} errors (${r.timeouts} timeouts)`);
  }
  return { label: target.label, rps: r.requests.average, meanMs: r.latency.mean, p99Ms: r.latency.p99, responses, non2xx: r.non2xx, codes, errors: r.errors, timeouts: r.timeouts, cpu, problems };
}

/** Whether a target's figures are too broken to use. */
const failed = (m: Measured) => m.responses === 0 || m.non2xx / m.responses > maxBadShare || m.errors / Math.max(m.responses + m.errors, 1) > maxBadShare;

const pct = (share: number | undefined) => (share === undefined ? 'n/a' : `${(100 * share).toFixed(0)}%`);

/**
 * Requests per CPU-second spent by the server and Redis: what a request costs, which a busy
 * machine changes much less than req/s (a neighbour takes cores, not instructions per request).
 */
const perCpuSecond = (m: Measured) => (m.cpu.server === undefined ? undefined : m.rps / (m.cpu.server + (m.cpu.redis ?? 0)));

function detailLine(m: Measured): string {
  const flag = m.problems.length > 0 ? `  !!! ${m.problems.join('; ')}` : '';
  const perCpu = perCpuSecond(m);
  return (
    `  ${m.label.padEnd(44)} ${m.rps.toFixed(0).padStart(7)} req/s  mean ${m.meanMs.toFixed(2).padStart(6)} ms  p99 ${m.p99Ms.toFixed(0).padStart(4)} ms  ` +
    `${m.responses} answers ${JSON.stringify(m.codes)}  errors ${m.errors}  cpu: server ${pct(m.cpu.server)}, load generator ${pct(m.cpu.loadgen)}, redis ${pct(m.cpu.redis)}, others ${pct(m.cpu.others)}` +
    `${perCpu === undefined ? '' : `  ${perCpu.toFixed(0)} req per server+redis CPU-second`}${flag}`
  );
}

// ---------------------------------------------------------------------------------------------
// The run

export interface HttpBenchResult {
  ok: boolean;
  /** The per-run lines and the markdown table, as printed. */
  report: string;
}

export async function httpBench(): Promise<HttpBenchResult> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    throw new Error('REDIS_URL is not set: run the HTTP bench through scripts/with-redis.ts (npm run bench:http or npm run bench)');
  }
  const load: LoadSettings = {
    connections: Math.round(positiveNumber('BENCH_HTTP_CONNECTIONS', 50)),
    seconds: positiveNumber('BENCH_HTTP_SECONDS', 8),
    warmupSeconds: positiveNumber('BENCH_HTTP_WARMUP_SECONDS', 2),
  };
  const dir = await mkdtemp(join(tmpdir(), 'bench-http-'));
  const prefix = `bench-http-${randomBytes(4).toString('hex')}`;
  const token = randomBytes(16).toString('hex');
  // Reads the Redis server's CPU time, and deletes the service's keys at the end.
  const redis = benchRedis(redisUrl);
  const { servers, stopAll, release } = benchServers('http bench');

  const started = performance.now();
  let kept = false;
  try {
    await redis.connect().catch((err: unknown) => {
      throw new Error(`Redis at REDIS_URL does not answer: ${(err as Error).message}`);
    });
    process.stderr.write(
      `http bench: ${load.connections} connections, ${load.warmupSeconds} s warm-up + ${load.seconds} s measured per target; logs in ${dir}\n`,
    );
    const bare = await startServer('bare hono', ['--import', 'tsx', 'bench/bare-hono.ts'], {}, join(dir, 'bare-hono.log'));
    servers.push(bare);
    const baselineTarget: Target = { label: 'baseline: bare Hono GET /health', server: bare, path: '/health' };
    const baseline1 = await measure(baselineTarget, load, redis);

    const service = await startServer(
      'service',
      ['--import', 'tsx', 'src/main.ts', 'all'],
      {
        REDIS_URL: redisUrl,
        BSM_PREFIX: prefix,
        BSM_API_KEYS: `bench:admin:${token}`,
        BSM_DATA_DIR: dir,
        // Its default (./data/archive) is relative to the working directory, the repository.
        BSM_ARCHIVE_URL: pathToFileURL(join(dir, 'archive')).href,
        LOG_LEVEL: 'info',
      },
      join(dir, 'service.log'),
    );
    servers.push(service);
    const auth = { authorization: `Bearer ${token}` };
    const targets: Target[] = [
      { label: 'GET /health', server: service, path: '/health' },
      { label: 'GET /health/bedrock-support (public)', server: service, path: '/health/bedrock-support' },
      { label: 'GET /admin/bedrock-support/status (bearer)', server: service, path: '/admin/bedrock-support/status', headers: auth },
    ];
    const measured: Measured[] = [];
    for (const target of targets) {
      measured.push(await measure(target, load, redis));
    }
    servers.splice(servers.indexOf(service), 1);
    process.stderr.write(`http bench: service stopped: ${await service.stop()}\n`);

    const baseline2 = await measure({ ...baselineTarget, label: 'baseline again: bare Hono GET /health' }, load, redis);
    await stopAll();

    const baseRps = (baseline1.rps + baseline2.rps) / 2;
    const baseP99 = (baseline1.p99Ms + baseline2.p99Ms) / 2;
    const drift = baseline2.rps / baseline1.rps;
    const [cpu1, cpu2] = [perCpuSecond(baseline1), perCpuSecond(baseline2)];
    const basePerCpu = cpu1 === undefined || cpu2 === undefined ? undefined : (cpu1 + cpu2) / 2;
    const all = [baseline1, ...measured, baseline2];
    const broken = all.filter(failed);
    const lines = [
      '',
      `HTTP: ${load.connections} connections, ${load.seconds} s measured after ${load.warmupSeconds} s warm-up; load generator (autocannon) in this process; ${((performance.now() - started) / 1000).toFixed(0)} s in all`,
      '  (cpu: share of one core while measured; "others" is the rest of the machine)',
      ...all.map(detailLine),
      `  baseline runs: ${baseline1.rps.toFixed(0)} and ${baseline2.rps.toFixed(0)} req/s (second/first ${drift.toFixed(2)}), mean ${baseRps.toFixed(0)} req/s`,
      ...(basePerCpu === undefined
        ? []
        : [`  per server+redis CPU-second (ratios less sensitive to a busy machine): ${measured.map((m) => `${m.label} ${((perCpuSecond(m) ?? NaN) / basePerCpu).toFixed(3)}`).join(', ')}`]),
      ...(Math.abs(drift - 1) > maxDrift
        ? [`  ⚠ the baseline moved by ${(100 * Math.abs(drift - 1)).toFixed(0)}% between its runs: the machine was not quiet (see "others"); take the ratios as rough`]
        : []),
      '',
      '| benchmark | service | baseline | ratio | p99 |',
      '| --- | --- | --- | --- | --- |',
      ...measured.map((m) => {
        const flag = m.problems.length > 0 ? ` ⚠ ${m.problems.join('; ')}` : '';
        return `| ${m.label}, ${load.connections} connections | ${m.rps.toFixed(0)} req/s${flag} | ${baseRps.toFixed(0)} req/s (bare Hono GET /health; runs ${baseline1.rps.toFixed(0)} / ${baseline2.rps.toFixed(0)}) | ${(m.rps / baseRps).toFixed(3)} | ${m.p99Ms.toFixed(0)} ms (baseline ${baseP99.toFixed(0)} ms) |`;
      }),
      '',
    ];
    for (const m of broken) {
      lines.push(`HTTP BENCH FAILED: ${m.label}: ${m.problems.join('; ')} (more than ${100 * maxBadShare}% bad answers: its figures mean nothing)`);
    }
    const report = lines.join('\n');
    process.stdout.write(`${report}\n`);
    return { ok: broken.length === 0, report };
  } catch (err) {
    kept = true;
    process.stderr.write(`http bench: logs kept in ${dir}\n`);
    throw err;
  } finally {
    await release();
    if (redis.status === 'ready') {
      await deleteKeys(redis, `{${prefix}}`).catch((err: unknown) => process.stderr.write(`http bench: could not delete the service's keys: ${String(err)}\n`));
    }
    redis.disconnect();
    if (!kept) {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { ok } = await httpBench();
  process.exit(ok ? 0 : 1);
}
