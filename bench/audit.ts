/**
 * An audit of 200 HTTP targets on loopback, through the real auditor (inventory, probes with
 * their timeouts and concurrency, gap store on Redis, report), against a bare baseline in the
 * same run: the same 200 GETs with `node:http` at the same concurrency, nothing else. Goal: the
 * audit under 2 s (the runbook's budget is 30 s).
 */
import { randomBytes } from 'node:crypto';
import { request, createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { inventorySchema } from '../src/domain/audit/inventory.js';
import { runAudit } from '../src/domain/audit/run.js';
import { createProber } from '../src/probes/index.js';
import { createRedis, waitReady } from '../src/redis.js';
import { createGapStore } from '../src/store/gaps.store.js';
import { deleteKeys } from './processes.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const targets = Number(process.env.BENCH_AUDIT_TARGETS ?? 200);
const concurrency = 16;
const goalMs = 2_000;

function bareGets(urls: string[]): Promise<void> {
  let next = 0;
  const get = (u: string) =>
    new Promise<void>((resolve, reject) => {
      request(u, (res) => {
        res.resume();
        res.on('end', resolve);
      })
        .on('error', reject)
        .end();
    });
  return Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < urls.length) {
        await get(urls[next++] as string);
      }
    }),
  ).then(() => undefined);
}

export async function auditBench(): Promise<{ ok: boolean }> {
  // Every fifth route fails, so the audit records gaps as a real one would.
  const server = createServer((req, res) => {
    const n = Number(req.url?.slice(1));
    res.writeHead(n % 5 === 0 ? 503 : 200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const urls = Array.from({ length: targets }, (_, i) => `${base}/${i}`);
  const inventory = inventorySchema.parse({
    defaults: { timeoutMs: 5_000, concurrency },
    targets: urls.map((u, i) => ({ id: `web-${i}`, kind: 'http', component: 'web', criticality: 'high', url: u, expectJson: { status: 'ok' } })),
  });
  const redis = createRedis(url, 'client');
  await waitReady(redis);
  const prefix = `{bench-audit-${randomBytes(3).toString('hex')}}`;
  const gaps = createGapStore(redis, prefix);
  const prober = createProber({
    fleetReader: { snapshot: () => Promise.reject(new Error('no queue targets here')) },
    oldestWaitingAt: () => Promise.resolve(null),
    flag: () => Promise.resolve(false),
    llm: { pathStatus: () => Promise.resolve([]), ping: () => Promise.reject(new Error('no llm targets here')) },
    fleetRedis: redis,
    env: {},
    readFile: (p) => readFile(p),
  });
  const audit = async (n: number) => {
    const started = performance.now();
    const report = await runAudit(
      { auditId: `audit-bench-${n}`, type: 'comprehensive', trigger: { by: 'bench', reason: null, priority: 'medium' }, inventory: { version: 1, source: 'api', setBy: 'bench', setAt: new Date().toISOString(), inventory } },
      { prober, gaps, history: new Map(), previous: null, clock: () => new Date(), signal: new AbortController().signal },
    );
    return { ms: performance.now() - started, gaps: report.gaps.length };
  };
  const bare = async () => {
    const started = performance.now();
    await bareGets(urls);
    return performance.now() - started;
  };
  // Warm up both, then alternate, and take each side's median of five.
  await audit(0);
  await bare();
  const auditMs: number[] = [];
  const bareMs: number[] = [];
  let gapsFound = 0;
  for (let i = 1; i <= 5; i++) {
    const a = await audit(i);
    auditMs.push(a.ms);
    gapsFound = a.gaps;
    bareMs.push(await bare());
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
  const a = median(auditMs);
  const b = median(bareMs);
  server.close();
  await deleteKeys(redis, prefix);
  redis.disconnect();
  const ok = a < goalMs && gapsFound === targets / 5;
  console.table([
    {
      benchmark: `audit of ${targets} HTTP targets on loopback, concurrency ${concurrency} (median of 5)`,
      service: `${a.toFixed(0)} ms (${gapsFound} gaps)`,
      baseline: `${b.toFixed(0)} ms (the same GETs, bare node:http)`,
      ratio: (b / a).toFixed(2),
      goal: `< ${goalMs} ms: ${a < goalMs ? 'met' : 'MISSED'}`,
    },
  ]);
  return { ok };
}
