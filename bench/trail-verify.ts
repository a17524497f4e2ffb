/**
 * Verification of a 1,000,000-entry audit trail (GET …/audit-trail/verify: completeness, every
 * hash and link, the newest signed checkpoints) against only reading the same entries from Redis
 * in the same pages (XRANGE COUNT 1000 through the store). Peak heap is sampled during the pass:
 * the verification holds one page and the entry before it, so it stays flat however long the
 * trail. Goals: peak heap under 128 MB above the heap before the pass; at most 4x the read.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chainEvent, genesisHash } from '../src/domain/audit-trail/chain.js';
import { createAuditTrailService } from '../src/domain/audit-trail/service.js';
import { generateSigningKeyPem, parseSigningKey } from '../src/domain/audit-trail/signing.js';
import { createRedis, waitReady } from '../src/redis.js';
import { archiveDestinations } from '../src/store/archive-sink.js';
import { createArchiveRegistry } from '../src/store/audit-archive.store.js';
import { createAuditTrail } from '../src/store/audit-trail.store.js';
import { deleteKeys } from './processes.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const total = Number(process.env.BENCH_TRAIL_ENTRIES ?? 1_000_000);
const goalRatio = 4;
const goalHeapMb = 128;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

export async function trailVerifyBench(): Promise<{ ok: boolean }> {
  const prefix = `{bench-trail-${randomBytes(3).toString('hex')}}`;
  const redis = createRedis(url, 'client');
  await waitReady(redis);
  const dir = await mkdtemp(join(tmpdir(), 'bsm-bench-trail-'));
  try {
    // Load: chained entries of a typical size (an HTTP request's entry), pipelined.
    const started = performance.now();
    const streamKey = `${prefix}:audit-trail`;
    let head = { seq: 0, hash: genesisHash };
    const chunk = 5_000;
    for (let start = 0; start < total; start += chunk) {
      const multi = redis.multi();
      for (let i = start; i < Math.min(total, start + chunk); i++) {
        const c = chainEvent({ actor: 'bench-key', action: 'http.request', target: 'POST /admin/bedrock-support/activate', details: { status: 200, requestId: randomBytes(16).toString('hex'), body: { components: ['all'], reason: 'bench' } } }, head, new Date());
        multi.xadd(streamKey, '*', 'json', c.json, 'hash', c.hash);
        head = { seq: c.event.seq, hash: c.hash };
      }
      await multi.exec();
    }
    await redis.hset(`${prefix}:audit-trail:head`, 'seq', head.seq, 'hash', head.hash);
    const trail = createAuditTrail(redis, prefix);
    const service = createAuditTrailService({
      trail,
      registry: createArchiveRegistry(redis, prefix),
      destinations: archiveDestinations([{ name: 'default', url: `file://${dir}` }]),
      signer: parseSigningKey(generateSigningKeyPem()),
      exclusive: (work) => work(),
      clock: () => new Date(),
    });
    // A signed checkpoint at the head: the verification compares with it at the end.
    await service.checkpoint('bench');
    process.stdout.write(`trail-verify: ${total} entries loaded in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

    const read = async () => {
      const t0 = performance.now();
      let n = 0;
      let start = '-';
      for (;;) {
        const page = await trail.range({ start, count: 1_000 });
        n += page.length;
        const last = page.at(-1);
        if (!last || page.length < 1_000) {
          break;
        }
        start = `(${last.id}`;
      }
      return { ms: performance.now() - t0, n };
    };
    const verify = async () => {
      global.gc?.();
      const base = process.memoryUsage().heapUsed;
      let peak = base;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }, 50);
      const t0 = performance.now();
      const report = await service.verify('all');
      const ms = performance.now() - t0;
      clearInterval(sampler);
      return { ms, report, base, peak: Math.max(peak, process.memoryUsage().heapUsed) };
    };
    const read1 = await read();
    const v = await verify();
    const read2 = await read();
    const readMs = Math.min(read1.ms, read2.ms);
    const ratio = v.ms / readMs;
    const growth = v.peak - v.base;
    const ok = read1.n === total + 1 && v.report.ok && v.report.entries === total + 1 && ratio <= goalRatio && growth < goalHeapMb * 1024 * 1024;
    console.table([
      {
        benchmark: `audit-trail verification of ${total} entries (completeness, hashes, links, checkpoints)`,
        service: `${(v.ms / 1000).toFixed(2)} s (${v.report.entriesPerSecond} entries/s), peak heap ${mb(v.peak)} (${mb(growth)} above the start)`,
        baseline: `${(readMs / 1000).toFixed(2)} s to read them in the same pages (${Math.round(read1.n / (readMs / 1000))} entries/s)`,
        ratio: ratio.toFixed(2),
        goal: `<= ${goalRatio}x the read, < ${goalHeapMb} MB heap growth: ${ok ? 'met' : 'MISSED'}`,
      },
    ]);
    if (!v.report.ok) {
      process.stdout.write(`trail-verify: the verification failed: ${JSON.stringify(v.report.firstProblem)}\n`);
    }
    return { ok };
  } finally {
    await deleteKeys(redis, prefix);
    redis.disconnect();
    await rm(dir, { recursive: true, force: true });
  }
}
