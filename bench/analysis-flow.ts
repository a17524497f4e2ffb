/**
 * The meta-monitor's analysis of N executions (BENCH_FLOW_RECORDS, default 1,000,000; planted as
 * in bench/analysis.ts, over 24 hours) by one worker process, then as a BullMQ flow of four parts
 * (BSM_ANALYSIS_PARTS=4) taken by four worker processes, in the same run against the same Redis:
 * the time from enqueuing the analysis job to its result, and whether the results agree (counts
 * and clusters exactly, percentiles within the sketch's 1 %). Worker processes are the project's
 * runner with the service's adapters (bench/analysis-flow-worker.ts). The machine's cores and
 * load average are printed beside the figures: four workers gain at most what free cores give.
 */
import { randomBytes } from 'node:crypto';
import { readFile, mkdtemp } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.js';
import { hmacPseudonymizer, prepareRecord } from '../src/domain/meta-monitor/executions.js';
import { analysisResultSchema, type AnalysisResult } from '../src/jobs/meta-monitor/analyze-executions.job.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedis, waitReady as redisReady } from '../src/redis.js';
import { composeAdapters } from '../src/runtime/compose.js';
import { createControlChannel } from '../src/store/control-channel.js';
import { plantedRecord, seeded } from '../test/helpers/executions.js';
import { deleteKeys, sleep, startChild, waitReady, type Child } from './processes.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const total = Number(process.env.BENCH_FLOW_RECORDS ?? 1_000_000);
const parts = 4;

export async function analysisFlowBench(): Promise<{ ok: boolean }> {
  const prefix = `bench-flow-${randomBytes(3).toString('hex')}`;
  const config = loadConfig({ REDIS_URL: url, BSM_PREFIX: prefix });
  const redis = createRedis(url, 'client');
  await redisReady(redis);
  const adapters = composeAdapters({ config, redis, prefix: `{${prefix}}`, logger: createLogger('silent'), control: createControlChannel(redis, null, `{${prefix}}`) });
  const dir = await mkdtemp(join(tmpdir(), 'bench-flow-'));
  const to = Date.now() - 1_000;
  const from = to - 86_400_000;
  const children: Child[] = [];
  const startWorkers = async (n: number, analysisParts: number) => {
    for (let i = 0; i < n; i++) {
      const log = join(dir, `worker-${analysisParts}-${i}.log`);
      const child = startChild(`worker ${i}`, ['--import', 'tsx', 'bench/analysis-flow-worker.ts'], { REDIS_URL: url, BSM_PREFIX: prefix, BSM_ANALYSIS_PARTS: String(analysisParts) }, log);
      children.push(child);
      await waitReady(child, `analysis worker ${i}`, async () => (await readFile(log, 'utf8').catch(() => '')).includes('ready'));
    }
  };
  const stopWorkers = async () => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
  };
  const analyse = async (label: string): Promise<{ ms: number; result: AnalysisResult; load: number[] }> => {
    const id = `analysis-bench-${label}-${randomBytes(3).toString('hex')}`;
    const t0 = performance.now();
    await adapters.fleet.add('meta-monitor', 'analyze-executions', { from: new Date(from).toISOString(), to: new Date(to).toISOString(), source: 'agent', focus: 'all' }, { jobId: id });
    const queue = adapters.fleet.queue('meta-monitor');
    for (;;) {
      const job = await queue.getJob(id);
      const state = await job?.getState();
      if (state === 'completed') {
        return { ms: performance.now() - t0, result: analysisResultSchema.parse(job?.returnvalue), load: loadavg() };
      }
      if (state === 'failed') {
        throw new Error(`analysis ${label} failed: ${job?.failedReason}`);
      }
      await sleep(50);
    }
  };
  try {
    const started = performance.now();
    const pseudonymize = hmacPseudonymizer('bench-key');
    const r = seeded(42);
    for (let start = 0; start < total; start += 5_000) {
      const batch = [];
      for (let i = start; i < Math.min(total, start + 5_000); i++) {
        batch.push(prepareRecord(plantedRecord(r, i, from + Math.floor((i / total) * (to - from)), { degradedMs: 300, idPrefix: 'bench' }), pseudonymize));
      }
      await adapters.executions.add(batch);
    }
    process.stdout.write(`analysis-flow: ${total} records loaded in ${((performance.now() - started) / 1000).toFixed(1)} s; ${cpus().length} cores\n`);

    await startWorkers(1, 1);
    const single = await analyse('single');
    await stopWorkers();
    await startWorkers(parts, parts);
    const flow = await analyse('flow');
    await stopWorkers();

    const a = single.result;
    const b = flow.result;
    const clusters = (x: AnalysisResult) => JSON.stringify(x.clusters.map((c) => [c.id, c.count]));
    const within = (p: number | null, q: number | null) => p !== null && q !== null && Math.abs(p - q) <= a.quantileRelativeError * Math.max(p, q) + 0.1;
    const percentiles = (['p50', 'p90', 'p95', 'p99', 'max'] as const).every((k) => within(a.latencyMs[k], b.latencyMs[k]));
    const agree = a.executions === total && b.executions === a.executions && JSON.stringify(a.statuses) === JSON.stringify(b.statuses) && clusters(a) === clusters(b) && percentiles && b.performance.parts === parts;
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' / ');
    console.table([
      {
        benchmark: `analysis of ${total} executions (24 h window), enqueue to result`,
        'one worker': `${(single.ms / 1000).toFixed(2)} s (load avg ${load(single.load)})`,
        [`${parts} workers, flow of ${parts} parts`]: `${(flow.ms / 1000).toFixed(2)} s (load avg ${load(flow.load)})`,
        speedup: (single.ms / flow.ms).toFixed(2),
        agreement: agree ? 'counts, statuses, clusters equal; percentiles within 1 %' : 'DIFFER',
      },
    ]);
    process.stdout.write(`analysis-flow: single ${a.clusters.length} clusters p95 ${a.latencyMs.p95} ms; flow ${b.clusters.length} clusters p95 ${b.latencyMs.p95} ms; ${cpus().length} cores\n`);
    return { ok: agree };
  } finally {
    await stopWorkers();
    await adapters.fleet.close();
    await deleteKeys(redis, `{${prefix}}`);
    redis.disconnect();
  }
}
