/**
 * The meta-monitor's analysis of 1,000,000 executions (planted: three failure templates, a slow
 * operation, one in ten failing), against only reading the same records from Redis through the
 * store's own window (paged ZRANGE and the record check) in the same run. The analysis is the real
 * job handler: the read, the sketches, the template miner over the failures, the recommendations,
 * the narrative from the local writer. Goal: at most 2x the read. Peak memory is the job's own
 * sample of the heap and RSS during the pass.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config.js';
import { hmacPseudonymizer, prepareRecord } from '../src/domain/meta-monitor/executions.js';
import { analyzeExecutionsJob } from '../src/jobs/meta-monitor/analyze-executions.job.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedis, waitReady } from '../src/redis.js';
import { composeAdapters } from '../src/runtime/compose.js';
import { createControlChannel } from '../src/store/control-channel.js';
import { plantedRecord, seeded } from '../test/helpers/executions.js';
import { deleteKeys } from './processes.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const total = Number(process.env.BENCH_ANALYSIS_RECORDS ?? 1_000_000);
const goalRatio = 2;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export async function analysisBench(): Promise<{ ok: boolean }> {
  const prefix = `bench-analysis-${randomBytes(3).toString('hex')}`;
  const config = loadConfig({ REDIS_URL: url, BSM_PREFIX: prefix });
  const redis = createRedis(url, 'client');
  await waitReady(redis);
  const adapters = composeAdapters({ config, redis, prefix: `{${prefix}}`, logger: createLogger('silent'), control: createControlChannel(redis, null, `{${prefix}}`) });
  const to = Date.now() - 1_000;
  const from = to - 86_400_000;
  try {
    // Load: records spread over the last 24 hours, through the store (ingest is measured on its own).
    const started = performance.now();
    const pseudonymize = hmacPseudonymizer('bench-key');
    const r = seeded(42);
    const chunk = 5_000;
    for (let start = 0; start < total; start += chunk) {
      const batch = [];
      for (let i = start; i < Math.min(total, start + chunk); i++) {
        const p = plantedRecord(r, i, from + Math.floor((i / total) * (to - from)), { degradedMs: 300, idPrefix: 'bench' });
        batch.push(prepareRecord(p, pseudonymize));
      }
      await adapters.executions.add(batch);
    }
    process.stdout.write(`analysis: ${total} records loaded in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

    const read = async () => {
      const t0 = performance.now();
      let n = 0;
      for await (const rec of adapters.executions.window(new Date(from), new Date(to))) {
        n += rec.latencyMs >= 0 ? 1 : 0;
      }
      return { ms: performance.now() - t0, n };
    };
    const analyze = async () => {
      const t0 = performance.now();
      const job = { id: `analysis-bench-${randomBytes(3).toString('hex')}`, name: 'analyze-executions', data: analyzeExecutionsJob.payload.parse({ from: new Date(from).toISOString(), to: new Date(to).toISOString(), source: 'agent', focus: 'all' }), timestamp: Date.now(), attemptsMade: 0, updateProgress: () => Promise.resolve() };
      const result = await analyzeExecutionsJob.handler(job, { signal: new AbortController().signal, log: createLogger('silent') }, adapters.jobDeps);
      return { ms: performance.now() - t0, result: analyzeExecutionsJob.result.parse(result) };
    };
    // Read, analyse, read again: the read's time is the faster of the two (the one with warm caches).
    const read1 = await read();
    const analysis = await analyze();
    const read2 = await read();
    const readMs = Math.min(read1.ms, read2.ms);
    const ratio = analysis.ms / readMs;
    const res = analysis.result;
    const ok = read1.n === total && res.executions === total && ratio <= goalRatio;
    console.table([
      {
        benchmark: `analysis of ${total} executions (24 h window)`,
        service: `${(analysis.ms / 1000).toFixed(2)} s (${Math.round(total / (analysis.ms / 1000))} records/s), peak heap ${mb(res.performance.peakHeapBytes)}, peak RSS ${mb(res.performance.peakRssBytes)}`,
        baseline: `${(readMs / 1000).toFixed(2)} s to read them (${Math.round(total / (readMs / 1000))} records/s)`,
        ratio: ratio.toFixed(2),
        goal: `<= ${goalRatio}x the read: ${ok ? 'met' : 'MISSED'}`,
      },
    ]);
    process.stdout.write(`analysis: ${res.clusters.length} clusters, ${res.bottlenecks.length} bottlenecks, health score ${res.healthScore.score}, p95 ${res.latencyMs.p95} ms\n`);
    return { ok };
  } finally {
    await deleteKeys(redis, `{${prefix}}`);
    await adapters.close();
    redis.disconnect();
  }
}
