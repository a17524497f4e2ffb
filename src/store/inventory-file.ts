import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { isCollection, isMap, isNode, isPair, isScalar, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { inventorySchema, type Inventory } from '../domain/audit/inventory.js';

/** The setting that names the inventory file: every message starts with it. */
const setting = 'BSM_INVENTORY';

/** An inventory file that cannot be used; the message is one line naming the file, the place and the line. */
export class InventoryFileError extends Error {
  override readonly name = 'InventoryFileError';
  constructor(
    readonly file: string,
    detail: string,
    readonly line?: number,
  ) {
    super(`${setting} ${file}: ${oneLine(detail)}${line === undefined ? '' : ` (line ${line})`}`);
  }
}

/**
 * Reads the inventory from a YAML (`.yaml`, `.yml`) or JSON (`.json`) file and validates it with
 * the inventory schema. A file that is missing, does not parse or does not validate is an
 * {@link InventoryFileError} naming the first problem: the target or action (by id when it has
 * one), the field and the line.
 */
export async function loadInventoryFile(path: string): Promise<Inventory> {
  const kind = extname(path).toLowerCase();
  if (kind !== '.yaml' && kind !== '.yml' && kind !== '.json') {
    throw new InventoryFileError(path, `expected a .yaml, .yml or .json file, got "${kind || 'no extension'}"`);
  }
  const text = await read(path);
  if (text.trim() === '') {
    throw new InventoryFileError(path, 'the file is empty');
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  let value: unknown;
  if (kind === '.json') {
    value = parseJson(path, text, lines, doc);
  } else {
    const [error] = doc.errors;
    if (error !== undefined) {
      throw new InventoryFileError(path, error.message, lines.linePos(error.pos[0]).line);
    }
    try {
      value = doc.toJS();
    } catch (err) {
      throw new InventoryFileError(path, err instanceof Error ? err.message : String(err));
    }
  }
  const parsed = inventorySchema.safeParse(value);
  if (parsed.success) {
    return parsed.data;
  }
  const [issue] = parsed.error.issues;
  if (issue === undefined) {
    throw new InventoryFileError(path, 'not a valid inventory');
  }
  throw describeIssue(path, issue, value, doc, lines);
}

async function read(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = err instanceof Error && 'code' in err ? String(err.code) : '';
    throw new InventoryFileError(path, code === 'ENOENT' ? 'not found' : `cannot be read (${code || (err instanceof Error ? err.message : String(err))})`);
  }
}

/** JSON.parse, for JSON's own messages; the line from the position it names or, failing that, from the YAML parser. */
function parseJson(path: string, text: string, lines: LineCounter, doc: Document): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const position = /at position (\d+)/.exec(message)?.[1];
    const offset = position === undefined ? doc.errors[0]?.pos[0] : Number(position);
    throw new InventoryFileError(path, message.replace(/\s*\(line \d+ column \d+\)/, ''), offset === undefined ? undefined : lines.linePos(offset).line);
  }
}

type Path = readonly PropertyKey[];

function describeIssue(file: string, issue: z.core.$ZodIssue, value: unknown, doc: Document, lines: LineCounter): InventoryFileError {
  const { path, detail, unknownKey } = explain(issue, [], value);
  const line = lineOf(doc, lines, unknownKey ? { mapAt: path.slice(0, -1), key: path.at(-1) } : { at: path });
  return new InventoryFileError(file, `${place(path, value)}${detail}`, line);
}

/** What is wrong and where (the path of the field; for an unknown field, the path of that key). */
function explain(issue: z.core.$ZodIssue, base: Path, value: unknown): { path: Path; detail: string; unknownKey?: boolean } {
  const path = [...base, ...issue.path];
  const got = () => describe(valueAt(value, path));
  switch (issue.code) {
    case 'unrecognized_keys': {
      const [key, ...others] = issue.keys;
      return { path: [...path, key ?? ''], detail: others.length === 0 ? 'unknown field' : `unknown field (also unknown: ${others.join(', ')})`, unknownKey: true };
    }
    case 'invalid_type':
      return { path, detail: valueAt(value, path) === undefined ? `missing (expected ${typeName(issue.expected)})` : `expected ${typeName(issue.expected)}, got ${got()}` };
    case 'invalid_value':
      return { path, detail: `expected ${issue.values.length > 1 ? 'one of ' : ''}${issue.values.map((v) => JSON.stringify(v)).join(', ')}, got ${got()}` };
    case 'invalid_union': {
      if ('options' in issue && Array.isArray(issue.options)) {
        return { path, detail: `expected one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}, got ${got()}` };
      }
      // The form the value came closest to (the deepest problem) says best what to fix.
      const firsts = issue.errors.map(([first]) => first).filter((i) => i !== undefined);
      const deepest = firsts.reduce<z.core.$ZodIssue | undefined>((best, i) => (best === undefined || i.path.length > best.path.length ? i : best), undefined);
      if (deepest !== undefined && deepest.path.length > 0) {
        return explain(deepest, path, value);
      }
      const types = firsts.flatMap((i) => (i.code === 'invalid_type' ? [typeName(i.expected)] : []));
      return { path, detail: types.length === firsts.length && types.length > 0 ? `expected ${types.join(' or ')}, got ${got()}` : `got ${got()}, which is none of the forms this field takes` };
    }
    case 'custom':
      return { path, detail: issue.message };
    case 'too_big':
    case 'too_small':
    case 'invalid_format':
    case 'not_multiple_of':
    case 'invalid_key':
    case 'invalid_element':
      return { path, detail: `${lowerFirst(issue.message)}, got ${got()}` };
  }
}

/** `target "api-health" (targets[2]) field latencyBudgetMs: `, `action "restart-api" (actions[0]) field url: `, `field defaults.timeoutMs: `, or nothing for the whole file. */
function place(path: Path, value: unknown): string {
  const [first, index, ...rest] = path;
  if ((first === 'targets' || first === 'actions') && typeof index === 'number') {
    const id = valueAt(value, [first, index, 'id']);
    const what = first === 'targets' ? 'target' : 'action';
    const entry = typeof id === 'string' && id !== '' ? `${what} ${JSON.stringify(id)} (${first}[${index}])` : `${what} ${first}[${index}]`;
    return rest.length === 0 ? `${entry}: ` : `${entry} field ${fieldName(rest)}: `;
  }
  return path.length === 0 ? '' : `field ${fieldName(path)}: `;
}

function fieldName(path: Path): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

function valueAt(value: unknown, path: Path): unknown {
  let v = value;
  for (const key of path) {
    if (v === null || typeof v !== 'object') {
      return undefined;
    }
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

/**
 * The line of the node at `at` or, when it is missing, of the nearest node above it; for an
 * unknown field, the line of its key.
 */
function lineOf(doc: Document, lines: LineCounter, where: { at: Path } | { mapAt: Path; key: PropertyKey | undefined }): number | undefined {
  if ('mapAt' in where) {
    const map: unknown = doc.getIn(where.mapAt, true);
    if (isMap(map)) {
      const pair = map.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === where.key);
      const start = isNode(pair?.key) ? pair.key.range?.[0] : undefined;
      if (start !== undefined) {
        return lines.linePos(start).line;
      }
    }
    return lineOf(doc, lines, { at: where.mapAt });
  }
  for (let n = where.at.length; n >= 0; n--) {
    const node: unknown = n === 0 ? doc.contents : doc.getIn(where.at.slice(0, n), true);
    if ((isScalar(node) || isCollection(node)) && node.range) {
      return lines.linePos(node.range[0]).line;
    }
  }
  return undefined;
}

const typeNames: Record<string, string> = { object: 'a mapping', array: 'a list', number: 'a number', int: 'a whole number', string: 'a string', boolean: 'true or false' };

function typeName(expected: string): string {
  return typeNames[expected] ?? expected;
}

function describe(v: unknown): string {
  if (v === undefined) {
    return 'nothing';
  }
  if (typeof v === 'string') {
    return JSON.stringify(v.length > 60 ? `${v.slice(0, 57)}...` : v);
  }
  if (Array.isArray(v)) {
    return `a list of ${v.length}`;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) {
    return String(v);
  }
  return typeof v === 'object' ? 'a mapping' : typeof v;
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

function oneLine(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}
