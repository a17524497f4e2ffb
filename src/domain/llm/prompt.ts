/**
 * What the remote providers share: how an {@link LlmRequest} becomes the text a model reads
 * (Bedrock and MCP send the same user turn, so a narrative does not depend on the path that wrote it),
 * and how an HTTP `Retry-After` is read.
 */
import { fenceUntrusted, untrustedDataInstruction } from '../compliance/prompt-injection.js';
import type { LlmRequest } from './types.js';

/** A JSON value: what facts become before they are serialised. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * The user turn for remote providers: the prompt, then the facts as indented JSON inside an
 * untrusted-data fence (facts can carry text from outside: logs, tickets, questions), so
 * nothing in them can pass for an instruction. Without facts the prompt is sent unchanged.
 */
export function renderUserTurn(request: Pick<LlmRequest, 'prompt' | 'facts'>): string {
  const facts = request.facts;
  if (facts === undefined || Object.keys(facts).length === 0) {
    return request.prompt;
  }
  const json = JSON.stringify(toJsonValue(facts), null, 2);
  return `${request.prompt}\n\nFacts (JSON):\n${fenceUntrusted('facts', json)}`;
}

/** The system prompt for remote providers: with facts, it says how to treat the fenced data. */
export function renderSystem(request: Pick<LlmRequest, 'system' | 'facts'>): string {
  if (request.facts === undefined || Object.keys(request.facts).length === 0 || request.system.includes(untrustedDataInstruction)) {
    return request.system;
  }
  return request.system === '' ? untrustedDataInstruction : `${request.system}\n\n${untrustedDataInstruction}`;
}

/**
 * Converts anything reachable from facts into plain JSON without throwing:
 * bigints become strings, dates ISO strings, cycles `"[circular]"`; functions, symbols and
 * `undefined` properties are dropped (array slots become `null`, as `JSON.stringify` does).
 */
export function toJsonValue(value: unknown): JsonValue {
  return convert(value, []) ?? null;
}

function convert(value: unknown, ancestors: object[]): JsonValue | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
    case 'object':
      break;
  }
  if (value === null) {
    return null;
  }
  if (value instanceof Date) {
    return Number.isNaN(value.getTime()) ? null : value.toISOString();
  }
  if (ancestors.includes(value)) {
    return '[circular]';
  }
  const inner = [...ancestors, value];
  if (Array.isArray(value)) {
    return value.map((item: unknown) => convert(item, inner) ?? null);
  }
  if (value instanceof Map) {
    return convert(Object.fromEntries(value), inner);
  }
  if (value instanceof Set) {
    return convert([...value], inner);
  }
  const out: Record<string, JsonValue> = {};
  for (const [key, item] of Object.entries(value)) {
    const converted = convert(item, inner);
    if (converted !== undefined) {
      out[key] = converted;
    }
  }
  return out;
}

/**
 * Parses an HTTP `Retry-After` value (delay-seconds or HTTP-date) into milliseconds from `now`.
 * Returns `undefined` when the value is missing or unreadable.
 */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value === null || value === undefined || value.trim() === '') {
    return undefined;
  }
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    return Math.round(Number(trimmed) * 1000);
  }
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
