/**
 * Execution ingest: records through the real route (`app.request` in process: authentication,
 * body limit, parsing, validation, redaction of the free-text fields, the user-id HMAC, the audit
 * entry, the store's Lua call) in batches of 1,000, against raw pipelined XADDs of the same
 * records' JSON in the same run. Goals: at least 20,000 records/s, and at least half the raw rate.
 *
 * Then the read: the store's own `window()` (page by page, each record parsed and checked) over what
 * was ingested, topped up through the store to BENCH_READ_RECORDS records (default 200,000), read
 * three times. No goal of its own: the analysis benchmark compares itself against this rate.
 */
import { randomBytes } from 'node:crypto';
import { checkBatch, hmacPseudonymizer } from '../src/domain/meta-monitor/executions.js';
import { makeTestApp, testHmacKey, tokens } from '../test/helpers/app.js';
import { createRedis, waitReady } from '../src/redis.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const total = Number(process.env.BENCH_INGEST_RECORDS ?? 50_000);
const readTotal = Number(process.env.BENCH_READ_RECORDS ?? 200_000);
const batch = 1_000;
const goalRate = 20_000;
const goalRatio = 0.5;

/** A batch as an agent sends it: a tenth of the records failed, with an e-mail address in the message. */
export function makeBatch(tag: string, start: number, now = Date.now()): Record<string, unknown>[] {
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
    console.table(await readBench(t, rounds * batch + batch));
    return { ok };
  } finally {
    await raw.del(rawKey);
    raw.disconnect();
    await t.close();
  }
}

/** Tops the store up to `readTotal` records (through the store, not the route: this is about reading), then reads them back three times. */
async function readBench(t: Awaited<ReturnType<typeof makeTestApp>>, ingested: number): Promise<Record<string, string>[]> {
  const store = t.adapters.executions;
  const pseudonymize = hmacPseudonymizer(testHmacKey);
  const now = Date.now();
  for (let start = ingested; start < readTotal; start += batch) {
    const { records } = checkBatch(makeBatch('read', start, now), pseudonymize, { oldestMs: 0 });
    await store.add(records.slice(0, readTotal - start));
  }
  const from = new Date(now - 3_600_000);
  const to = new Date(Date.now() + 1);
  const rows: Record<string, string>[] = [];
  for (let run = 1; run <= 3; run++) {
    let n = 0;
    let latencySum = 0;
    const t0 = performance.now();
    for await (const r of store.window(from, to)) {
      n++;
      latencySum += r.latencyMs;
    }
    const seconds = (performance.now() - t0) / 1000;
    if (n < readTotal || !(latencySum > 0)) {
      throw new Error(`the read gave ${n} records, not the ${readTotal} stored`);
    }
    rows.push({ benchmark: `execution read, window() over ${n} records (run ${run})`, rate: `${(n / seconds).toFixed(0)} records/s`, time: `${(seconds * 1000).toFixed(0)} ms` });
  }
  return rows;
}
