import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkBatch, executionRecordSchema, hmacPseudonymizer, prepareRecord } from '../../src/domain/meta-monitor/executions.js';
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
