import { canonicalJson, sha256 } from './canonical.js';

/** The largest an entry's parts may be; anything over is kept as its size and SHA-256. */
export const auditBounds = {
  /** Characters of one string (a reason, a question, a context's value). */
  textChars: 1_024,
  /** Items of one array. */
  arrayItems: 100,
  /** Nesting of objects and arrays. */
  depth: 8,
  /** Characters of the whole `details`, after the bounds above. */
  detailsChars: 16 * 1_024,
};

/** What stands in for a part that was too large: enough to match it against a copy, nothing to read. */
export interface Omitted {
  omitted: 'text' | 'items' | 'depth' | 'details';
  /** Characters of the text or of the part's canonical JSON; items left out of an array. */
  size: number;
  /** SHA-256 of the text, or of the part's canonical JSON; for items, of the items left out. */
  sha256: string;
}

function omit(kind: Omitted['omitted'], text: string, size = text.length): Omitted {
  return { omitted: kind, size, sha256: sha256(text) };
}

function bound(value: unknown, depth: number): unknown {
  if (typeof value === 'string') {
    return value.length > auditBounds.textChars ? omit('text', value) : value;
  }
  if (value === null || typeof value !== 'object' || value instanceof Date) {
    return value;
  }
  if (depth >= auditBounds.depth) {
    const json = canonicalJson(value);
    return omit('depth', json);
  }
  if (Array.isArray(value)) {
    const kept = value.slice(0, auditBounds.arrayItems).map((v: unknown) => bound(v, depth + 1));
    if (value.length > auditBounds.arrayItems) {
      const rest = value.slice(auditBounds.arrayItems);
      kept.push(omit('items', canonicalJson(rest), rest.length));
    }
    return kept;
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k.length > auditBounds.textChars ? `${k.slice(0, 64)}…` : k] = bound(v, depth + 1);
  }
  return out;
}

/**
 * An entry's details within {@link auditBounds}: the audit trail is kept for good and cannot be
 * edited, so no caller can grow it by more than a few KB per entry. Long text is kept as its
 * length and SHA-256 (the text itself, already redacted, was the caller's to keep).
 */
export function boundDetails(details: Record<string, unknown>): Record<string, unknown> {
  const bounded = bound(details, 0) as Record<string, unknown>;
  const json = canonicalJson(bounded);
  return json.length > auditBounds.detailsChars ? { ...omit('details', canonicalJson(details)) } : bounded;
}

/** A short field (actor, action, target) within the text bound. */
export function boundText(text: string): string {
  return text.length > auditBounds.textChars ? `${text.slice(0, 256)}… (${text.length} chars, sha256 ${sha256(text)})` : text;
}
