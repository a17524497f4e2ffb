import { z } from 'zod';
import { canonicalJson, sha256 } from '../../audit-trail/canonical.js';
import { inventoryIdSchema, publicUrl, type HookAction, type InventoryVersion } from '../../audit/inventory.js';
import { valueAtPath } from '../../audit/json-path.js';
import { Redactor } from '../../compliance/pii.js';
import type { ActionKind } from '../kind.js';
import type { HookResponse, HttpHooks } from '../ports.js';
import { actionRisks, ActionValidationError } from '../types.js';

export const httpHookSpecSchema = z.strictObject({
  kind: z.literal('http.hook'),
  /** The id of an action of the inventory in force (its `actions` list). */
  hook: inventoryIdSchema,
});
export type HttpHookSpec = z.infer<typeof httpHookSpecSchema>;

/** Characters of a body that is not JSON (or of a field's JSON) kept in the state, redacted of personal data. */
export const maxHookExcerpt = 200;
/** Characters redacted before the excerpt is cut: the excerpt and any personal data that reaches past its end. */
const redactWindow = 4_096;

const expectedValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const stateSchema = z.object({
  /** The action as the inventory declares it, without its secrets (no headers, no body, no user info or query in the URL). */
  hook: z.object({
    id: z.string(),
    component: z.string(),
    method: z.string(),
    url: z.string(),
    timeoutMs: z.int().positive(),
    risk: z.enum(actionRisks),
    expect: z.object({ status: z.array(z.int()), json: z.record(z.string(), expectedValue) }),
    /** The targets whose gaps it fixes. */
    targets: z.array(z.string()),
    /** The whole declaration, hashed: a call is refused when the action changed since its plan was read. */
    configHash: z.string(),
  }),
  /** What the application's call received; null before it was made. */
  response: z
    .object({
      status: z.int(),
      /** Measured by the call; null in the state a plan asks for. */
      latencyMs: z.number().nullable(),
      /** Each field the expectation names: what was read there (`absent`, or its JSON, redacted) and whether it holds the value expected. */
      json: z.record(z.string(), z.object({ observed: z.string(), met: z.boolean() })),
      /** A body that is not JSON (or too large to read as JSON): its first characters, redacted; null otherwise. */
      text: z.string().nullable(),
      /** Why the answer is not the one expected, one sentence each; empty when it is. */
      unmet: z.array(z.string()),
    })
    .nullable(),
});
type State = z.infer<typeof stateSchema>;
type HookState = State['hook'];
type ResponseState = NonNullable<State['response']>;

const statusesOf = (expect: HookAction['expectStatus']) => (Array.isArray(expect) ? expect : [expect]);

function hookStateOf(hook: HookAction): HookState {
  return {
    id: hook.id,
    component: hook.component,
    method: hook.method,
    url: publicUrl(hook.url),
    timeoutMs: hook.timeoutMs,
    risk: hook.risk,
    expect: { status: statusesOf(hook.expectStatus), json: hook.expectJson ?? {} },
    targets: hook.targets ?? [],
    configHash: sha256(canonicalJson(hook)).slice(0, 16),
  };
}

/** The answer as the state keeps it: the status, the fields the expectation names, or an excerpt of a body that is not JSON. */
function responseStateOf(expect: HookState['expect'], response: HookResponse): ResponseState {
  let body: { value: unknown } | null = null;
  if (!response.truncated) {
    try {
      body = { value: JSON.parse(response.body) as unknown };
    } catch {
      body = null;
    }
  }
  const redactor = new Redactor();
  // Redacted before it is cut, so that personal data across the cut is still found whole.
  const excerpt = (text: string) => {
    const redacted = redactor.redact(text.slice(0, redactWindow));
    return redacted.length > maxHookExcerpt ? `${redacted.slice(0, maxHookExcerpt)}…` : redacted;
  };
  const json = Object.fromEntries(
    Object.entries(expect.json).map(([path, want]) => {
      const seen = body === null ? undefined : valueAtPath(body.value, path);
      return [path, { observed: seen === undefined ? 'absent' : excerpt(JSON.stringify(seen.value) ?? 'undefined'), met: seen !== undefined && seen.value === want }];
    }),
  );
  const unmet = [
    ...(expect.status.includes(response.status) ? [] : [`status: expected ${expect.status.join(' or ')}, observed ${response.status}`]),
    ...Object.entries(json).flatMap(([path, field]) =>
      field.met ? [] : [`json.${path}: expected ${JSON.stringify(expect.json[path])}, observed ${body === null ? `no JSON body (${response.truncated ? 'larger than 1 MiB' : 'not JSON'})` : field.observed}`],
    ),
  ];
  const text = body === null ? excerpt(response.body) : null;
  return { status: response.status, latencyMs: Math.round(response.latencyMs * 10) / 10, json, text, unmet };
}

const expectation = (hook: HookState) =>
  [`status ${hook.expect.status.join(' or ')}`, ...Object.entries(hook.expect.json).map(([path, want]) => `${path} = ${JSON.stringify(want)}`)].join(' and ');

/** An HTTP action's call changed since its plan was read: the approver approved another call. */
export class HttpHookChangedError extends Error {
  override readonly name = 'HttpHookChangedError';
}

/**
 * Calls one HTTP action the inventory in force declares (`actions`), by id, through the
 * {@link HttpHooks} adapter. A plan's risk is the one the action declares (the kind's is the
 * highest). A network error or a timeout fails the application; an answer of another status or
 * body is recorded, unverified, with what came back. Not reversible.
 */
export function httpHookKind(deps: { inventory: () => Promise<InventoryVersion>; hooks: HttpHooks }): ActionKind<HttpHookSpec, State> {
  /** What an application's call received, for its read-back (keyed by the bound spec, as `queue.retry-failed` does). */
  const calledBy = new WeakMap<HttpHookSpec, State>();

  async function declared(spec: HttpHookSpec): Promise<HookAction> {
    const version = await deps.inventory();
    const actions = version.inventory.actions ?? [];
    const hook = actions.find((a) => a.id === spec.hook);
    if (hook === undefined) {
      const known = actions.length === 0 ? 'it declares no actions' : `its actions: ${actions.map((a) => a.id).join(', ')}`;
      throw new ActionValidationError('hook', `hook: "${spec.hook}" is not an action of the inventory in force (version ${version.version}; ${known})`);
    }
    return hook;
  }

  return {
    kind: 'http.hook',
    risk: 'high',
    description:
      "Calls one HTTP action the inventory in force declares (its actions list: URL, method, headers with secrets from the environment, JSON body, expected status and JSON fields, timeout, risk). The plan's risk is the one the action declares. A network error or a timeout fails the application; an answer of another status or body is recorded unverified, with the status, the fields the expectation names or an excerpt of the body (redacted). Not reversible: a call that was made cannot be unmade.",
    reversible: false,
    schema: httpHookSpecSchema,
    stateSchema,
    riskOf: (_spec, before) => before.hook.risk,
    async read(spec) {
      // After the call: the declaration it made and what came back (the inventory may have moved on since).
      return calledBy.get(spec) ?? { hook: hookStateOf(await declared(spec)), response: null };
    },
    desired: (_spec, before) => ({
      hook: before.hook,
      response: {
        status: before.hook.expect.status[0] ?? 200,
        latencyMs: null,
        json: Object.fromEntries(Object.entries(before.hook.expect.json).map(([path, want]) => [path, { observed: JSON.stringify(want), met: true }])),
        text: null,
        unmet: [],
      },
    }),
    /** An answer came with an expected status and every field the expectation names holds its value. */
    matches: (expected, read) =>
      read.response !== null &&
      expected.hook.expect.status.includes(read.response.status) &&
      Object.keys(expected.hook.expect.json).every((path) => read.response?.json[path]?.met === true),
    changes: (_spec, from, to) => [
      {
        target: `http-hook:${from.hook.id}`,
        from: from.response === null ? null : `status ${from.response.status}`,
        to: `${to.hook.method} ${to.hook.url} answers with ${expectation(to.hook)}`,
      },
    ],
    describe(_spec, before) {
      const h = before.hook;
      const fixes = h.targets.length === 0 ? '' : ` It is declared to fix target${h.targets.length === 1 ? '' : 's'} ${h.targets.join(', ')}: an audit.rerun of ${h.targets.length === 1 ? 'it' : 'them'} afterwards records whether it did.`;
      return `Calls HTTP action ${h.id} of component ${h.component}: ${h.method} ${h.url}, within ${h.timeoutMs} ms, expecting ${expectation(h)}. Risk ${h.risk}, as the inventory declares it.${fixes} Not reversible.`;
    },
    async write(spec, from) {
      const hook = await declared(spec);
      const now = hookStateOf(hook);
      if (now.configHash !== from.hook.configHash) {
        throw new HttpHookChangedError(`HTTP action ${hook.id} changed in the inventory since its plan was read: not called; dry-run it again`);
      }
      const response = await deps.hooks.call(hook);
      calledBy.set(spec, { hook: from.hook, response: responseStateOf(from.hook.expect, response) });
    },
  };
}
