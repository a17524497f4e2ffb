import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hmacPseudonymizer, type ExecutionRecord } from '../../src/domain/meta-monitor/executions.js';
import { createLogger } from '../../src/observability/logger.js';
import { createExecutionStore } from '../../src/store/executions.store.js';
import { StoredDataError } from '../../src/store/parse.js';
import { makeTestApp, testHmacKey, type TestApp } from '../helpers/app.js';
import { dumpKeys } from '../helpers/redis.js';

const path = '/admin/bedrock-support/meta-monitor/executions';
const now = Date.now();

const record = (id: string, extra: Record<string, unknown> = {}) => ({ executionId: id, timestamp: now - 60_000, operation: 'analyze', status: 'success', latencyMs: 12, ...extra });

interface IngestAnswer {
  accepted: number;
  duplicates: number;
  rejected: { index: number; field: string; message: string }[];
}

describe('POST /admin/bedrock-support/meta-monitor/executions', () => {
  let t: TestApp;
  const logLines: string[] = [];

  beforeAll(async () => {
    t = await makeTestApp('executions', { logger: createLogger('debug', {}, { write: (l: string) => logLines.push(l) }) });
  });

  afterAll(async () => {
    await t.close();
  });

  const stored = async () => {
    const out: ExecutionRecord[] = [];
    for await (const r of t.adapters.executions.window(new Date(now - 86_400_000), new Date(now + 86_400_000))) {
      out.push(r);
    }
    return out;
  };

  it('stores the valid records of a mixed batch and names the invalid ones by index and field', async () => {
    const res = await t.call('POST', path, {
      role: 'ingest',
      body: [record('mixed-1'), record('mixed-2', { status: 'great' }), record('mixed-3'), record('mixed-4', { latencyMs: -1 }), { operation: 'x' }],
    });
    expect(res.status).toBe(207);
    const body = (await res.json()) as IngestAnswer;
    expect(body.accepted).toBe(2);
    expect(body.duplicates).toBe(0);
    expect(body.rejected.map((r) => [r.index, r.field])).toEqual([
      [1, 'status'],
      [3, 'latencyMs'],
      [4, 'executionId'],
    ]);
    const ids = (await stored()).map((r) => r.executionId);
    expect(ids).toEqual(expect.arrayContaining(['mixed-1', 'mixed-3']));
    expect(ids).not.toContain('mixed-2');
    expect(ids).not.toContain('mixed-4');
  });

  it('takes NDJSON, with ISO times', async () => {
    const lines = [record('nd-1', { timestamp: new Date(now - 5_000).toISOString() }), record('nd-2')].map((r) => JSON.stringify(r)).join('\n');
    const res = await t.call('POST', path, { role: 'ingest', rawBody: `${lines}\n`, headers: { 'content-type': 'application/x-ndjson' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ accepted: 2, duplicates: 0, rejected: [] });
    const nd1 = (await stored()).find((r) => r.executionId === 'nd-1');
    expect(nd1?.timestamp).toBe(now - 5_000);
  });

  it('counts a record seen before as a duplicate and does not store it twice', async () => {
    const first = (await (await t.call('POST', path, { role: 'ingest', body: [record('dup-1'), record('dup-2')] })).json()) as IngestAnswer;
    expect(first).toMatchObject({ accepted: 2, duplicates: 0 });
    const again = (await (await t.call('POST', path, { role: 'ingest', body: [record('dup-1'), record('dup-3'), record('dup-3')] })).json()) as IngestAnswer;
    expect(again).toMatchObject({ accepted: 1, duplicates: 2 });
    expect((await stored()).filter((r) => r.executionId === 'dup-1' || r.executionId === 'dup-3')).toHaveLength(2);
  });

  it('refuses a batch where every record is invalid with a 400 naming the first, and records nothing', async () => {
    const before = await t.auditTrail.length();
    const res = await t.call('POST', path, { role: 'ingest', body: [record('bad-1', { status: 'nope' }), record('bad-2', { operation: '' })] });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; details: { index: number; field: string } } };
    expect(body.error.details).toMatchObject({ index: 0, field: 'status' });
    expect(await t.auditTrail.length()).toBe(before);
  });

  it('accepts 5,000 records in one batch and refuses 5,001 naming the limit', async () => {
    const batch = Array.from({ length: 5_000 }, (_, i) => record(`big-${i}`, { timestamp: now - 3_600_000 * 3 + i }));
    const res = await t.call('POST', path, { role: 'ingest', body: batch });
    expect(res.status).toBe(200);
    expect(((await res.json()) as IngestAnswer).accepted).toBe(5_000);
    const over = await t.call('POST', path, { role: 'ingest', body: [...batch, record('big-5000')] });
    expect(over.status).toBe(400);
    expect(((await over.json()) as { error: { message: string } }).error.message).toContain('at most 5000 records');
  });

  it('keeps the 64 KB body limit on every other route', async () => {
    const big = JSON.stringify({ reason: 'x'.repeat(70 * 1024) });
    const res = await t.call('POST', '/admin/bedrock-support/activate', { rawBody: big, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    // The same size is well within the ingest route's limit.
    const batch = Array.from({ length: 300 }, (_, i) => record(`size-${i}`, { context: { taskType: 'y'.repeat(200) }, correlationId: 'c'.repeat(100) }));
    const body = JSON.stringify(batch);
    expect(body.length).toBeGreaterThan(70 * 1024);
    expect((await t.call('POST', path, { role: 'ingest', rawBody: body, headers: { 'content-type': 'application/json' } })).status).toBe(200);
  });

  it('lets ingest and admin post, refuses viewer and operator, and ingest elsewhere', async () => {
    expect((await t.call('POST', path, { role: 'admin', body: [record('role-admin')] })).status).toBe(200);
    expect((await t.call('POST', path, { role: 'viewer', body: [record('role-viewer')] })).status).toBe(403);
    expect((await t.call('POST', path, { role: 'operator', body: [record('role-operator')] })).status).toBe(403);
    expect((await t.call('POST', path, { role: null, body: [record('role-none')] })).status).toBe(401);
    expect((await t.call('GET', '/admin/bedrock-support/status', { role: 'ingest' })).status).toBe(403);
    expect((await t.call('POST', '/admin/bedrock-support/activate', { role: 'ingest', body: { components: ['all'] } })).status).toBe(403);
  });

  it('keeps no e-mail address or user id in Redis, the audit trail or the logs', async () => {
    const email = 'jane.doe@example.com';
    const userId = 'user-jane-4711';
    const batch = [
      record('pii-1', { status: 'error', error: { message: `mail to ${email} bounced`, stack: `Error: ${email}\n at x` }, context: { userId, metadata: { who: email, n: 3 } } }),
    ];
    const body = JSON.stringify(batch);
    const res = await t.call('POST', path, { role: 'ingest', rawBody: body, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    const redis = await dumpKeys(t.client, t.prefix);
    const entries = await t.auditTrail.range();
    const trail = JSON.stringify(entries);
    const logs = logLines.join('\n');
    for (const raw of [email, userId]) {
      expect(redis).not.toContain(raw);
      expect(trail).not.toContain(raw);
      expect(logs).not.toContain(raw);
    }
    const kept = (await stored()).find((r) => r.executionId === 'pii-1');
    expect(kept?.context?.userId).toBe(hmacPseudonymizer(testHmacKey)(userId));
    expect(kept?.error?.message).toBe('mail to [EMAIL_1] bounced');
    expect(kept?.context?.metadata).toEqual({ who: '[EMAIL_1]', n: 3 });
    // The batch is in the trail by its counts and its body's SHA-256.
    const ingest = entries.filter((e) => e.event?.action === 'meta-monitor.ingest').at(-1);
    expect(ingest?.event?.details).toMatchObject({ records: 1, valid: 1, sha256: createHash('sha256').update(body).digest('hex') });
  });

  it('deletes records with their bucket once the retention has passed', async () => {
    await t.call('POST', path, { role: 'ingest', body: [record('ttl-1')] });
    const keys = await t.client.keys(`${t.prefix}:executions:*`);
    expect(keys.length).toBeGreaterThan(0);
    const retention = t.config.BSM_EXECUTION_RETENTION_DAYS * 86_400;
    for (const key of keys) {
      const ttl = await t.client.ttl(key);
      expect(ttl, key).toBeGreaterThan(retention - 3_600 * 5);
      expect(ttl, key).toBeLessThanOrEqual(retention + 3_600);
    }
    // A record older than the retention is refused, not stored to expire at once.
    const old = await t.call('POST', path, { role: 'ingest', body: [record('too-old', { timestamp: now - (t.config.BSM_EXECUTION_RETENTION_DAYS + 1) * 86_400_000 })] });
    expect(old.status).toBe(400);
  });
});

describe('the execution store', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('executions-store', { env: { BSM_INGEST_BODY_LIMIT_BYTES: '100000' } });
  });

  it('refuses malformed bodies with a 4xx naming the problem, storing and recording nothing', async () => {
    const trailBefore = await t.auditTrail.length();
    const cases: { name: string; rawBody: string; type: string; status: number; message: string }[] = [
      { name: 'invalid JSON', rawBody: '[{"executionId": ', type: 'application/json', status: 400, message: 'body is not valid JSON' },
      { name: 'an object', rawBody: JSON.stringify(record('obj-1')), type: 'application/json', status: 400, message: 'the body is a JSON array of execution records' },
      { name: 'an empty array', rawBody: '[]', type: 'application/json', status: 400, message: 'the batch has no records' },
      { name: 'a bad NDJSON line', rawBody: `${JSON.stringify(record('nd-ok'))}\n{nope`, type: 'application/x-ndjson', status: 400, message: 'line 2 is not valid JSON' },
      { name: 'a form', rawBody: 'executionId=x', type: 'application/x-www-form-urlencoded', status: 415, message: 'send a JSON array with Content-Type: application/json, or NDJSON with Content-Type: application/x-ndjson' },
      { name: 'a body over BSM_INGEST_BODY_LIMIT_BYTES', rawBody: JSON.stringify([record('huge', { correlationId: 'x'.repeat(100_001) })]), type: 'application/json', status: 413, message: 'request body exceeds 100000 bytes' },
    ];
    for (const c of cases) {
      const res = await t.call('POST', path, { role: 'ingest', rawBody: c.rawBody, headers: { 'content-type': c.type } });
      expect(res.status, c.name).toBe(c.status);
      expect(((await res.json()) as { error: { message: string } }).error.message, c.name).toBe(c.message);
    }
    expect(await t.auditTrail.length()).toBe(trailBefore);
    expect(await t.client.keys(`${t.prefix}:executions:*`)).toEqual([]);
  });

  afterAll(async () => {
    await t.close();
  });

  it('reads a window back in time order across hour buckets, whatever order records came in', async () => {
    const store = createExecutionStore(t.client, t.prefix, { retentionDays: 1 });
    const base = Math.floor(now / 3_600_000) * 3_600_000 - 5 * 3_600_000;
    const times = [4.5, 0.2, 2.7, 0.1, 3.9, 1.5, 4.49].map((h) => base + Math.round(h * 3_600_000));
    const records = times.map((ts, i) => ({ executionId: `w-${i}`, timestamp: ts, operation: 'op', status: 'success' as const, latencyMs: 1 }));
    expect(await store.add(records)).toEqual({ accepted: 7, duplicates: 0 });
    const read: number[] = [];
    for await (const r of store.window(new Date(base + 0.15 * 3_600_000), new Date(base + 4.495 * 3_600_000))) {
      read.push(r.timestamp);
    }
    expect(read).toEqual([...times].filter((ts) => ts >= base + 0.15 * 3_600_000 && ts < base + 4.495 * 3_600_000).sort((a, b) => a - b));
    expect(read).toHaveLength(5);
  });

  const rec = (id: string, timestamp: number) => ({ executionId: id, timestamp, operation: 'op', status: 'success' as const, latencyMs: 1 });
  const readAll = async (store: ReturnType<typeof createExecutionStore>, from: number, to: number) => {
    const out: ExecutionRecord[] = [];
    for await (const r of store.window(new Date(from), new Date(to))) {
      out.push(r);
    }
    return out;
  };

  it('counts an executionId seen before as a duplicate whatever hour its time falls in, across batches and within one', async () => {
    const store = createExecutionStore(t.client, `${t.prefix}:dups`, { retentionDays: 1 });
    const hour = Math.floor(now / 3_600_000) * 3_600_000 - 3 * 3_600_000;
    expect(await store.add([rec('d-1', hour + 10), rec('d-2', hour + 20)])).toEqual({ accepted: 2, duplicates: 0 });
    // Again, in another hour, and within one batch in two hours: only d-3's first copy is new.
    expect(await store.add([rec('d-1', hour + 3_600_000 + 5), rec('d-3', hour + 2 * 3_600_000), rec('d-2', hour + 20), rec('d-3', hour + 30)])).toEqual({ accepted: 1, duplicates: 3 });
    expect(await store.add([rec('d-4', hour + 40), rec('d-4', hour + 40)])).toEqual({ accepted: 1, duplicates: 1 });
    const read = await readAll(store, hour, hour + 4 * 3_600_000);
    expect(read.map((r) => [r.executionId, r.timestamp])).toEqual([
      ['d-1', hour + 10],
      ['d-2', hour + 20],
      ['d-4', hour + 40],
      ['d-3', hour + 2 * 3_600_000],
    ]);
  });

  it('reads every record once, in time order, across pages of equal times, hour boundaries and late additions', async () => {
    const store = createExecutionStore(t.client, `${t.prefix}:pages`, { retentionDays: 1 });
    const start = Math.floor(now / 3_600_000) * 3_600_000 - 4 * 3_600_000;
    // 2,600 records at one time (more than two pages of ties), 1,500 spread over the next hours with
    // many equal times, and the last hour's first millisecond: added shuffled, in two calls, the later one late.
    const times = [...Array.from({ length: 2_600 }, () => start + 3_600_000 - 1), ...Array.from({ length: 1_500 }, (_, i) => start + 3_600_000 + Math.floor(i / 7) * 9_000), start + 3 * 3_600_000];
    const records = times.map((ts, i) => rec(`p-${i}`, ts));
    const shuffled = records.map((r, i) => ({ r, k: (i * 7_919) % records.length })).sort((a, b) => a.k - b.k).map((x) => x.r);
    expect(await store.add(shuffled.slice(0, 3_000))).toEqual({ accepted: 3_000, duplicates: 0 });
    expect(await store.add(shuffled.slice(3_000))).toEqual({ accepted: records.length - 3_000, duplicates: 0 });
    const read = await readAll(store, start, start + 4 * 3_600_000);
    expect(read).toHaveLength(records.length);
    expect(new Set(read.map((r) => r.executionId)).size).toBe(records.length);
    expect(read.map((r) => r.timestamp)).toEqual([...times].sort((a, b) => a - b));
    // A window that starts and ends inside the tie-heavy stretch.
    const inner = await readAll(store, start + 3_600_000 + 9_000, start + 3_600_000 + 90_000);
    expect(inner.map((r) => r.timestamp)).toEqual(times.filter((ts) => ts >= start + 3_600_000 + 9_000 && ts < start + 3_600_000 + 90_000).sort((a, b) => a - b));
    expect(inner.length).toBe(63);
  });

  it('refuses a corrupt or foreign stored record with a StoredDataError', async () => {
    const prefix = `${t.prefix}:corrupt`;
    const store = createExecutionStore(t.client, prefix, { retentionDays: 1 });
    const ts = now - 60_000;
    await store.add([rec('c-1', ts)]);
    const key = (await t.client.keys(`${prefix}:executions:20*`))[0] as string;
    await t.client.zadd(key, String(ts + 1), '{"executionId":"c-2","timestamp":"soon","operation":"op","status":"success","latencyMs":1}');
    await expect(readAll(store, ts - 1, ts + 10)).rejects.toThrow(new StoredDataError('a stored execution record does not parse: timestamp is not what the store writes'));
    await t.client.zadd(key, String(ts + 2), 'not json');
    await expect(readAll(store, ts + 2, ts + 3)).rejects.toBeInstanceOf(StoredDataError);
    // A record under a score that is not its time.
    await t.client.zadd(key, String(ts + 3), JSON.stringify(rec('c-3', ts - 3_600_000)));
    await expect(readAll(store, ts + 3, ts + 4)).rejects.toThrow('its timestamp is not the time it is stored under');
  });

  it('keeps ids only as long as their records: the index expires with them and forgets ids past the retention', async () => {
    const prefix = `${t.prefix}:index`;
    const store = createExecutionStore(t.client, prefix, { retentionDays: 0 });
    // Retention 0: a record of two hours ago is gone at once, and its id with it, so it can be sent again.
    expect(await store.add([rec('i-old', now - 2 * 3_600_000)])).toEqual({ accepted: 1, duplicates: 0 });
    expect(await store.add([rec('i-old', now - 2 * 3_600_000)])).toEqual({ accepted: 1, duplicates: 0 });
    // Nothing of the records remains; only the time the user index began (no record data) stays.
    expect(await t.client.keys(`${prefix}:*`)).toEqual([`${prefix}:meta:executions-user-index-since`]);
    await store.add([rec('i-now', now)]);
    expect(await store.add([rec('i-now', now)])).toEqual({ accepted: 0, duplicates: 1 });
    expect(await t.client.zrange(`${prefix}:executions:ids`, '0', '-1')).toEqual(['i-now']);
    // The index lives until the end of this hour, as the bucket does.
    const ttl = await t.client.ttl(`${prefix}:executions:ids`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(3_600);
    expect(await t.client.ttl(`${prefix}:executions:ids`)).toBe(await t.client.ttl((await t.client.keys(`${prefix}:executions:20*`))[0] as string));
  });

  it('really deletes: a bucket past its retention is gone from Redis', async () => {
    // Retention 0 days puts the expiry at the end of the record's hour; a record two hours old has expired already.
    const store = createExecutionStore(t.client, `${t.prefix}:gone`, { retentionDays: 0 });
    await store.add([{ executionId: 'gone-1', timestamp: now - 2 * 3_600_000, operation: 'op', status: 'success', latencyMs: 1 }]);
    expect(await t.client.keys(`${t.prefix}:gone:executions:*`)).toEqual([]);
    await store.add([{ executionId: 'kept-1', timestamp: now, operation: 'op', status: 'success', latencyMs: 1 }]);
    expect((await t.client.keys(`${t.prefix}:gone:executions:*`)).length).toBe(2);
  });
});
