import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Redactor } from '../../src/domain/compliance/pii.js';
import { fastExecutionRecord, isStoredExecutionRecord, storedRecordFault } from '../../src/domain/meta-monitor/execution-check.js';
import { checkBatch, executionRecordSchema, hmacPseudonymizer, prepareRecord, type Rejection } from '../../src/domain/meta-monitor/executions.js';
import { loadOrCreateHmacKey } from '../../src/runtime/hmac-key.js';

const hmac = hmacPseudonymizer('k'.repeat(32));
const base = { executionId: 'e-1', timestamp: '2026-11-30T10:00:00.000Z', operation: 'analyze user jane@example.com', status: 'error' as const, latencyMs: 5 };

describe('prepareRecord', () => {
  it('redacts error message, stack and metadata strings, and replaces the user id by its HMAC', () => {
    const raw = executionRecordSchema.parse({
      ...base,
      context: { userId: 'u-42', taskType: 'summarize', metadata: { note: 'call +49 30 1234567', n: 1, ok: true } },
      error: { type: 'Boom', message: 'mail jane@example.com failed', stack: 'at jane@example.com', code: 'E1' },
    });
    const r = prepareRecord(raw, hmac);
    expect(r.timestamp).toBe(Date.parse(base.timestamp));
    expect(r.context?.userId).toBe(hmac('u-42'));
    expect(r.context?.userId).toMatch(/^[0-9a-f]{64}$/);
    expect(r.error).toEqual({ type: 'Boom', message: 'mail [EMAIL_1] failed', stack: 'at [EMAIL_1]', code: 'E1' });
    expect(r.context?.metadata).toEqual({ note: 'call [PHONE_1]', n: 1, ok: true });
    // Only the free-text fields are scanned: an operation name is kept as sent.
    expect(r.operation).toBe(base.operation);
    // The input is not changed.
    expect(raw.error?.message).toBe('mail jane@example.com failed');
  });

  it('gives the same user id the same HMAC, and another key another one', () => {
    expect(hmac('u-1')).toBe(hmac('u-1'));
    expect(hmac('u-1')).toBe(createHmac('sha256', 'k'.repeat(32)).update('u-1').digest('hex'));
    expect(hmacPseudonymizer(Buffer.from('ключ'))('ü')).toBe(createHmac('sha256', 'ключ').update('ü').digest('hex'));
    expect(hmac('u-1')).not.toBe(hmacPseudonymizer('x'.repeat(32))('u-1'));
  });
});

describe('checkBatch', () => {
  it('names each invalid record by index and field, without its value', () => {
    const { records, rejected } = checkBatch([base, { ...base, status: 'secret-value' }, { ...base, latencyMs: 'slow' }, { ...base, extra: 1 }, 'text'], hmac, { oldestMs: 0 });
    expect(records.map((r) => r.executionId)).toEqual(['e-1']);
    expect(rejected.map((r) => [r.index, r.field])).toEqual([
      [1, 'status'],
      [2, 'latencyMs'],
      [3, 'extra'],
      [4, '(record)'],
    ]);
    expect(JSON.stringify(rejected)).not.toContain('secret-value');
  });

  it('refuses a record older than the retention', () => {
    const { rejected } = checkBatch([{ ...base, timestamp: 1_000 }], hmac, { oldestMs: 2_000 });
    expect(rejected).toEqual([{ index: 0, field: 'timestamp', message: 'older than the retention of execution records' }]);
  });
});

/** Records zod takes, of every shape the schema allows. */
const valid: Record<string, unknown>[] = [
  base,
  { ...base, timestamp: 0 },
  { ...base, timestamp: 8.64e15, status: 'success', latencyMs: 0 },
  { ...base, timestamp: -0, latencyMs: 0.5 },
  { ...base, timestamp: '2026-11-30T10:00:00Z' },
  { ...base, timestamp: '2026-11-30T10:00:00.123+02:00' },
  { ...base, executionId: 'x'.repeat(200), operation: 'ü'.repeat(200), correlationId: 'c' },
  { ...base, context: {} },
  { ...base, context: { userId: 'u', taskType: 't', complexity: '', metadata: {} } },
  { ...base, context: { complexity: -3.5, metadata: { a: '', b: 0, c: true, d: false, ['k'.repeat(200)]: 'v'.repeat(4_000), 1: 'n' } } },
  { ...base, error: {} },
  { ...base, error: { type: '', message: '', code: '', stack: '' } },
  { ...base, error: { type: 't'.repeat(200), message: 'm'.repeat(8_000), code: 429, stack: 's'.repeat(32_000) } },
  { ...base, performance: {} },
  { ...base, performance: { memoryUsage: -1, cpuUsage: 1e300, networkLatency: 0 } },
  { ...base, context: { model: 'anthropic.claude-3-sonnet' }, performance: { inputTokens: 0, outputTokens: 812 } },
  { status: 'timeout', latencyMs: 1, operation: 'o', timestamp: 5, executionId: 'reordered', correlationId: 'x', performance: { cpuUsage: 1 } },
  JSON.parse('{"executionId":"j","timestamp":1,"operation":"o","status":"failure","latencyMs":2,"context":{"metadata":{"constructor":"c","toString":1}}}') as Record<string, unknown>,
];

/** Values zod refuses, or (nested unknown fields, an `undefined` value) takes in a way the fast check leaves to it. */
const invalid: unknown[] = [
  null,
  'text',
  3,
  [],
  [base],
  new Date(),
  Object.assign(Object.create({ executionId: 'inherited' }) as object, { ...base }),
  { ...base, executionId: '' },
  { ...base, executionId: 'x'.repeat(201) },
  { ...base, executionId: 7 },
  { ...base, operation: undefined },
  { ...base, status: 'secret-value' },
  { ...base, status: 'Success' },
  { ...base, latencyMs: -1 },
  { ...base, latencyMs: Number.NaN },
  { ...base, latencyMs: Number.POSITIVE_INFINITY },
  { ...base, latencyMs: '5' },
  { ...base, timestamp: 1.5 },
  { ...base, timestamp: -1 },
  { ...base, timestamp: 8.64e15 + 1 },
  { ...base, timestamp: '2026-11-30' },
  { ...base, timestamp: '2026-11-30T10:00:00' },
  { ...base, timestamp: 'yesterday' },
  { ...base, timestamp: null },
  { ...base, correlationId: '' },
  { ...base, correlationId: undefined },
  { ...base, extra: 1 },
  JSON.parse('{"executionId":"p","timestamp":1,"operation":"o","status":"error","latencyMs":1,"__proto__":{"x":1}}') as unknown,
  { ...base, context: null },
  { ...base, context: [] },
  { ...base, context: { userId: '' } },
  { ...base, context: { userId: 5 } },
  { ...base, context: { taskType: 't'.repeat(201) } },
  { ...base, context: { complexity: 'c'.repeat(201) } },
  { ...base, context: { complexity: true } },
  { ...base, context: { unknown: 1 } },
  { ...base, context: { metadata: null } },
  { ...base, context: { metadata: { a: null } } },
  { ...base, context: { metadata: { a: { nested: 1 } } } },
  { ...base, context: { metadata: { a: 'v'.repeat(4_001) } } },
  { ...base, context: { metadata: { ['k'.repeat(201)]: 1 } } },
  { ...base, context: { metadata: { a: Number.NaN } } },
  { ...base, context: { metadata: { a: [1] } } },
  JSON.parse('{"executionId":"p","timestamp":1,"operation":"o","status":"error","latencyMs":1,"context":{"metadata":{"__proto__":"x"}}}') as unknown,
  { ...base, error: 'boom' },
  { ...base, error: { message: 'm'.repeat(8_001) } },
  { ...base, error: { stack: 's'.repeat(32_001) } },
  { ...base, error: { code: true } },
  { ...base, error: { type: 't'.repeat(201) } },
  { ...base, error: { unknown: 'x' } },
  { ...base, performance: { memoryUsage: '1' } },
  { ...base, performance: { gpu: 1 } },
  { ...base, performance: { inputTokens: -1 } },
  { ...base, performance: { outputTokens: 2.5 } },
  { ...base, context: { model: '' } },
  { ...base, performance: null },
];

/** A small seeded generator (mulberry32), so a failing case can be replayed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const statuses = ['success', 'failure', 'timeout', 'error'] as const;

/** A record whose every field is drawn from valid values and near misses, some left out, some added, in any order. */
function arbitraryRecord(next: () => number): unknown {
  const pick = <T>(options: readonly T[]): T => options[Math.floor(next() * options.length)] as T;
  const anything: unknown[] = ['', 'a', 'x'.repeat(201), 'y'.repeat(4_001), 0, -1, 1.5, 8.64e15 + 2, Number.NaN, Number.POSITIVE_INFINITY, true, null, undefined, [], {}, '2026-11-30'];
  const sometimes = (value: unknown) => (next() < 0.93 ? value : pick(anything));
  const object = (entries: [string, () => unknown][], keep: number): Record<string, unknown> => {
    const out: [string, unknown][] = entries.filter(() => next() < keep).map(([k, f]) => [k, sometimes(f())]);
    if (next() < 0.03) {
      out.push(['unknownField', 1]);
    }
    // Field order varies, as agents send them.
    return Object.fromEntries(out.sort(() => next() - 0.5));
  };
  const metadata = () => Object.fromEntries(Array.from({ length: Math.floor(next() * 4) }, (_, i) => [pick(['k', `k${i}`, 'z'.repeat(200), 'z'.repeat(201)]), sometimes(pick(['v', 1, false, 'y'.repeat(4_000), 'jane@example.com']))]));
  return object(
    [
      ['executionId', () => pick(['e', 'x'.repeat(200), `id-${Math.floor(next() * 50)}`])],
      ['timestamp', () => pick([0, 1_764_000_000_000, '2026-11-30T10:00:00.5-03:00', '2026-11-30T10:00:00Z', 8.64e15])],
      ['operation', () => 'op'],
      ['status', () => pick(statuses)],
      ['latencyMs', () => pick([0, 3.25, 1e9])],
      ['correlationId', () => 'c'],
      ['context', () => object([['userId', () => pick(['u-1', 'u-2'])], ['taskType', () => 't'], ['model', () => pick(['m', '', 'claude-3'])], ['complexity', () => pick(['', 'high', 3])], ['metadata', metadata]], 0.5)],
      ['error', () => object([['type', () => 'T'], ['message', () => pick(['m', 'call +49 30 1234567', 'm'.repeat(8_000)])], ['code', () => pick(['E1', 429])], ['stack', () => 'at x']], 0.5)],
      ['performance', () => object([['memoryUsage', () => 1], ['cpuUsage', () => 0.5], ['networkLatency', () => 2], ['inputTokens', () => pick([0, 812, -1, 2.5])], ['outputTokens', () => pick([3, 1e9])]], 0.5)],
    ].map(([k, f]) => [k, f] as [string, () => unknown]).filter((_, i) => i < 5 || next() < 0.5),
    0.99,
  );
}

/** What the schema alone makes of a batch: the reference the fast path must agree with. */
function zodOnlyBatch(items: readonly unknown[], oldestMs: number) {
  const redactor = new Redactor();
  const records: ReturnType<typeof prepareRecord>[] = [];
  const rejected: Rejection[] = [];
  items.forEach((item, index) => {
    const parsed = executionRecordSchema.safeParse(item);
    if (!parsed.success) {
      rejected.push({ index, field: '?', message: '?' });
      return;
    }
    const r = prepareRecord(parsed.data, hmac, redactor);
    if (r.timestamp < oldestMs) {
      rejected.push({ index, field: 'timestamp', message: '?' });
    } else {
      records.push(r);
    }
  });
  return { records, rejected };
}

describe('fastExecutionRecord', () => {
  it('takes every valid shape and answers what zod answers', () => {
    for (const item of valid) {
      const zod = executionRecordSchema.safeParse(item);
      expect(zod.success, JSON.stringify(item).slice(0, 200)).toBe(true);
      expect(fastExecutionRecord(item), JSON.stringify(item).slice(0, 200)).toStrictEqual(zod.data);
    }
  });

  it('takes nothing zod refuses, and leaves nested unknown fields and undefined values to zod', () => {
    for (const item of invalid) {
      expect(fastExecutionRecord(item), String(JSON.stringify(item)).slice(0, 200)).toBeUndefined();
    }
    // zod refuses all of them but these, which the fast check leaves to it: an object that is not
    // plain, an undefined optional field, a metadata key `__proto__`, nested unknown fields (zod strips them).
    const zodTakes = invalid.filter((item) => executionRecordSchema.safeParse(item).success);
    expect(zodTakes.map((item) => invalid.indexOf(item))).toEqual([6, 25, 35, 43, 49, 51]);
  });

  it('agrees with zod on 20,000 random records: what it takes zod takes, with the same result', () => {
    const next = random(4711);
    let takenFast = 0;
    let takenZod = 0;
    for (let i = 0; i < 20_000; i++) {
      const item = arbitraryRecord(next);
      const zod = executionRecordSchema.safeParse(item);
      const fast = fastExecutionRecord(item);
      if (fast !== undefined) {
        takenFast++;
        expect(zod.success, `case ${i}: ${JSON.stringify(item).slice(0, 300)}`).toBe(true);
        expect(fast, `case ${i}`).toStrictEqual(zod.data);
      }
      if (zod.success) {
        takenZod++;
      }
    }
    // Both kinds of input were drawn, and the fast path took nearly all the valid ones.
    expect(takenZod).toBeGreaterThan(2_000);
    expect(takenZod).toBeLessThan(18_000);
    expect(takenFast / takenZod).toBeGreaterThan(0.9);
  });

  it('gives checkBatch the records and rejections that zod alone gives, in batch order', () => {
    const next = random(99);
    const items = [...Array.from({ length: 3_000 }, () => arbitraryRecord(next)), ...valid, ...invalid];
    const got = checkBatch(items, hmac, { oldestMs: 1_000 });
    const want = zodOnlyBatch(items, 1_000);
    expect(got.records).toStrictEqual(want.records);
    expect(got.rejected.map((r) => r.index)).toEqual(want.rejected.map((r) => r.index));
    expect(got.records.length).toBeGreaterThan(500);
    expect(got.rejected.length).toBeGreaterThan(500);
  });
});

describe('storedRecordFault', () => {
  const stored = prepareRecord(executionRecordSchema.parse({ ...base, context: { userId: 'u', metadata: { a: 'x', n: 1, b: true } }, error: { code: 1, message: 'm' }, performance: { cpuUsage: 1 } }), hmac);

  it('takes what the store writes, read back as JSON, even a redacted string longer than the input limit', () => {
    expect(storedRecordFault(JSON.parse(JSON.stringify(stored)))).toBeUndefined();
    const long = { ...stored, context: { metadata: { a: '[EMAIL_12]'.repeat(500) } } };
    expect(isStoredExecutionRecord(JSON.parse(JSON.stringify(long)))).toBe(true);
  });

  it('names the field of corrupt or foreign data', () => {
    const cases: [unknown, string][] = [
      [null, '(record)'],
      [[stored], '(record)'],
      [{ ...stored, executionId: undefined }, 'executionId'],
      [{ ...stored, executionId: 5 }, 'executionId'],
      [{ ...stored, timestamp: '2026-11-30T10:00:00Z' }, 'timestamp'],
      [{ ...stored, status: 'fine' }, 'status'],
      [{ ...stored, latencyMs: null }, 'latencyMs'],
      [{ ...stored, operation: undefined }, 'operation'],
      [{ ...stored, queue: 'foreign' }, 'queue'],
      [{ ...stored, context: 'x' }, 'context.(object)'],
      [{ ...stored, context: { userId: 1 } }, 'context.userId'],
      [{ ...stored, context: { metadata: { a: { deep: 1 } } } }, 'context.metadata'],
      [{ ...stored, error: { code: false } }, 'error.code'],
      [{ ...stored, error: { message: 1 } }, 'error.message'],
      [{ ...stored, performance: { cpuUsage: 'high' } }, 'performance.cpuUsage'],
    ];
    for (const [value, field] of cases) {
      expect(storedRecordFault(value), field).toBe(field);
      expect(isStoredExecutionRecord(value)).toBe(false);
    }
  });
});

describe('loadOrCreateHmacKey', () => {
  it('creates a 0600 key file on first start, keeps it across restarts, and prefers BSM_HMAC_KEY', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'bsm-hmac-')), 'data', 'hmac-key');
    const first = await loadOrCreateHmacKey(path, undefined);
    expect(first.source).toBe('created');
    expect(((await stat(path)).mode & 0o777).toString(8)).toBe('600');
    expect((await readFile(path, 'utf8')).trim()).toBe(first.key);
    const again = await loadOrCreateHmacKey(path, undefined);
    expect(again).toEqual({ key: first.key, source: 'file' });
    expect(await loadOrCreateHmacKey(path, 'e'.repeat(40))).toEqual({ key: 'e'.repeat(40), source: 'env' });
  });
});
