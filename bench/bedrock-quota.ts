/**
 * Bedrock under a quota: how much of a request quota the service turns into answered calls, and
 * whether any job fails on the way.
 *
 * - Bedrock: the Converse fake (test/fakes/bedrock-fake.ts) in this process, answering after
 *   BENCH_QUOTA_LATENCY_MS (50) with a quota of BENCH_QUOTA_RPS (20, whole) requests per second, a token
 *   bucket of BENCH_QUOTA_BURST (default: one second's worth) that starts full; past it, 429
 *   ThrottlingException at once, without Retry-After, as Bedrock answers.
 * - Service: the compiled program (bench/dist.ts), `node dist/main.js worker --queues
 *   infrastructure-auditor`, on the REDIS_URL this bench was given, with the direct path on and
 *   the SDK pointed at the fake (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, fake credentials, no AWS files
 *   of this machine read).
 * - Work: support mode enabled, then BENCH_QUOTA_JOBS (500) `audit` jobs (targeted; their LLM
 *   narrative is operation `infrastructure`, direct path first) added at once, along the shipped
 *   path: queue -> worker -> job handler -> router -> Bedrock provider -> HTTP/2 -> the fake.
 * - Two ways to configure the service for the quota, each run on a fresh fake and key prefix:
 *   the queue's rate limit at the quota (BSM_INFRASTRUCTURE_AUDITOR_RATE_MAX = the quota per
 *   RATE_DURATION_MS = 1000), and no effective rate limit, so that only the back-off after a 429
 *   holds the queue (BSM_LLM_THROTTLE_BACKOFF_MS, the whole queue waits). Both with concurrency 4
 *   (enough for the quota at this latency) and the default back-off (1000 ms, the quota's refill
 *   time, doubling while throttles come in a row).
 *   BSM_* variables set for the bench are passed to the service over both.
 *
 * Reported per way: answered Converse calls per second against the quota, over the quota time the
 * run used (see {@link quotaUsed}), which must be at least 0.95 of it; failed jobs (must be 0) and
 * jobs not answered by Bedrock (must be 0); the 429s the fake answered; job latency p50/p99, from
 * enqueue to finish and from the job's last start to finish.
 *
 * Run alone with `npm run bench -- bedrock-quota` (a throwaway Redis is started); `npm run bench`
 * runs it with the others.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Job } from 'bullmq';
import { keyPrefix, loadConfig, queueEnvName } from '../src/config.js';
import { percentile } from '../src/domain/stats.js';
import { auditJob } from '../src/jobs/infrastructure-auditor/audit.job.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedis, waitReady as redisReady } from '../src/redis.js';
import { composeAdapters } from '../src/runtime/compose.js';
import { createControlChannel } from '../src/store/control-channel.js';
import { startBedrockFake } from '../test/fakes/bedrock-fake.js';
import { buildDist, type Dist } from './dist.js';
import { deleteKeys, killAll, machineBusySeconds, positiveNumber, processCpuSeconds, redisCpuSeconds, sleep, startChild, waitReady, type Child } from './processes.js';

/** The goal: the share of the quota turned into answered calls. */
const minQuotaShare = 0.95;
const queue = 'infrastructure-auditor';

const ms = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(0)} ms`);

/**
 * The quota time a run used, replaying the fake's token bucket over the admitted requests' arrival
 * times (ms): from the first request until the bucket is full again after the last, and how many
 * requests' worth of refill went to waste meanwhile (the bucket was full and nothing came). The
 * answered calls over that time, against the rate, are the share of the quota used: a full bucket
 * at the start and an unfinished last second neither flatter nor penalise it
 * (answered = rate x seconds - wasted, tokens being conserved).
 */
function quotaUsed(admittedAt: readonly number[], perSecond: number, burst: number): { seconds: number; wasted: number } {
  const times = [...admittedAt].sort((a, b) => a - b);
  const first = times[0] ?? 0;
  let tokens = burst;
  let at = first;
  let wasted = 0;
  for (const t of times) {
    const refilled = tokens + ((t - at) * perSecond) / 1000;
    wasted += Math.max(0, refilled - burst);
    tokens = Math.min(burst, refilled) - 1;
    at = t;
  }
  const refilledAt = at + ((burst - tokens) / perSecond) * 1000;
  return { seconds: (refilledAt - first) / 1000, wasted };
}

interface Quota {
  jobs: number;
  rps: number;
  burst: number;
  latencyMs: number;
}

interface Scenario {
  label: string;
  /** Settings of the service for this way (BSM_* of the bench's environment go over them). */
  settings: Record<string, string>;
}

interface ScenarioResult {
  ok: boolean;
  lines: string[];
  row: string;
}

/** One way: a fresh fake and prefix, the service started, the jobs run, the figures read. */
async function runScenario(scenario: Scenario, quota: Quota, dist: Dist, redisUrl: string, dir: string): Promise<ScenarioResult> {
  const { jobs, rps, burst, latencyMs } = quota;
  const serviceSettings: Record<string, string> = { ...scenario.settings };
  const overridden: string[] = [];
  for (const [name, value] of Object.entries(process.env)) {
    if (name.startsWith('BSM_') && name !== 'BSM_PREFIX' && value !== undefined) {
      serviceSettings[name] = value;
      overridden.push(name);
    }
  }
  const label = overridden.length === 0 ? scenario.label : `${scenario.label}, with ${overridden.join(', ')} from the environment`;
  serviceSettings.BSM_PREFIX = `bench-quota-${randomBytes(4).toString('hex')}`;
  const settingsLine = Object.entries(serviceSettings)
    .filter(([name]) => name !== 'BSM_PREFIX')
    .map(([name, value]) => `${name}=${value}`)
    .join(' ');

  const fake = await startBedrockFake({ quota: { perSecond: rps, burst } });
  fake.setDefault({ kind: 'slow', delayMs: latencyMs, then: { kind: 'ok', text: 'The audit found nothing to act on.', usage: { inputTokens: 600, outputTokens: 40 } } });
  const config = loadConfig({ REDIS_URL: redisUrl, ...serviceSettings });
  const prefix = keyPrefix(config);
  const client = createRedis(redisUrl, 'client');
  const adapters = composeAdapters({ config, redis: client, prefix, logger: createLogger('silent'), control: createControlChannel(client, null, prefix) });
  let service: Child | undefined;
  try {
    await redisReady(client, 5_000).catch((err: unknown) => {
      throw new Error(`Redis at REDIS_URL does not answer: ${(err as Error).message}`);
    });
    await adapters.supportMode.execute({ type: 'enable', activate: true }, { by: 'bench', reason: 'Bedrock-quota benchmark' });
    process.stderr.write(`bedrock-quota bench: ${label}: ${settingsLine}\n`);
    service = startChild(
      `service (${label})`,
      [dist.main, 'worker', '--queues', queue],
      {
        REDIS_URL: redisUrl,
        ...serviceSettings,
        BSM_DATA_DIR: dir,
        LOG_LEVEL: 'info',
        BEDROCK_ENABLED: 'true',
        AWS_REGION: 'eu-central-1',
        AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url,
        // Credentials the SDK's default chain takes first, and no AWS files of this machine.
        AWS_ACCESS_KEY_ID: 'AKIDFAKEFORBENCH',
        AWS_SECRET_ACCESS_KEY: 'fake-secret',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_CONFIG_FILE: join(dir, 'no-aws-config'),
        AWS_SHARED_CREDENTIALS_FILE: join(dir, 'no-aws-credentials'),
      },
      join(dir, `service-${serviceSettings.BSM_PREFIX}.log`),
    );
    const q = adapters.fleet.queue(queue);
    await waitReady(service, `a worker of ${queue} was registered in Redis`, async () => (await q.getWorkers()).length > 0);

    const cpuAt = async (pid: number) => ({ service: await processCpuSeconds(pid), redis: await redisCpuSeconds(client), machine: await machineBusySeconds(), self: process.cpuUsage(), at: performance.now() });
    const cpu0 = await cpuAt(service.pid);
    const added: Job[] = [];
    for (let i = 0; i < jobs; i += 100) {
      const batch = Array.from({ length: Math.min(100, jobs - i) }, () => adapters.fleet.add(queue, 'audit', { type: 'targeted', targets: ['fleet-redis'], reason: 'bench' }));
      added.push(...(await Promise.all(batch)));
    }
    const limitSeconds = Math.max(60, (5 * jobs) / rps);
    const deadline = Date.now() + limitSeconds * 1000;
    process.stderr.write(`bedrock-quota bench: ${jobs} jobs added; at the quota they take about ${(jobs / rps).toFixed(0)} s\n`);
    for (;;) {
      const counts = await q.getJobCounts('completed', 'failed');
      if ((counts.completed ?? 0) + (counts.failed ?? 0) >= jobs) {
        break;
      }
      if (service.exit !== undefined) {
        throw new Error(`the service ended (${service.exit}) with ${counts.completed ?? 0} of ${jobs} jobs completed; its log: ${service.logPath}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`only ${counts.completed ?? 0} completed and ${counts.failed ?? 0} failed of ${jobs} jobs after ${limitSeconds.toFixed(0)} s; the fake answered ${fake.requests.length} requests`);
      }
      await sleep(100);
    }
    const cpu1 = await cpuAt(service.pid);
    process.stderr.write(`bedrock-quota bench: service stopped: ${await service.stop()}\n`);
    const wall = (cpu1.at - cpu0.at) / 1000;
    const share = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? 'n/a' : `${((100 * (b - a)) / wall).toFixed(0)}%`);
    const self = process.cpuUsage(cpu0.self);
    const cpuLine =
      `    cpu while the jobs ran (share of one core): service ${share(cpu0.service, cpu1.service)}, this process (fake and bench) ${((100 * (self.user + self.system)) / 1e6 / wall).toFixed(0)}%, ` +
      `redis ${share(cpu0.redis, cpu1.redis)}, the whole machine ${share(cpu0.machine, cpu1.machine)} of ${cpus().length * 100}% (other work on it slows the service)`;

    // What the fake saw.
    const converse = fake.requests.filter((r) => r.modelId !== undefined);
    const answered = converse.filter((r) => r.status === 200);
    const throttled = converse.filter((r) => r.status === 429).length;
    const otherStatuses = converse.length - answered.length - throttled;
    const firstArrival = Math.min(...converse.map((r) => r.receivedAt));
    const lastAnswer = Math.max(...answered.map((r) => r.answeredAt ?? r.receivedAt));
    const used = quotaUsed(
      answered.map((r) => r.receivedAt),
      rps,
      burst,
    );
    const achieved = answered.length / used.seconds;
    const quotaShare = achieved / rps;
    const perSecond: string[] = [];
    for (let s = 0; s * 1000 <= lastAnswer - firstArrival; s += 1) {
      const inSecond = converse.filter((r) => Math.floor((r.receivedAt - firstArrival) / 1000) === s);
      perSecond.push(`${inSecond.filter((r) => r.status === 200).length}/${inSecond.filter((r) => r.status === 429).length}`);
    }

    // What the jobs say.
    const finished = (await Promise.all(added.map((j) => q.getJob(j.id ?? '')))).filter((j): j is Job => j !== undefined);
    const failed = await q.getFailed(0, -1);
    const paths = finished.map((j) => auditJob.result.safeParse(j.returnvalue)).map((r) => (r.success ? (r.data.narrative?.path ?? 'none') : 'unreadable'));
    const notBedrock = paths.filter((p) => p !== 'direct').length;
    const enqueueToFinish = finished.map((j) => (j.finishedOn ?? NaN) - j.timestamp);
    const startToFinish = finished.map((j) => (j.finishedOn ?? NaN) - (j.processedOn ?? NaN));
    const startedAgain = finished.filter((j) => j.attemptsStarted > 1).length;
    const runSeconds = (Math.max(...finished.map((j) => j.finishedOn ?? NaN)) - Math.min(...finished.map((j) => j.timestamp))) / 1000;

    const problems: string[] = [];
    if (failed.length > 0) {
      problems.push(`${failed.length} jobs failed (first: ${failed[0]?.failedReason ?? ''})`);
    }
    if (notBedrock > 0) {
      problems.push(`${notBedrock} jobs were not answered by Bedrock (paths: ${[...new Set(paths.filter((p) => p !== 'direct'))].join(', ')})`);
    }
    if (finished.length !== jobs) {
      problems.push(`${jobs - finished.length} jobs could not be read back`);
    }
    if (otherStatuses > 0) {
      problems.push(`${otherStatuses} Converse requests answered neither 200 nor 429`);
    }
    if (!(quotaShare >= minQuotaShare)) {
      problems.push(`${quotaShare.toFixed(3)} of the quota used, below the goal of ${minQuotaShare}`);
    }
    const p = (values: number[], pct: number) => ms(percentile(values, pct));
    const lines = [
      `  ${label}: ${settingsLine}`,
      `    Converse requests ${converse.length}: answered ${answered.length}, throttled (429) ${throttled}, other ${otherStatuses}; answered/throttled per second from the first request: ${perSecond.join(' ')}`,
      `    achieved ${achieved.toFixed(2)} answered calls/s against ${rps}/s = ${quotaShare.toFixed(3)} of the quota, over the ${used.seconds.toFixed(2)} s of quota the run used ` +
        `(${used.wasted.toFixed(1)} requests' worth of refill lost to a full bucket meanwhile); first request to last answer: ${(answered.length / ((lastAnswer - firstArrival) / 1000)).toFixed(2)} calls/s`,
      `    jobs: ${finished.length} finished ${runSeconds.toFixed(2)} s after the first was added (${(finished.length / runSeconds).toFixed(2)} jobs/s); failed ${failed.length}; not answered by Bedrock ${notBedrock}; back to waiting after a 429 ${startedAgain}`,
      `    job latency: enqueue to finish p50 ${p(enqueueToFinish, 50)}, p99 ${p(enqueueToFinish, 99)} (all ${jobs} queued at once); last start to finish p50 ${p(startToFinish, 50)}, p99 ${p(startToFinish, 99)}`,
      cpuLine,
      ...problems.map((problem) => `    ⚠ ${problem}`),
    ];
    const row =
      `| Bedrock at ${rps} requests/s (burst ${burst}, ${latencyMs} ms), ${jobs} audit jobs, ${label} | ${achieved.toFixed(2)} answered calls/s | ${rps}/s (the quota) | ${quotaShare.toFixed(3)} | ` +
      `${failed.length} failed, ${notBedrock} not via Bedrock; ${throttled} × 429 | enqueue to finish ${p(enqueueToFinish, 50)} / ${p(enqueueToFinish, 99)}; start to finish ${p(startToFinish, 50)} / ${p(startToFinish, 99)} |`;
    return { ok: problems.length === 0, lines: problems.length === 0 ? lines : [...lines, `BEDROCK-QUOTA BENCH (${label}): ${problems.join('; ')}`], row };
  } finally {
    if (service) {
      await service.stop();
    }
    await fake.close();
    if (client.status === 'ready') {
      await adapters.close();
      await deleteKeys(client, prefix).catch((err: unknown) => process.stderr.write(`bedrock-quota bench: could not delete the keys of ${prefix}: ${String(err)}\n`));
    }
    client.disconnect();
  }
}

export interface QuotaBenchResult {
  ok: boolean;
  report: string;
}

export async function bedrockQuotaBench(): Promise<QuotaBenchResult> {
  const redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    throw new Error('REDIS_URL is not set: run the Bedrock-quota bench through scripts/with-redis.ts (npm run bench -- bedrock-quota)');
  }
  // Whole requests per second: the queue's limiter counts whole jobs per 1000 ms.
  const rps = Math.max(1, Math.round(positiveNumber('BENCH_QUOTA_RPS', 20)));
  const quota: Quota = {
    jobs: Math.round(positiveNumber('BENCH_QUOTA_JOBS', 500)),
    rps,
    burst: positiveNumber('BENCH_QUOTA_BURST', rps),
    latencyMs: positiveNumber('BENCH_QUOTA_LATENCY_MS', 50),
  };
  const common = { [queueEnvName(queue, 'CONCURRENCY')]: '4', [queueEnvName(queue, 'RATE_DURATION_MS')]: '1000' };
  const scenarios: Scenario[] = [
    { label: 'queue rate limit at the quota', settings: { ...common, [queueEnvName(queue, 'RATE_MAX')]: String(rps) } },
    { label: 'no queue rate limit, the default back-off on 429 (1 s, doubling in a row)', settings: { ...common, [queueEnvName(queue, 'RATE_MAX')]: '100000' } },
  ];
  const dist = await buildDist();
  const dir = await mkdtemp(join(tmpdir(), 'bench-quota-'));
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`bedrock-quota bench: ${signal}: stopping the service\n`);
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  process.stderr.write(`bedrock-quota bench: fake Bedrock of ${quota.rps} requests/s, burst ${quota.burst}, ${quota.latencyMs} ms per answer; logs in ${dir}\n`);

  let kept = false;
  try {
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios) {
      results.push(await runScenario(scenario, quota, dist, redisUrl, dir));
    }
    const report = [
      '',
      `Bedrock under a quota: ${quota.jobs} audit jobs (LLM narrative, direct path) through \`node dist/main.js worker\` against a Converse fake of ${quota.rps} requests/s (token bucket, burst ${quota.burst}, ${quota.latencyMs} ms per answer, 429 past it)`,
      ...results.flatMap((r) => r.lines),
      '',
      '| benchmark | service | limit | ratio | jobs | job latency p50 / p99 |',
      '| --- | --- | --- | --- | --- | --- |',
      ...results.map((r) => r.row),
      '',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    return { ok: results.every((r) => r.ok), report };
  } catch (err) {
    kept = true;
    process.stderr.write(`bedrock-quota bench: logs kept in ${dir}\n`);
    throw err;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    if (!kept) {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const { ok } = await bedrockQuotaBench();
  process.exit(ok ? 0 : 1);
}
