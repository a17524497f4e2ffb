import type { z } from 'zod';

type Issue = z.core.$ZodIssue;

/** The value at `path` in the raw input, or undefined when it is not there. */
function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let here = input;
  for (const key of path) {
    if (here === null || typeof here !== 'object') {
      return undefined;
    }
    here = (here as Record<PropertyKey, unknown>)[key];
  }
  return here;
}

/** Every literal a value could have taken, when the issue is only about which literal: else null. */
function allowedValues(issue: Issue): unknown[] | null {
  if (issue.code === 'invalid_value') {
    return [...issue.values];
  }
  if (issue.code === 'invalid_union' && issue.errors.length > 0) {
    const branches = issue.errors.map((branch) => (branch.length === 1 && branch[0] ? allowedValues(branch[0]) : null));
    return branches.every((b) => b !== null) ? branches.flat() : null;
  }
  return null;
}

/** The given value as a message shows it: short, and never the thing that fails (a 5,000-deep array overflows JSON.stringify). */
function shown(value: unknown): string {
  if (Array.isArray(value)) {
    return 'an array';
  }
  if (typeof value === 'object' && value !== null) {
    return 'an object';
  }
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}…` : text;
}

/**
 * One request-validation problem in words a user can act on: the field, what it must be, and
 * what was given ("components.1 must be one of …, got "bogus""; "component is required").
 */
export function describeIssue(issue: Issue, input: unknown): { path: string; message: string } {
  // An unknown key is reported on its parent object: name the key itself.
  if (issue.code === 'unrecognized_keys') {
    const path = [...issue.path, issue.keys[0] ?? ''].map(String).join('.');
    return { path, message: `${path} is not a known field${issue.keys.length > 1 ? ` (nor ${issue.keys.slice(1).join(', ')})` : ''}` };
  }
  const path = issue.path.map(String).join('.') || '(body)';
  const given = valueAt(input, issue.path);
  if (given === undefined && issue.path.length > 0) {
    return { path, message: `${path} is required` };
  }
  const allowed = allowedValues(issue);
  if (allowed !== null) {
    return { path, message: `${path} must be one of ${allowed.map(shown).join(', ')}, got ${shown(given)}` };
  }
  return { path, message: `${path}: ${issue.message}` };
}
