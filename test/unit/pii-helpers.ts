/** Helpers shared by the PII and prompt-injection unit tests. */
import { detectPii } from '../../src/domain/compliance/pii.js';
import type { PiiType } from '../../src/domain/compliance/pii.js';

/** What `detectPii` finds in `text`, as type and value, in text order. */
export function findings(text: string): { type: PiiType; value: string }[] {
  return detectPii(text).map((m) => ({ type: m.type, value: m.value }));
}

/** `leaf` wrapped in `levels` arrays, for the depth limits of the walks over nested values. */
export function nestInArrays(leaf: unknown, levels: number): unknown {
  let value = leaf;
  for (let i = 0; i < levels; i += 1) {
    value = [value];
  }
  return value;
}
