/**
 * The walk over JSON-like values that the redactor and the injection scan share: every leaf and
 * every object key at any depth, with circular structures and runaway nesting refused.
 */

/** How deep {@link mapDeep} follows nested objects and arrays before it refuses. */
export const maxNestingDepth = 64;

/** What {@link mapDeep} does with the parts of a value. */
export interface DeepMapping {
  /** Anything that is not an array or an object, and dates: the result takes its place. */
  leaf(value: unknown): unknown;
  /** Every own enumerable key of an object: the result is the copy's key. */
  key(key: string): string;
}

/**
 * A copy of `value` with `mapping` applied to its leaves and keys, at any depth. Arrays stay arrays;
 * other objects are copied as plain objects of their own enumerable properties (an own `__proto__`
 * key stays a key).
 * @param caller names the function in the error messages.
 * @throws TypeError `<caller>: circular structure`, or `<caller>: nested deeper than 64 levels`.
 */
export function mapDeep(value: unknown, mapping: DeepMapping, caller: string): unknown {
  return mapValue(value, mapping, caller, new Set());
}

function mapValue(value: unknown, mapping: DeepMapping, caller: string, ancestors: Set<object>): unknown {
  if (typeof value !== 'object' || value === null || value instanceof Date) {
    return mapping.leaf(value);
  }
  if (ancestors.has(value)) {
    throw new TypeError(`${caller}: circular structure`);
  }
  // The ancestors are the nesting depth: refuse before the stack does, with nothing let through.
  if (ancestors.size >= maxNestingDepth) {
    throw new TypeError(`${caller}: nested deeper than ${maxNestingDepth} levels`);
  }
  ancestors.add(value);
  try {
    if (Array.isArray(value)) {
      const items: readonly unknown[] = value;
      return items.map((item) => mapValue(item, mapping, caller, ancestors));
    }
    // fromEntries defines properties, so an own `__proto__` key stays a key.
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [mapping.key(k), mapValue(v, mapping, caller, ancestors)]),
    );
  } finally {
    ancestors.delete(value);
  }
}
