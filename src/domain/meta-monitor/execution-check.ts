/**
 * A hand-written check of the common, valid shape of an execution record: the same answer as
 * `executionRecordSchema.safeParse` for what it accepts, at a fraction of the cost. It never
 * rejects: anything it is not sure of (an invalid value, an unknown or `undefined` field, an
 * object that is not plain) is left to zod, which then decides and describes the rejection. So
 * the schema stays the one definition of a valid record, and this only has to agree with it on
 * what it lets through (test/unit/executions.test.ts checks that on valid, invalid and random input).
 */
import { z } from 'zod';
import { executionStatuses, type ExecutionRecord, type ExecutionRecordInput } from './execution-schema.js';

type Plain = Record<string, unknown>;
type Context = NonNullable<ExecutionRecordInput['context']>;
type ErrorInfo = NonNullable<ExecutionRecordInput['error']>;
type Performance = NonNullable<ExecutionRecordInput['performance']>;

/** The ISO branch of the timestamp union, exactly as the schema has it. */
const isoDatetime = z.iso.datetime({ offset: true });
const statuses: ReadonlySet<unknown> = new Set(executionStatuses);

/** A plain object (`{}` or a JSON object), the only objects the fast path takes. */
function plain(value: unknown): value is Plain {
  if (typeof value !== 'object' || value === null) {
    return false;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** A string of `min`..`max` UTF-16 units, as zod's `min`/`max` count. */
const str = (v: unknown, min: number, max: number): v is string => typeof v === 'string' && v.length >= min && v.length <= max;
/** A number zod's `z.number()` takes: finite. */
const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function fastContext(v: unknown): Context | undefined {
  if (!plain(v)) {
    return undefined;
  }
  const out: Context = {};
  for (const key in v) {
    const value = v[key];
    switch (key) {
      case 'userId':
      case 'taskType':
      case 'model':
        if (!str(value, 1, 200)) {
          return undefined;
        }
        out[key] = value;
        break;
      case 'complexity':
        if (!str(value, 0, 200) && !num(value)) {
          return undefined;
        }
        out.complexity = value;
        break;
      case 'metadata': {
        const metadata = fastMetadata(value);
        if (!metadata) {
          return undefined;
        }
        out.metadata = metadata;
        break;
      }
      default:
        // zod strips unknown keys of nested objects: left to it.
        return undefined;
    }
  }
  return out;
}

function fastMetadata(v: unknown): Record<string, string | number | boolean> | undefined {
  if (!plain(v)) {
    return undefined;
  }
  const out: Record<string, string | number | boolean> = {};
  for (const key in v) {
    const value = v[key];
    // `__proto__` would set the copy's prototype instead of a field.
    if (key.length > 200 || key === '__proto__' || !(str(value, 0, 4_000) || num(value) || typeof value === 'boolean')) {
      return undefined;
    }
    out[key] = value;
  }
  return out;
}

function fastError(v: unknown): ErrorInfo | undefined {
  if (!plain(v)) {
    return undefined;
  }
  const out: ErrorInfo = {};
  for (const key in v) {
    const value = v[key];
    switch (key) {
      case 'type':
        if (!str(value, 0, 200)) {
          return undefined;
        }
        out.type = value;
        break;
      case 'message':
        if (!str(value, 0, 8_000)) {
          return undefined;
        }
        out.message = value;
        break;
      case 'code':
        if (!str(value, 0, 200) && !num(value)) {
          return undefined;
        }
        out.code = value;
        break;
      case 'stack':
        if (!str(value, 0, 32_000)) {
          return undefined;
        }
        out.stack = value;
        break;
      default:
        return undefined;
    }
  }
  return out;
}

function fastPerformance(v: unknown): Performance | undefined {
  if (!plain(v)) {
    return undefined;
  }
  const out: Performance = {};
  for (const key in v) {
    const value = v[key];
    if (key === 'inputTokens' || key === 'outputTokens') {
      if (!num(value) || !Number.isInteger(value) || value < 0) {
        return undefined;
      }
    } else if ((key !== 'memoryUsage' && key !== 'cpuUsage' && key !== 'networkLatency') || !num(value)) {
      return undefined;
    }
    out[key] = value;
  }
  return out;
}

/**
 * `item` as `executionRecordSchema.parse` would return it, when it is a valid record of the
 * usual shape; `undefined` when zod has to decide (it may still be valid).
 */
export function fastExecutionRecord(item: unknown): ExecutionRecordInput | undefined {
  if (!plain(item)) {
    return undefined;
  }
  const { executionId, timestamp, operation, status, latencyMs } = item;
  if (!str(executionId, 1, 200) || !str(operation, 1, 200) || !statuses.has(status) || !num(latencyMs) || latencyMs < 0) {
    return undefined;
  }
  if (typeof timestamp === 'number') {
    if (!Number.isInteger(timestamp) || timestamp < 0 || timestamp > 8.64e15) {
      return undefined;
    }
  } else if (typeof timestamp !== 'string' || !isoDatetime.safeParse(timestamp).success) {
    return undefined;
  }
  const out: ExecutionRecordInput = { executionId, timestamp, operation, status: status as ExecutionRecordInput['status'], latencyMs };
  for (const key in item) {
    switch (key) {
      case 'executionId':
      case 'timestamp':
      case 'operation':
      case 'status':
      case 'latencyMs':
        continue;
      case 'correlationId': {
        const value = item[key];
        if (!str(value, 1, 200)) {
          return undefined;
        }
        out.correlationId = value;
        break;
      }
      case 'context': {
        const context = fastContext(item[key]);
        if (!context) {
          return undefined;
        }
        out.context = context;
        break;
      }
      case 'error': {
        const error = fastError(item[key]);
        if (!error) {
          return undefined;
        }
        out.error = error;
        break;
      }
      case 'performance': {
        const performance = fastPerformance(item[key]);
        if (!performance) {
          return undefined;
        }
        out.performance = performance;
        break;
      }
      default:
        // An unknown field: zod names it.
        return undefined;
    }
  }
  return out;
}

/**
 * Where a record read back from the store is not the shape the store writes: the field at fault,
 * or `undefined` when it is one. Types only, not lengths or formats: what the store wrote passed
 * the full check, and redaction may lengthen a string past its input limit, so this is a check
 * against corruption and foreign data, not a second validation.
 */
export function storedRecordFault(value: unknown): string | undefined {
  if (!plain(value)) {
    return '(record)';
  }
  for (const key in value) {
    const v = value[key];
    switch (key) {
      case 'executionId':
      case 'operation':
      case 'correlationId':
        if (typeof v !== 'string') {
          return key;
        }
        break;
      case 'timestamp':
      case 'latencyMs':
        if (!num(v)) {
          return key;
        }
        break;
      case 'status':
        if (!statuses.has(v)) {
          return key;
        }
        break;
      case 'context': {
        const fault = contextFault(v);
        if (fault !== undefined) {
          return `context.${fault}`;
        }
        break;
      }
      case 'error':
        if (!plain(v)) {
          return key;
        }
        for (const k in v) {
          const x = v[k];
          if (!(k === 'type' || k === 'message' || k === 'stack' || k === 'code') || !(typeof x === 'string' || (k === 'code' && num(x)))) {
            return `error.${k}`;
          }
        }
        break;
      case 'performance':
        if (!plain(v)) {
          return key;
        }
        for (const k in v) {
          if (!(k === 'memoryUsage' || k === 'cpuUsage' || k === 'networkLatency' || k === 'inputTokens' || k === 'outputTokens') || !num(v[k])) {
            return `performance.${k}`;
          }
        }
        break;
      default:
        return key;
    }
  }
  // The required fields, which the loop above only checked when present.
  if (typeof value.executionId !== 'string') {
    return 'executionId';
  }
  if (typeof value.operation !== 'string') {
    return 'operation';
  }
  if (!statuses.has(value.status)) {
    return 'status';
  }
  if (!num(value.timestamp)) {
    return 'timestamp';
  }
  return num(value.latencyMs) ? undefined : 'latencyMs';
}

function contextFault(v: unknown): string | undefined {
  if (!plain(v)) {
    return '(object)';
  }
  for (const k in v) {
    const x = v[k];
    if (k === 'userId' || k === 'taskType' || k === 'model') {
      if (typeof x !== 'string') {
        return k;
      }
    } else if (k === 'complexity') {
      if (typeof x !== 'string' && !num(x)) {
        return k;
      }
    } else if (k === 'metadata') {
      if (!plain(x)) {
        return k;
      }
      for (const m in x) {
        const y = x[m];
        if (typeof y !== 'string' && typeof y !== 'boolean' && !num(y)) {
          return k;
        }
      }
    } else {
      return k;
    }
  }
  return undefined;
}

/** A record read back from the store has the shape the store writes ({@link storedRecordFault}). */
export const isStoredExecutionRecord = (value: unknown): value is ExecutionRecord => storedRecordFault(value) === undefined;
