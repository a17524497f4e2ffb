/**
 * The inventory: what should exist in a team's infrastructure, one target per thing the auditor
 * probes. Parsed once with zod wherever it comes from (a file at start-up, `PUT …/audit/config`,
 * Redis); a target's kind decides its probe and its fields.
 */
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { actionRisks } from '../actions/types.js';
import { queueNames } from '../queue-names.js';
import { featureFlagNames } from '../feature-flags.js';
import { redisSlowMs } from '../fleet/thresholds.js';

export const criticalities = ['critical', 'high', 'medium', 'low'] as const;
export type Criticality = (typeof criticalities)[number];

export const targetKinds = ['http', 'tcp', 'tls', 'dns', 'redis', 'queue', 'feature-flag', 'llm', 'spec'] as const;
export type TargetKind = (typeof targetKinds)[number];

/** A secret given as the name of an environment variable of the worker processes (`{ env: NAME }`), or as itself. */
export const secretValue = z.union([
  z.string().max(4_096),
  z
    .object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'an environment variable name') })
    .strict(),
]);
export type SecretValue = z.infer<typeof secretValue>;

/** The id of a target or an action of the inventory. */
export const inventoryIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,79}$/, 'lower-case letters, digits, ".", "_" and "-", 1-80 characters, starting with a letter or digit');
const id = inventoryIdSchema;
const ms = (max: number) => z.number().int().min(1).max(max);
const headers = z.record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'a header name'), secretValue);
/** One status or several. */
const expectStatus = z.union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)]).default(200);
/** Fields a JSON body must hold, by dotted path (`status`, `checks.db`), with the value expected. */
const expectJson = z.record(z.string().min(1).max(200), z.union([z.string(), z.number(), z.boolean(), z.null()]));

const base = {
  id,
  /** The part of the team's system it belongs to (free of personal data: a service name). */
  component: z.string().trim().min(1).max(80),
  criticality: z.enum(criticalities),
  description: z.string().trim().max(300).optional(),
  /** Bound on the whole probe; the inventory's `defaults.timeoutMs` when absent. */
  timeoutMs: ms(120_000).optional(),
};

const httpTarget = z
  .object({
    ...base,
    kind: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'OPTIONS']).default('GET'),
    headers: headers.optional(),
    /** One status or several; any other is a gap. */
    expectStatus,
    latencyBudgetMs: ms(60_000).default(1_000),
    expectJson: expectJson.optional(),
    /** A CA file (PEM) to trust for an `https` URL, besides the system's. */
    caFile: z.string().min(1).optional(),
  })
  .strict();

const tcpTarget = z
  .object({ ...base, kind: z.literal('tcp'), host: z.string().min(1).max(253), port: z.number().int().min(1).max(65_535), latencyBudgetMs: ms(60_000).default(1_000) })
  .strict();

const tlsTarget = z
  .object({
    ...base,
    kind: z.literal('tls'),
    host: z.string().min(1).max(253),
    port: z.number().int().min(1).max(65_535).default(443),
    /** The name the certificate must carry (SNI); the host when absent. */
    servername: z.string().min(1).max(253).optional(),
    minDaysLeft: z.number().int().min(0).max(3_650).default(14),
    /** A CA file (PEM) to trust besides the system's (a private CA). */
    caFile: z.string().min(1).optional(),
  })
  .strict();

const dnsTarget = z
  .object({ ...base, kind: z.literal('dns'), name: z.string().min(1).max(253), expectAddresses: z.array(z.string().min(1)).min(1).optional() })
  .strict();

const redisTarget = z
  .object({
    ...base,
    kind: z.literal('redis'),
    /** The Redis to probe; the fleet's own when absent. */
    url: secretValue.optional(),
    latencyBudgetMs: ms(60_000).default(redisSlowMs),
    expectEvictionPolicy: z.string().min(1).max(40).optional(),
    expectAof: z.boolean().optional(),
    /** Largest share of `maxmemory` in use (0-1), when a maxmemory is set. */
    maxMemoryShare: z.number().gt(0).max(1).optional(),
  })
  .strict();

const queueTarget = z
  .object({
    ...base,
    kind: z.literal('queue'),
    queue: z.enum(queueNames),
    minWorkers: z.number().int().min(0).max(1_000).default(1),
    /** Largest failed share of the jobs finished in the health window (15 min). */
    maxFailedRatio: z.number().min(0).max(1).default(0.1),
    /** Oldest waiting job, at most. */
    maxOldestWaitingSeconds: z.number().int().min(1).max(7 * 86_400).default(900),
  })
  .strict();

const flagTarget = z.object({ ...base, kind: z.literal('feature-flag'), flag: z.enum(featureFlagNames), expected: z.boolean() }).strict();

const llmTarget = z
  .object({ ...base, kind: z.literal('llm'), path: z.enum(['direct', 'mcp']), latencyBudgetMs: ms(120_000).default(10_000) })
  .strict();

/**
 * A folder of the primary agent's specs (`.kiro/specs/<name>/tasks.md` under `path`), read by the
 * spec scan of implementation support; the auditor only checks that its workers can read it.
 */
const specTarget = z
  .object({
    ...base,
    kind: z.literal('spec'),
    /** The spec directory's root (absolute): paths named by tasks are relative to it. */
    path: z
      .string()
      .min(1)
      .max(4_096)
      .refine((p) => isAbsolute(p) && !p.includes('\0'), 'an absolute path of a directory the worker processes can read'),
    component: base.component.default('specs'),
    criticality: base.criticality.default('medium'),
  })
  .strict();

export const targetSchema = z.discriminatedUnion('kind', [httpTarget, tcpTarget, tlsTarget, dnsTarget, redisTarget, queueTarget, flagTarget, llmTarget, specTarget]);
export type Target = z.output<typeof targetSchema>;
export type TargetOf<K extends TargetKind> = Extract<Target, { kind: K }>;

/** A request body: JSON, at most this long once serialized. */
export const maxHookBodyChars = 65_536;

/**
 * An HTTP action a team declares for its system (restart a service, flush a cache): the
 * `http.hook` action kind calls it, by id, once an approver applies it. Header values may be
 * secrets (`{ env: NAME }`, read by the process that applies the action).
 */
export const hookActionSchema = z
  .object({
    id,
    /** The part of the team's system it acts on (a service name). */
    component: base.component,
    description: base.description,
    url: z.url({ protocol: /^https?$/ }),
    method: z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']).default('POST'),
    headers: headers.optional(),
    /** Sent as JSON (`Content-Type: application/json`). */
    body: z
      .json()
      .refine((b) => JSON.stringify(b).length <= maxHookBodyChars, `at most ${maxHookBodyChars} characters as JSON`)
      .optional(),
    /** The answer the action succeeded with; any other status leaves the application unverified. */
    expectStatus,
    expectJson: expectJson.optional(),
    /** Bound on the whole call, from connecting to the last byte of the answer. */
    timeoutMs: ms(120_000).default(10_000),
    /** How much the call can hurt when it is wrong: the risk of its plans. */
    risk: z.enum(actionRisks).default('medium'),
    /** Ids of the targets whose gaps this action fixes (each a target of this inventory). */
    targets: z.array(id).min(1).max(50).optional(),
    /** A CA file (PEM) to trust for an `https` URL, besides the system's. */
    caFile: z.string().min(1).optional(),
  })
  .strict();
export type HookAction = z.output<typeof hookActionSchema>;

export const inventorySchema = z
  .object({
    defaults: z
      .object({
        /** Bound on each probe. */
        timeoutMs: ms(120_000).default(5_000),
        /** Probes run at once. */
        concurrency: z.number().int().min(1).max(256).default(16),
      })
      .strict()
      .default({ timeoutMs: 5_000, concurrency: 16 }),
    targets: z.array(targetSchema).min(1).max(5_000),
    /** HTTP actions the `http.hook` action kind may call; absent when there are none (no default: stored inventories keep their form). */
    actions: z.array(hookActionSchema).min(1).max(500).optional(),
  })
  .strict()
  .superRefine((inv, ctx) => {
    const seen = new Map<string, number>();
    inv.targets.forEach((t, i) => {
      const first = seen.get(t.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['targets', i, 'id'], message: `target id "${t.id}" is used twice (targets ${first} and ${i})` });
      }
      seen.set(t.id, i);
    });
    const actions = new Map<string, number>();
    inv.actions?.forEach((a, i) => {
      const first = actions.get(a.id);
      if (first !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['actions', i, 'id'], message: `action id "${a.id}" is used twice (actions ${first} and ${i})` });
      }
      actions.set(a.id, i);
      if (a.method === 'GET' && a.body !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['actions', i, 'body'], message: 'a GET request has no body: use POST, PUT, PATCH or DELETE' });
      }
      a.targets?.forEach((target, j) => {
        if (!seen.has(target)) {
          ctx.addIssue({ code: 'custom', path: ['actions', i, 'targets', j], message: `target "${target}" is not a target of this inventory` });
        }
      });
    });
  });
export type Inventory = z.output<typeof inventorySchema>;
export type InventoryInput = z.input<typeof inventorySchema>;

/** The inventory in force: its version (1, 2, … in Redis), where it came from, when and by whom it was set. */
export interface InventoryVersion {
  version: number;
  source: 'built-in' | 'file' | 'api';
  /** The file's path, or the API key's name. */
  setBy: string;
  setAt: string;
  inventory: Inventory;
}

/** Where a new version of the inventory comes from: the source, who set it (file path, API key name), when. */
export interface InventoryChange {
  source: InventoryVersion['source'];
  setBy: string;
  at: Date;
}

/**
 * The inventory in force, versioned (a port: `store/inventory.store.ts` keeps it in Redis, so
 * every process audits against the same version). The last versions are kept for reference.
 */
export interface InventoryStore {
  /** The version in force; null before anything was set. */
  current(): Promise<InventoryVersion | null>;
  /** A version still kept; null when it never existed or is too old. */
  get(version: number): Promise<InventoryVersion | null>;
  /** Makes `inventory` the next version (the previous one plus 1). */
  replace(inventory: Inventory, change: InventoryChange): Promise<InventoryVersion>;
  /**
   * At start-up, from the file or the built-in inventory: the current version when it already
   * holds the same inventory (nothing is written), else a new version.
   */
  seed(inventory: Inventory, change: InventoryChange): Promise<InventoryVersion>;
}

/** With no `BSM_INVENTORY`, the auditor audits the fleet itself through the same kinds. */
export function builtInInventory(): Inventory {
  return inventorySchema.parse({
    targets: [
      { id: 'fleet-redis', kind: 'redis', component: 'bedrock-support', criticality: 'critical', description: "the fleet's own Redis", expectEvictionPolicy: 'noeviction', expectAof: true, maxMemoryShare: 0.8 },
      ...queueNames.map((q) => ({ id: `queue-${q}`, kind: 'queue' as const, component: q, criticality: 'high' as const, queue: q })),
    ],
  });
}

const masked = '***';

/** Header values given literally masked, `{ env: NAME }` kept. */
const maskHeaders = (headers: Record<string, SecretValue> | undefined) =>
  headers === undefined ? undefined : Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, typeof v === 'string' ? masked : v]));

/** The inventory as `GET …/audit/config` shows it: literal secrets (header values, Redis and URL passwords) masked, environment names kept. */
export function maskSecrets(inventory: Inventory): Inventory {
  return {
    ...inventory,
    ...(inventory.actions === undefined ? {} : { actions: inventory.actions.map((a) => ({ ...a, url: maskUrl(a.url), headers: maskHeaders(a.headers) })) }),
    targets: inventory.targets.map((t) => {
      if (t.kind === 'http') {
        return { ...t, url: maskUrl(t.url), headers: maskHeaders(t.headers) };
      }
      if (t.kind === 'redis' && typeof t.url === 'string') {
        return { ...t, url: maskUrl(t.url) };
      }
      return t;
    }),
  };
}

/** A URL as a record may keep it: no user name or password, no query string, no fragment (any of them may carry a secret). */
export function publicUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.toString();
  } catch {
    return masked;
  }
}

/** A URL with its password (and any user name's secret part) replaced. */
export function maskUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = masked;
    }
    return u.toString();
  } catch {
    return masked;
  }
}

/** Where a target is, as a person reads it in advice: its address without secrets (a URL by {@link publicUrl}). */
export function targetLocation(t: Target): string {
  switch (t.kind) {
    case 'http':
      return `${t.method} ${publicUrl(t.url)}`;
    case 'tcp':
    case 'tls':
      return `${t.host}:${t.port}`;
    case 'dns':
      return `the name ${t.name}`;
    case 'redis':
      return t.url === undefined ? "the fleet's own Redis" : typeof t.url === 'string' ? `the Redis at ${publicUrl(t.url)}` : `the Redis at $${t.url.env}`;
    case 'queue':
      return `queue ${t.queue}`;
    case 'feature-flag':
      return `feature flag ${t.flag}`;
    case 'llm':
      return `the ${t.path} LLM path`;
    case 'spec':
      return `the spec directory ${t.path}`;
  }
}
