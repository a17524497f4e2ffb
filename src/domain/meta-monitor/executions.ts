/** Execution records that agents post to the meta-monitor: their schema, and what is kept of them. */
import { createHash, createHmac } from 'node:crypto';
import { z } from 'zod';
import { Redactor } from '../compliance/pii.js';

/** Records one batch may hold. */
export const maxBatchRecords = 5_000;

export const executionStatuses = ['success', 'failure', 'timeout', 'error'] as const;

const text = (max: number) => z.string().min(1).max(max);

/** One execution as an agent posts it. */
export const executionRecordSchema = z
  .object({
    executionId: text(200),
    timestamp: z.union([z.iso.datetime({ offset: true }), z.number().int().min(0).max(8.64e15)]),
    operation: text(200),
    status: z.enum(executionStatuses),
    latencyMs: z.number().min(0),
    correlationId: text(200).optional(),
    context: z
      .object({
        userId: text(200).optional(),
        taskType: text(200).optional(),
        complexity: z.union([z.string().max(200), z.number()]).optional(),
        metadata: z.record(z.string().max(200), z.union([z.string().max(4_000), z.number(), z.boolean()])).optional(),
      })
      .optional(),
    error: z
      .object({ type: z.string().max(200).optional(), message: z.string().max(8_000).optional(), code: z.union([z.string().max(200), z.number()]).optional(), stack: z.string().max(32_000).optional() })
      .optional(),
    performance: z.object({ memoryUsage: z.number().optional(), cpuUsage: z.number().optional(), networkLatency: z.number().optional() }).optional(),
  })
  .strict();

export type ExecutionRecordInput = z.infer<typeof executionRecordSchema>;

/** A record as stored: timestamp in epoch ms, free text redacted, `userId` replaced by its HMAC. */
export type ExecutionRecord = Omit<ExecutionRecordInput, 'timestamp'> & { timestamp: number };

/** A stored record read back (the store parses it through this). */
export const storedExecutionSchema = executionRecordSchema.extend({ timestamp: z.number() });

/** Keyed one-way function of a person's identifier (HMAC-SHA256, hex). */
export type Pseudonymize = (value: string) => string;

/** HMAC-SHA256 hex keyed by `key` (a secret kept outside Redis). */
export function hmacPseudonymizer(key: string | Buffer): Pseudonymize {
  return (value) => createHmac('sha256', key).update(value).digest('hex');
}

/** SHA-256 hex of a request body, for the audit trail. */
export const sha256Hex = (body: string): string => createHash('sha256').update(body).digest('hex');

/**
 * What is kept of a valid record: the free-text fields (error message and stack, metadata
 * strings) redacted, `context.userId` replaced by its HMAC. Nothing else is scanned: ids,
 * operation names and numbers are not free text.
 */
export function prepareRecord(raw: ExecutionRecordInput, pseudonymize: Pseudonymize, redactor: Pick<Redactor, 'redact'> = new Redactor()): ExecutionRecord {
  const timestamp = typeof raw.timestamp === 'number' ? raw.timestamp : Date.parse(raw.timestamp);
  const record: ExecutionRecord = { ...raw, timestamp };
  if (raw.context) {
    const context = { ...raw.context };
    if (context.userId !== undefined) {
      context.userId = pseudonymize(context.userId);
    }
    if (context.metadata) {
      context.metadata = Object.fromEntries(Object.entries(context.metadata).map(([k, v]) => [k, typeof v === 'string' ? redactor.redact(v) : v]));
    }
    record.context = context;
  }
  if (raw.error) {
    const error = { ...raw.error };
    if (error.message !== undefined) {
      error.message = redactor.redact(error.message);
    }
    if (error.stack !== undefined) {
      error.stack = redactor.redact(error.stack);
    }
    record.error = error;
  }
  return record;
}

/** A record of a batch that was not taken, and why (never its values). */
export interface Rejection {
  index: number;
  field: string;
  message: string;
}

/**
 * `f` remembering its answers for the values seen: within one batch the same metadata values and
 * user ids come back record after record, and one Redactor gives the same value the same
 * placeholder anyway, so the answer is the same and scanning (or hashing) once is enough.
 */
function remembered(f: (value: string) => string, limit = 10_000): (value: string) => string {
  const seen = new Map<string, string>();
  return (value) => {
    let out = seen.get(value);
    if (out === undefined) {
      out = f(value);
      if (seen.size < limit) {
        seen.set(value, out);
      }
    }
    return out;
  };
}

/** The valid records of a batch, prepared for storage, and the rejected ones. */
export function checkBatch(items: readonly unknown[], pseudonymize: Pseudonymize, options: { oldestMs: number }): { records: ExecutionRecord[]; rejected: Rejection[] } {
  const scanner = new Redactor();
  const redactor = { redact: remembered((text) => scanner.redact(text)) };
  const hmac = remembered(pseudonymize);
  const records: ExecutionRecord[] = [];
  const rejected: Rejection[] = [];
  items.forEach((item, index) => {
    const parsed = executionRecordSchema.safeParse(item);
    if (parsed.success) {
      const record = prepareRecord(parsed.data, hmac, redactor);
      if (Number.isNaN(record.timestamp) || record.timestamp < options.oldestMs) {
        rejected.push({ index, field: 'timestamp', message: 'older than the retention of execution records' });
      } else {
        records.push(record);
      }
      return;
    }
    const issue = parsed.error.issues[0];
    // An unknown field is named by itself rather than by the object holding it.
    const path = issue?.code === 'unrecognized_keys' ? [...issue.path, ...issue.keys.slice(0, 1)] : (issue?.path ?? []);
    const field = path.length > 0 ? path.join('.') : '(record)';
    // zod's messages name the expected type, never the value given, so no personal data is echoed.
    rejected.push({ index, field, message: issue?.message ?? 'invalid record' });
  });
  return { records, rejected };
}

/** Where execution records are kept (`store/executions.store.ts`). */
export interface ExecutionStore {
  /** Stores records not seen before (by `executionId`); answers how many were stored and how many were duplicates. */
  add(records: readonly ExecutionRecord[]): Promise<{ accepted: number; duplicates: number }>;
  /** The records with `from <= timestamp < to`, in time order, read page by page. */
  window(from: Date, to: Date): AsyncIterable<ExecutionRecord>;
}
