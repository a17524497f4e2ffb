/**
 * How an inventory's `expectJson` reads a JSON body: a dotted path (`status`, `checks.db`,
 * `items.0.id`), each part a property name or, on an array, an index. The `http` probe and the
 * `http.hook` action read answers the same way.
 */
import { isRecord } from '../guards.js';

/** The value at a dotted path, or undefined when the path does not exist (a value may be null). */
export function valueAtPath(body: unknown, path: string): { value: unknown } | undefined {
  let here: unknown = body;
  for (const key of path.split('.')) {
    if (Array.isArray(here) && /^\d+$/.test(key) && Number(key) < here.length) {
      here = here[Number(key)];
    } else if (isRecord(here) && Object.hasOwn(here, key)) {
      here = here[key];
    } else {
      return undefined;
    }
  }
  return { value: here };
}

const maxShown = 200;

/** A JSON value as one bounded line (its JSON text, cut at 200 characters). */
export function shownJson(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > maxShown ? `${text.slice(0, maxShown - 1)}…` : text;
}
