/**
 * Execution ingest: records through the real route (`app.request` in process: authentication,
 * body limit, parsing, validation, redaction of the free-text fields, the user-id HMAC, the audit
 * entry, the store's Lua call) in batches of 1,000, against raw pipelined XADDs of the same
 * records' JSON in the same run. Goals: at least 20,000 records/s, and at least half the raw rate.
 */
import { randomBytes } from 'node:crypto';
import { makeTestApp, tokens } from '../test/helpers/app.js';
import { createRedis, waitReady } from '../src/redis.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const total = Number(process.env.BENCH_INGEST_RECORDS ?? 50_000);
const batch = 1_000;
const goalRate = 20_000;
const goalRatio = 0.5;

/** A batch as an agent sends it: a tenth of the records failed, with an e-mail address in the message. */
function makeBatch(tag: string, start: number): Record<string, unknown>[] {
  const now = Date.now();
  return Array.from({ length: batch }, (_, i) => {
    const n = start + i;
    const failed = n % 10 === 0;
    return {
      executionId: `${tag}-${n}`,
      timestamp: now - (n % 3_600_000),
      operation: 'llm.summarize',
      status: failed ? 'error' : 'success',
      latencyMs: 120 + (n % 500),
      correlationId: `corr-${n % 97}`,
      context: { userId: `user-${n % 1_000}`, taskType: 'summary', complexity: 'medium', metadata: { model: 'claude', tokens: 812, cached: false, region: 'eu-central-1' } },
      ...(failed ? { error: { type: 'ThrottlingException', message: `quota reached for user-${n % 1_000}@example.com`, code: 'E429', stack: 'ThrottlingException: quota reached\n    at invoke (bedrock.ts:42)' } } : {}),
      performance: { memoryUsage: 1_024_000, cpuUsage: 0.3, networkLatency: 12 },
    };
  });
}

export async function ingestBench(): Promise<{ ok: boolean }> {
  const t = await makeTestApp(`bench-ingest-${randomBytes(3).toString('hex')}`, { redisUrl: url });
  const raw = createRedis(url, 'client');
  await waitReady(raw);
  const rawKey = `{bench-ingest-raw-${randomBytes(3).toString('hex')}}:executions`;
  const rounds = Math.max(1, Math.ceil(total / batch));
  const bodies = Array.from({ length: rounds + 1 }, (_, r) => JSON.stringify(makeBatch('svc', r * batch)));
  const rawBatches = Array.from({ length: rounds + 1 }, (_, r) => makeBatch('raw', r * batch).map((rec) => JSON.stringify(rec)));
  const headers = { authorization: `Bearer ${tokens.ingest}`, 'content-type': 'application/json' };
  const post = async (body: string) => {
    const res = await t.app.request('/admin/bedrock-support/meta-monitor/executions', { method: 'POST', headers, body });
    const answer = (await res.json()) as { accepted?: number };
    if (res.status !== 200 || answer.accepted !== batch) {
      throw new Error(`ingest answered ${res.status}: ${JSON.stringify(answer).slice(0, 300)}`);
    }
  };
  const xadds = async (records: string[]) => {
    const p = raw.pipeline();
    for (const json of records) {
      p.xadd(rawKey, '*', 'json', json);
    }
    await p.exec();
  };
  try {
    // Warm both up with the extra batch, then alternate so drift affects both sides alike.
    await post(bodies[rounds] as string);
    await xadds(rawBatches[rounds] as string[]);
    let serviceMs = 0;
    let rawMs = 0;
    for (let r = 0; r < rounds; r++) {
      let t0 = performance.now();
      await post(bodies[r] as string);
      serviceMs += performance.now() - t0;
      t0 = performance.now();
      await xadds(rawBatches[r] as string[]);
      rawMs += performance.now() - t0;
    }
    const service = (rounds * batch) / (serviceMs / 1000);
    const bare = (rounds * batch) / (rawMs / 1000);
    const ratio = service / bare;
    const ok = service >= goalRate && ratio >= goalRatio;
    console.table([
      {
        benchmark: `execution ingest, ${rounds * batch} records in batches of ${batch}`,
        service: `${service.toFixed(0)} records/s`,
        baseline: `${bare.toFixed(0)} records/s (pipelined XADD)`,
        ratio: ratio.toFixed(2),
        goal: `>= ${goalRate} records/s and >= ${goalRatio}x: ${ok ? 'met' : 'MISSED'}`,
      },
    ]);
    return { ok };
  } finally {
    await raw.del(rawKey);
    raw.disconnect();
    await t.close();
  }
}
