/**
 * The local path: a template writer that turns `request.facts` into plain text.
 * No network, no model, no randomness, no clock: the same request always gives the same text, and
 * nothing in it comes from anywhere but the facts (and the task's name for the title).
 */
import { isRecord } from '../domain/guards.js';
import { toJsonValue, type JsonValue } from '../domain/llm/prompt.js';
import { LlmProviderError, type LlmProvider, type LlmRequest, type ProviderResult } from '../domain/llm/types.js';

/** First line of every local answer, so no reader mistakes it for a model's writing. */
export const localProviderBanner = '[local provider: template summary, no language model]';

/** Model name reported for the local provider (for pricing it costs nothing). */
export const localModel = 'local-template-v1';

/** Severities in the order findings are listed; anything else comes after, as `unspecified` when missing. */
export const severityOrder = ['critical', 'high', 'medium', 'low', 'info'] as const;

/** At most this many items of a findings, gaps or recommendations list are written out. */
const maxListedItems = 20;
/** At most this many items of any other array are quoted. */
const maxQuotedArrayItems = 3;
/** Nested objects deeper than this are summarised instead of flattened. */
const maxDepth = 6;
const maxValueLength = 200;

/**
 * Creates the local provider (path `local`, model `local-template-v1`).
 *
 * The answer is: the banner line, a title made from `request.task`, then the facts: `status` first,
 * then `findings` and `gaps` (lists of `{ severity, title | message }`, sorted from critical to info
 * with a count per severity), then `recommendations`, then every other fact as a `key: value` line
 * (nested objects flattened to `a.b: value`, arrays summarised by count and first items).
 * Without facts it says it has nothing to describe. Usage is always zero tokens.
 */
export function createLocalProvider(): LlmProvider {
  return {
    path: 'local',
    model: localModel,
    complete(request: LlmRequest, signal: AbortSignal): Promise<ProviderResult> {
      if (signal.aborted) {
        return Promise.reject(new LlmProviderError('local', 'Local template call aborted', { cause: signal.reason }));
      }
      return Promise.resolve({
        text: renderLocalSummary(request),
        model: localModel,
        usage: { inputTokens: 0, outputTokens: 0 },
      });
    },
    close(): Promise<void> {
      return Promise.resolve();
    },
  };
}

/** The local provider's text for a request; exported for callers that want it without a provider. */
export function renderLocalSummary(request: Pick<LlmRequest, 'task' | 'facts'>): string {
  const lines = [localProviderBanner, `# ${titleOf(request.task)}`];
  const facts = request.facts === undefined ? {} : toJsonValue(request.facts);
  if (!isRecord(facts) || Object.keys(facts).length === 0) {
    lines.push(`No structured findings were provided for task "${request.task}", so there is nothing to describe.`);
    return lines.join('\n');
  }

  const { status, findings, gaps, recommendations, ...rest } = facts;
  const other: Record<string, JsonValue> = { ...rest };

  if (status !== undefined) {
    if (isRecord(status) || Array.isArray(status)) {
      other.status = status;
    } else {
      lines.push(`Status: ${scalarText(status)}`);
    }
  }
  for (const [key, label, value] of [
    ['findings', 'Findings', findings],
    ['gaps', 'Gaps', gaps],
  ] as const) {
    if (value === undefined) {
      continue;
    }
    const items = severityItems(value);
    if (items === undefined) {
      other[key] = value;
    } else {
      lines.push(...renderSeverityList(label, items));
    }
  }
  if (recommendations !== undefined) {
    if (Array.isArray(recommendations)) {
      lines.push(...renderRecommendations(recommendations));
    } else {
      other.recommendations = recommendations;
    }
  }

  const otherLines = flatten(other, '', 0);
  if (otherLines.length > 0) {
    lines.push('Facts:', ...otherLines);
  }
  return lines.join('\n');
}

interface SeverityItem {
  severity: string;
  rank: number;
  title: string;
}

/** The items of a findings/gaps list when every item is an object with a title or message; undefined otherwise. */
function severityItems(value: JsonValue): SeverityItem[] | undefined {
  if (!Array.isArray(value)) {
    return undefined;
  }
  const items: SeverityItem[] = [];
  for (const item of value) {
    if (!isRecord(item)) {
      return undefined;
    }
    const title = item.title ?? item.message;
    if (typeof title !== 'string') {
      return undefined;
    }
    const severity = typeof item.severity === 'string' ? item.severity.toLowerCase() : 'unspecified';
    const known = severityOrder.indexOf(severity as (typeof severityOrder)[number]);
    items.push({ severity, rank: known === -1 ? severityOrder.length : known, title: oneLine(title) });
  }
  return items;
}

function renderSeverityList(label: string, items: SeverityItem[]): string[] {
  // Array.prototype.sort is stable, so equal severities keep the order the facts gave them.
  const sorted = [...items].sort((a, b) => a.rank - b.rank || compareText(a.severity, b.severity));
  const counts = new Map<string, number>();
  for (const item of sorted) {
    counts.set(item.severity, (counts.get(item.severity) ?? 0) + 1);
  }
  const countText = [...counts].map(([severity, count]) => `${severity} ${count}`).join(', ');
  const lines = [`${label}: ${items.length}${countText === '' ? '' : ` (${countText})`}`];
  for (const item of sorted.slice(0, maxListedItems)) {
    lines.push(`- [${item.severity}] ${item.title}`);
  }
  if (sorted.length > maxListedItems) {
    lines.push(`- … and ${sorted.length - maxListedItems} more`);
  }
  return lines;
}

function renderRecommendations(items: JsonValue[]): string[] {
  const lines = [`Recommendations: ${items.length}`];
  for (const item of items.slice(0, maxListedItems)) {
    lines.push(`- ${recommendationText(item)}`);
  }
  if (items.length > maxListedItems) {
    lines.push(`- … and ${items.length - maxListedItems} more`);
  }
  return lines;
}

function recommendationText(item: JsonValue): string {
  if (isRecord(item)) {
    const text = item.title ?? item.message ?? item.action ?? item.text;
    if (typeof text === 'string') {
      return oneLine(text);
    }
  }
  return itemText(item);
}

function flatten(value: Record<string, JsonValue>, prefix: string, depth: number): string[] {
  const lines: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    const name = `${prefix}${key}`;
    if (isRecord(item)) {
      if (Object.keys(item).length === 0) {
        lines.push(`${name}: (empty)`);
      } else if (depth >= maxDepth) {
        lines.push(`${name}: ${itemText(item)}`);
      } else {
        lines.push(...flatten(item, `${name}.`, depth + 1));
      }
    } else if (Array.isArray(item)) {
      lines.push(`${name}: ${arraySummary(item)}`);
    } else {
      lines.push(`${name}: ${scalarText(item)}`);
    }
  }
  return lines;
}

function arraySummary(items: JsonValue[]): string {
  const count = `${items.length} ${items.length === 1 ? 'item' : 'items'}`;
  if (items.length === 0) {
    return count;
  }
  const quoted = items.slice(0, maxQuotedArrayItems).map(itemText).join(', ');
  return items.length <= maxQuotedArrayItems
    ? `${count}: ${quoted}`
    : `${count}, first ${maxQuotedArrayItems}: ${quoted}`;
}

/** An array item or a too-deep value on one line: scalars as text, structures as compact JSON. */
function itemText(item: JsonValue): string {
  if (isRecord(item) || Array.isArray(item)) {
    return truncate(JSON.stringify(item));
  }
  return scalarText(item);
}

function scalarText(value: string | number | boolean | null): string {
  return value === null ? 'null' : oneLine(String(value));
}

function oneLine(text: string): string {
  return truncate(text.replace(/\s+/g, ' ').trim());
}

function truncate(text: string): string {
  return text.length > maxValueLength ? `${text.slice(0, maxValueLength - 1)}…` : text;
}

/** `audit-narrative` → `Audit narrative`. */
function titleOf(task: string): string {
  const words = task.replace(/[-_.]+/g, ' ').replace(/\s+/g, ' ').trim();
  if (words === '') {
    return 'Summary';
  }
  return `${words.charAt(0).toUpperCase()}${words.slice(1)}`;
}

/** Code-unit comparison, so the order never depends on the process's locale. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
