/** The reversible redaction every prompt goes through before it leaves the process. */
import { mapDeep, maxNestingDepth } from './deep-map.js';
import { detectPii } from './pii-detect.js';
import { placeholderPattern } from './pii-types.js';
import type { PiiType } from './pii-types.js';

/** How deep {@link Redactor.redactDeep} follows nested objects and arrays before it refuses. */
export const maxRedactDepth = maxNestingDepth;

/**
 * Replaces PII with typed, numbered placeholders (`[EMAIL_1]`, `[IBAN_2]`) and can put the
 * originals back into a model's answer. One instance per conversation: the same value always gets
 * the same placeholder, across calls, so the model can still tell two customers apart.
 *
 * The mapping lives only in this instance's memory and is never logged or serialised.
 */
export class Redactor {
  readonly #placeholders = new Map<string, string>();
  readonly #originals = new Map<string, string>();
  readonly #distinct = new Map<PiiType, number>();
  readonly #counts: Partial<Record<PiiType, number>> = {};

  /** `text` with every finding of {@link detectPii} replaced by its placeholder. Placeholders already in `text` stay as they are. */
  redact(text: string): string {
    const matches = detectPii(text);
    if (matches.length === 0) {
      return text;
    }
    const parts: string[] = [];
    let cursor = 0;
    for (const m of matches) {
      parts.push(text.slice(cursor, m.start), this.#placeholderFor(m.type, m.value));
      this.#counts[m.type] = (this.#counts[m.type] ?? 0) + 1;
      cursor = m.end;
    }
    parts.push(text.slice(cursor));
    return parts.join('');
  }

  /**
   * A copy of a JSON-like value with every string redacted, object keys included, at any depth.
   * An integer whose digits are PII (a card number stored as a number) becomes its placeholder
   * string; other numbers, booleans, `null` and `undefined` are kept; dates are copied. Other
   * objects are copied as plain objects of their own enumerable properties.
   * @throws TypeError on a circular structure, or one nested deeper than {@link maxRedactDepth}.
   */
  redactDeep(value: Readonly<Record<string, unknown>>): Record<string, unknown>;
  redactDeep(value: unknown): unknown;
  redactDeep(value: unknown): unknown {
    // Keys are text that leaves the process too.
    return mapDeep(value, { leaf: (leaf) => this.#redactLeaf(leaf), key: (key) => this.redact(key) }, 'redactDeep');
  }

  /** `text` with the placeholders this instance created replaced by their originals; unknown placeholders are left alone. */
  restore(text: string): string {
    return text.replace(placeholderPattern, (placeholder) => this.#originals.get(placeholder) ?? placeholder);
  }

  /** Findings by type so far, counting every occurrence (a value seen twice counts twice). */
  get counts(): Readonly<Partial<Record<PiiType, number>>> {
    return Object.freeze({ ...this.#counts });
  }

  #placeholderFor(type: PiiType, value: string): string {
    const key = `${type}\u0000${value}`;
    const known = this.#placeholders.get(key);
    if (known !== undefined) {
      return known;
    }
    const n = (this.#distinct.get(type) ?? 0) + 1;
    this.#distinct.set(type, n);
    const placeholder = `[${type}_${n}]`;
    this.#placeholders.set(key, placeholder);
    this.#originals.set(placeholder, value);
    return placeholder;
  }

  #redactLeaf(value: unknown): unknown {
    if (typeof value === 'string') {
      return this.redact(value);
    }
    if ((typeof value === 'number' && Number.isSafeInteger(value)) || typeof value === 'bigint') {
      // A card or phone number stored as a number is still one: it becomes its placeholder.
      const digits = String(value);
      const redacted = this.redact(digits);
      return redacted === digits ? value : redacted;
    }
    return value instanceof Date ? new Date(value.getTime()) : value;
  }
}
