/** Execution records that agents post to the meta-monitor: their schema, and what is kept of them. */
import { createHash, createHmac, createSecretKey } from 'node:crypto';
import { Redactor } from '../compliance/pii.js';
import { fastExecutionRecord } from './execution-check.js';
import { executionRecordSchema, type ExecutionRecord, type ExecutionRecordInput } from './execution-schema.js';

export { executionRecordSchema, executionStatuses, maxBatchRecords, storedExecutionSchema, type ExecutionRecord, type ExecutionRecordInput } from './execution-schema.js';


/** Keyed one-way function of a person's identifier (HMAC-SHA256, hex). */
export type Pseudonymize = (value: string) => string;

/** HMAC-SHA256 hex keyed by `key` (a secret kept outside Redis). */
export function hmacPseudonymizer(key: string | Buffer): Pseudonymize {
  // A key object once, rather than the key turned into one on every call.
  const secret = createSecretKey(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
  return (value) => createHmac('sha256', secret).update(value).digest('hex');
}

/** SHA-256 hex of a request body, for the audit trail. */
export const sha256Hex = (body: string): string => createHash('sha256').update(body).digest('hex');

/**
 * What is kept of a valid record: the free-text fields (error message and stack, metadata
 * strings) redacted, `context.userId` replaced by its HMAC. Nothing else is scanned: ids,
 * operation names and numbers are not free text.
 */
export function prepareRecord(raw: ExecutionRecordInput, pseudonymize: Pseudonymize, redactor: Pick<Redactor, 'redact'> = new Redactor()): ExecutionRecord {
  const copy: ExecutionRecordInput = { ...raw };
  if (raw.context) {
    copy.context = { ...raw.context, ...(raw.context.metadata ? { metadata: { ...raw.context.metadata } } : {}) };
  }
  if (raw.error) {
    copy.error = { ...raw.error };
  }
  return prepareOwned(copy, pseudonymize, redactor);
}

/** {@link prepareRecord} on a record nothing else holds (a fresh parse): changed in place, no copy. */
function prepareOwned(record: ExecutionRecordInput, pseudonymize: Pseudonymize, redactor: Pick<Redactor, 'redact'>): ExecutionRecord {
  if (typeof record.timestamp === 'string') {
    record.timestamp = Date.parse(record.timestamp);
  }
  const context = record.context;
  if (context) {
    if (context.userId !== undefined) {
      context.userId = pseudonymize(context.userId);
    }
    const metadata = context.metadata;
    if (metadata) {
      for (const key in metadata) {
        const value = metadata[key];
        if (typeof value === 'string') {
          metadata[key] = redactor.redact(value);
        }
      }
    }
  }
  const error = record.error;
  if (error) {
    if (error.message !== undefined) {
      error.message = redactor.redact(error.message);
    }
    if (error.stack !== undefined) {
      error.stack = redactor.redact(error.stack);
    }
  }
  // The timestamp is a number from here on.
  return record as ExecutionRecord;
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
    // The fast check takes the usual valid record; zod decides the rest and describes a rejection.
    const fast = fastExecutionRecord(item);
    const parsed = fast ? ({ success: true, data: fast } as const) : executionRecordSchema.safeParse(item);
    if (parsed.success) {
      const record = prepareOwned(parsed.data, hmac, redactor);
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
  /** The timestamp of the oldest record still stored (null: none), read from Redis when asked. */
  oldest(): Promise<Date | null>;
  /**
   * Deletes every stored record whose `context.userId` is `hmac`, with its id in the duplicate index
   * and the user's index: found through the user's index, and for records stored before the index
   * existed by a scan of the hours from the retention's start to when it began (none once the
   * retention has passed since).
   */
  eraseUser(hmac: string, now: Date): Promise<{ records: number; indexEntries: number; scannedHours: number }>;
}
