import { createRequire } from 'node:module';
import type { Role } from '../../src/api/auth.js';

/** mulberry32: a tiny seeded PRNG, so a fuzz run is reproduced from its seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Who sends a fuzz request: a role's bearer token or Basic credentials, no credentials, or a wrong token. */
export type Caller = { kind: 'bearer' | 'basic'; role: Role } | { kind: 'none' } | { kind: 'wrong-token' };

export type Category =
  | 'wrong-type'
  | 'missing-required'
  | 'unknown-field'
  | 'huge-body'
  | 'deep-nesting'
  | 'invalid-json'
  | 'wrong-content-type'
  | 'path-param'
  | 'query'
  | 'wrong-method'
  | 'cross-site'
  | 'read';

/** One request of a run, and what it must get: `refused` is a 4xx; `any` a documented 2xx/3xx or a 4xx. */
export interface FuzzCase {
  category: Category;
  /** The route as documented (`/health/{component}`) or as Bull Board declares it. */
  route: string;
  method: string;
  path: string;
  caller: Caller;
  headers: Record<string, string>;
  rawBody?: string;
  expect: 'refused' | 'any';
}

type Schema = Record<string, unknown>;

/** The part of the OpenAPI document the generator reads. */
export interface OpenApiDoc {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: Schema }[]; requestBody?: { content: Record<string, { schema: Schema }> }; responses: Record<string, unknown> }>>;
  components: { schemas: Record<string, Schema> };
}

/** A Bull Board API route, as `@bull-board/api` declares it. */
export interface BoardRoute {
  method: string;
  route: string;
}

/** The Bull Board API routes, read from the package itself so a new route is fuzzed too. */
export function boardRoutes(): BoardRoute[] {
  const require = createRequire(import.meta.url);
  const { appRoutes } = require('@bull-board/api/dist/routes.js') as { appRoutes: { api: { method: string; route: string | string[] }[] } };
  return appRoutes.api.flatMap((r) => (Array.isArray(r.route) ? r.route : [r.route]).map((route) => ({ method: r.method.toUpperCase(), route })));
}

const fuzzRoles: Role[] = ['viewer', 'ingest', 'operator', 'approver', 'admin'];

/** Path parameter values no route may accept: traversal, NUL, very long, unicode, empty-ish. */
export const oddSegments = [
  '..%2F..%2Fetc%2Fpasswd',
  '..%252F..%252Fetc%252Fpasswd',
  '%2e%2e',
  '%00',
  'meta-monitor%00',
  'a'.repeat(4096),
  '%E2%9C%93%F0%9F%92%A5',
  '%C0%AF',
  '%20meta-monitor',
  'Meta-Monitor',
  '%3Cscript%3E',
  '%27%20OR%201%3D1--',
  '%7B%7D',
  '*',
  '-1',
];

const unknownKeys = ['unknown', '__proto__', 'constructor', 'prototype', '', '\u2713', 'reason ', 'x'.repeat(300)];

/** JSON text that is not JSON. */
const invalidJson = ['{', '{"a":', "{'reason':'x'}", '{"reason":"x",}', 'undefined', '{"reason":"x"}}', '\u0000', '{"reason": NaN}', '\uFEFF{"reason":"x"}x', '[1,2'];

function resolve(doc: OpenApiDoc, schema: Schema): Schema {
  const ref = schema.$ref;
  return typeof ref === 'string' ? resolve(doc, doc.components.schemas[ref.replace('#/components/schemas/', '')] ?? {}) : schema;
}

/** A value the schema accepts. */
function validValue(doc: OpenApiDoc, schema: Schema): unknown {
  const s = resolve(doc, schema);
  if (s.example !== undefined) {
    return s.example;
  }
  if (s.default !== undefined) {
    return s.default;
  }
  if (Array.isArray(s.enum)) {
    return s.enum[0];
  }
  switch (s.type) {
    case 'boolean':
      return false;
    case 'integer':
    case 'number':
      return typeof s.minimum === 'number' ? s.minimum : 1;
    case 'array':
      return [validValue(doc, (s.items ?? {}) as Schema)];
    case 'object':
      return {};
    default:
      return 'fuzz';
  }
}

/** Values the schema refuses: other JSON types and out-of-range values of its own type. */
function wrongValues(doc: OpenApiDoc, schema: Schema): unknown[] {
  const s = resolve(doc, schema);
  const others: Record<string, unknown[]> = {
    string: [1, -0.5, true, null, [], {}, ['x']],
    boolean: ['true', 1, 0, null, [], {}, 'yes'],
    integer: ['1', 1.5, true, null, [], {}],
    number: ['1', true, null, [], {}],
    array: ['all', 1, null, {}, true],
    object: ['x', 1, null, [], true],
  };
  const out = [...(others[typeof s.type === 'string' ? s.type : 'string'] ?? [])];
  if (typeof s.maxLength === 'number') {
    out.push('x'.repeat(s.maxLength + 1));
  }
  if (typeof s.minLength === 'number' && s.minLength > 0) {
    out.push('');
  }
  if (Array.isArray(s.enum)) {
    out.push('not-a-member', String(s.enum[0]).toUpperCase(), `${String(s.enum[0])}\u0000`, '\u2713');
  }
  if (s.type === 'array') {
    if (typeof s.minItems === 'number' && s.minItems > 0) {
      out.push([]);
    }
    const items = resolve(doc, (s.items ?? {}) as Schema);
    // 'nope' is refused only by items with a type other than string, or a constraint it fails: free strings (names) take it.
    const freeString = items.type === 'string' && !Array.isArray(items.enum) && items.pattern === undefined && items.format === undefined && !(typeof items.minLength === 'number' && items.minLength > 4);
    out.push([1], [null], ...(freeString ? [] : [['nope']]), [[validValue(doc, items)]]);
  }
  return out;
}

/** The generator of a run: every draw comes from one seeded PRNG. */
export class FuzzGenerator {
  private readonly random: () => number;

  constructor(seed: number) {
    this.random = mulberry32(seed);
  }

  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.random() * items.length)];
    if (item === undefined) {
      throw new Error('pick from an empty list');
    }
    return item;
  }

  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [items[i], items[j]] = [items[j] as T, items[i] as T];
    }
    return items;
  }

  caller(): Caller {
    const r = this.random();
    if (r < 0.1) {
      return { kind: 'none' };
    }
    if (r < 0.15) {
      return { kind: 'wrong-token' };
    }
    return { kind: r < 0.3 ? 'basic' : 'bearer', role: this.pick(fuzzRoles) };
  }

  /** Cases for every documented operation, by category. */
  documented(doc: OpenApiDoc): FuzzCase[] {
    const cases: FuzzCase[] = [];
    for (const [route, methods] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(methods)) {
        const method = m.toUpperCase();
        const params = (op.parameters ?? []).filter((p) => p.in === 'path');
        const concrete = (value?: string) => route.replace(/\{[^}]+\}/g, () => value ?? 'meta-monitor');
        const base = { route, method, headers: {} as Record<string, string> };
        const bodySchema = op.requestBody?.content['application/json']?.schema;
        const read = method === 'GET';
        // A read is refused only for lack of credentials; a change whenever its input is wrong.
        const expect = read ? 'any' : 'refused';
        // OTLP (`/v1/…`) is a protocol of its own: receivers ignore unknown fields and the query, so `{"unknown":1}` is an empty export.
        const otlp = route.startsWith('/v1/');
        cases.push({ ...base, category: 'read', path: concrete(), caller: this.caller(), expect: read || otlp ? 'any' : 'refused', rawBody: read ? undefined : '{"unknown":1}', headers: read ? {} : json });
        for (const value of oddSegments) {
          if (params.length > 0) {
            cases.push({ ...base, category: 'path-param', path: concrete(value), caller: this.caller(), expect, ...(read ? {} : { rawBody: '{}', headers: json }) });
          }
        }
        // A method the path does not take at all (a path may take GET and PUT, as the audit configuration does).
        const taken = new Set(Object.keys(methods).map((x) => x.toUpperCase()));
        const others = (read ? ['POST', 'PUT', 'DELETE', 'PATCH'] : ['GET', 'PUT', 'DELETE']).filter((x) => !taken.has(x));
        if (others.length > 0) {
          cases.push({ ...base, category: 'wrong-method', method: this.pick(others), path: concrete(), caller: this.caller(), expect: 'refused' });
        }
        for (const q of ['verbose=1', 'window=1y', 'window=0h', 'window=%00', 'days=abc', 'days=0', 'days=41', 'days=1.5', 'days=1&days=2', 'days=-1', `days=${'9'.repeat(400)}`, 'window[]=1', '__proto__=1']) {
          // Health answers ignore their query; the other reads refuse an unknown or malformed one.
          cases.push({ ...base, category: 'query', path: `${concrete()}?${q}`, caller: this.caller(), expect: route.startsWith('/health') || otlp ? 'any' : 'refused', ...(read ? {} : { rawBody: '{"unknown":1}', headers: json }) });
        }
        if (read) {
          continue;
        }
        cases.push({ ...base, category: 'cross-site', path: concrete(), caller: this.caller(), expect: 'refused', rawBody: '{}', headers: { ...json, ...this.pick<Record<string, string>>([{ origin: 'https://evil.example' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }]) } });
        if (!bodySchema) {
          continue;
        }
        const schema = resolve(doc, bodySchema);
        const properties = (schema.properties ?? {}) as Record<string, Schema>;
        const required = (schema.required ?? []) as string[];
        const valid = Object.fromEntries(required.map((name) => [name, validValue(doc, properties[name] ?? {})]));
        const body = (b: unknown) => ({ ...base, path: concrete(), caller: this.caller(), expect: 'refused' as const, headers: json, rawBody: JSON.stringify(b) });
        for (const [name, prop] of Object.entries(properties)) {
          for (const wrong of wrongValues(doc, prop)) {
            cases.push({ ...body({ ...valid, [name]: wrong }), category: 'wrong-type' });
          }
        }
        for (const name of required) {
          const rest = { ...valid };
          delete rest[name];
          cases.push({ ...body(rest), category: 'missing-required' });
        }
        for (const key of unknownKeys) {
          cases.push({ ...body(valid), rawBody: JSON.stringify(valid).replace(/^\{/, `{${JSON.stringify(key)}:1${Object.keys(valid).length > 0 ? ',' : ''}`), category: 'unknown-field' });
        }
        const field = Object.keys(properties)[0] ?? 'unknown';
        for (const raw of [
          JSON.stringify({ ...valid, [field]: 'x'.repeat(70 * 1024) }),
          `{"${field}":"${'\u00e9'.repeat(40 * 1024)}"}`,
          ' '.repeat(65 * 1024) + '{}',
          `[${'1,'.repeat(40 * 1024)}1]`,
        ]) {
          cases.push({ ...body(valid), category: 'huge-body', rawBody: raw });
        }
        for (const raw of [
          '['.repeat(5000) + ']'.repeat(5000),
          '['.repeat(30_000) + ']'.repeat(30_000),
          `{"${field}":${'['.repeat(5000)}${']'.repeat(5000)}}`,
          `{"${field}":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`,
          `{"context":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)},"question":"q"}`,
        ]) {
          cases.push({ ...body(valid), category: 'deep-nesting', rawBody: raw });
        }
        for (const raw of invalidJson) {
          cases.push({ ...body(valid), category: 'invalid-json', rawBody: raw });
        }
        for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx', '']) {
          const raw = type.startsWith('application/x-www') ? 'reason=x' : JSON.stringify(valid);
          cases.push({ ...body(valid), category: 'wrong-content-type', headers: type === '' ? {} : { 'content-type': type }, rawBody: raw });
        }
      }
    }
    return cases;
  }

  /** Cases for every Bull Board API route. Every change it could make is given a wrong queue, job, status or body. */
  board(routes: BoardRoute[], jobId: string): FuzzCase[] {
    const cases: FuzzCase[] = [];
    for (const { method, route } of routes) {
      const read = method === 'GET';
      const params = route.match(/:[A-Za-z]+/g) ?? [];
      const fill = (odd: string | null, oddParam: string | null) =>
        `/admin/queues${route.replace(/:([A-Za-z]+)/g, (_, name: string) => (name === oddParam && odd !== null ? odd : name === 'queueName' ? 'meta-monitor' : name === 'jobId' ? jobId : name === 'queueStatus' ? 'completed' : 'daily-support-check'))}`;
      const base = { route: `/admin/queues${route}`, method, headers: {} as Record<string, string> };
      if (read || params.length === 0) {
        // Routes without parameters that change something are all owned elsewhere (409).
        cases.push({ ...base, category: 'read', path: fill(null, null), caller: this.caller(), expect: read ? 'any' : 'refused' });
        for (const q of ['activeQueue=meta-monitor&status=zzz', 'page=abc', 'jobsPerPage=-1', 'page=0', 'activeQueue=%00', 'status=latest&jobsPerPage=99999999', 'queueName=..%2F..', 'verbose=1', `status=${'x'.repeat(3000)}`]) {
          cases.push({ ...base, category: 'query', path: `${fill(null, null)}?${q}`, caller: this.caller(), expect: read ? 'any' : 'refused' });
        }
      }
      for (const p of params) {
        for (const odd of oddSegments) {
          cases.push({ ...base, category: 'path-param', path: fill(odd, p.slice(1)), caller: this.caller(), expect: read ? 'any' : 'refused' });
        }
      }
      if (!read) {
        const path = fill(null, null);
        cases.push({ ...base, category: 'cross-site', path, caller: this.caller(), expect: 'refused', headers: { origin: 'https://evil.example' } });
        cases.push({ ...base, category: 'huge-body', path, caller: this.caller(), expect: 'refused', headers: json, rawBody: JSON.stringify({ data: 'x'.repeat(70 * 1024) }) });
        if (/delay|priority/.test(route)) {
          const field = route.endsWith('delay') ? 'runAt' : 'priority';
          // runAt is any epoch time (a past one runs the job now); priority has a range.
          const numbers = field === 'priority' ? [-1, 2_097_152, 1e308, Number.MAX_SAFE_INTEGER + 2] : [];
          for (const wrong of ['abc', null, true, [], {}, ...numbers]) {
            cases.push({ ...base, category: 'wrong-type', path, caller: this.caller(), expect: 'refused', headers: json, rawBody: JSON.stringify({ [field]: wrong }) });
          }
          cases.push({ ...base, category: 'missing-required', path, caller: this.caller(), expect: 'refused', headers: json, rawBody: '{}' });
          cases.push({ ...base, category: 'deep-nesting', path, caller: this.caller(), expect: 'refused', headers: json, rawBody: `{"${field}":${'['.repeat(5000)}${']'.repeat(5000)}}` });
          cases.push({ ...base, category: 'invalid-json', path, caller: this.caller(), expect: 'refused', headers: json, rawBody: `{"${field}":` });
          cases.push({ ...base, category: 'wrong-content-type', path, caller: this.caller(), expect: 'refused', headers: { 'content-type': 'text/plain' }, rawBody: `${field}=1` });
        }
      }
    }
    return cases;
  }

  /** `cases`, with more drawn from them (fresh callers) until there are `total`. */
  fill(cases: FuzzCase[], total: number): FuzzCase[] {
    const out = [...cases];
    while (out.length < total) {
      out.push({ ...this.pick(cases), caller: this.caller() });
    }
    return this.shuffle(out);
  }
}

const json = { 'content-type': 'application/json' };
