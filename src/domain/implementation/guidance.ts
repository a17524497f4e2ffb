/**
 * Implementation guidance for one gap: the steps that close it, the settings to change, the risks
 * and how to roll back, from rules keyed by the gap's source, the inventory target's kind and the
 * check that failed (with a fallback per gap type). Pure: the gap and its target come in as
 * arguments.
 *
 * What the rules write comes from three places only: the gap's own evidence, the inventory
 * target it names, and the routes and settings of this service (a test checks that every route
 * and setting named exists). No figure is invented; secrets never appear (a URL loses its user
 * information, query and fragment; header values are never read, only header names; free text of
 * the gap passes through the Redactor).
 */
import { publicUrl, targetLocation, type Target, type TargetOf } from '../audit/inventory.js';
import { Redactor } from '../compliance/pii.js';
import { featureFlags, masterSwitch } from '../feature-flags.js';
import type { Gap, GapType } from '../gaps/gap.js';
import { specsFolder, tasksFile } from '../gaps/spec-scan.js';
import type { QueueName } from '../queue-names.js';
import { componentNames, type ComponentName } from '../support-mode/state.js';

/** One setting to change: which (see {@link settingName}), how, and why. */
export interface ConfigurationChange {
  setting: string;
  change: string;
  why: string;
}

/** What the rules say about one gap. */
export interface Guidance {
  steps: string[];
  configurationChanges: ConfigurationChange[];
  risks: string[];
  rollback: string[];
  /** Routes to read and README sections. */
  references: string[];
}

/** The fields of a gap the rules read. */
export type GuidanceGap = Pick<Gap, 'id' | 'source' | 'subject' | 'check' | 'type' | 'severity' | 'status' | 'title' | 'components' | 'evidence' | 'lastSeenAt' | 'resolvedAt' | 'resolvedBy' | 'dismissed'>;

/**
 * How a {@link ConfigurationChange} names its setting, one form per kind of setting:
 * - `env`: a variable of this service's settings (`src/config.ts`), written as itself (`AWS_REGION`);
 * - `inventory`: a field of an inventory target, `inventory <target id>.<field>`, changed with
 *   `PUT /admin/bedrock-support/audit/config` or the `BSM_INVENTORY` file;
 * - `flag`: a feature flag of the registry, `feature flag <name>`;
 * - `redis`: a configuration parameter of a Redis server (`CONFIG SET`), `redis <parameter>`.
 */
export const settingName = {
  env: (name: string) => name,
  inventory: (targetId: string, field: string) => `inventory ${targetId}.${field}`,
  flag: (name: string) => `feature flag ${name}`,
  redis: (parameter: 'maxmemory-policy' | 'appendonly' | 'maxmemory') => `redis ${parameter}`,
} as const;

const admin = '/admin/bedrock-support';

/** A URL without what may be secret in it: user information, query and fragment (the inventory's {@link publicUrl}). */
export const safeUrl = publicUrl;

// A URL runs to the next white space or quote; punctuation that ends a sentence is not part of it.
const urlInText = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>`]*[^\s"'<>`.,;:!?)\]]/gi;

/** Text with every URL in it reduced by {@link safeUrl}. */
export function withoutUrlSecrets(text: string): string {
  return text.replace(urlInText, (url) => safeUrl(url));
}

/** The inventory target a gap names: an audit gap's subject, a spec gap's subject up to its first `/`; none for the others. */
export function targetIdOf(gap: Pick<Gap, 'source' | 'subject'>): string | null {
  switch (gap.source) {
    case 'audit':
      return gap.subject;
    case 'spec': {
      const slash = gap.subject.indexOf('/');
      return slash > 0 ? gap.subject.slice(0, slash) : null;
    }
    case 'meta-monitor':
    case 'manual':
      return null;
  }
}

/** The inventory target a gap names, when the inventory in force still holds it (a spec gap's only if it is still a spec target). */
export function targetOfGap(gap: Pick<Gap, 'source' | 'subject'>, targets: readonly Target[]): Target | undefined {
  const id = targetIdOf(gap);
  const target = id === null ? undefined : targets.find((t) => t.id === id);
  return gap.source === 'spec' && target?.kind !== 'spec' ? undefined : target;
}

/**
 * The gap's free text as the guidance shows it: URLs reduced to their safe part, then redacted
 * (one Redactor for the gap, so a value keeps its placeholder across fields).
 */
export function redactedGap<G extends GuidanceGap>(gap: G): G {
  const r = new Redactor();
  const text = (s: string) => r.redact(withoutUrlSecrets(s));
  return {
    ...gap,
    title: text(gap.title),
    subject: text(gap.subject),
    components: gap.components.map(text),
    evidence: { expected: text(gap.evidence.expected), observed: text(gap.evidence.observed) },
    ...(gap.dismissed ? { dismissed: { ...gap.dismissed, reason: text(gap.dismissed.reason) } } : {}),
  };
}

/** What a rule adds; the parts of several rules are concatenated. */
type Parts = Partial<Guidance>;

/** Guidance for a gap, already redacted by {@link redactedGap}, and the target it names (when the inventory still holds it). */
export function guidanceFor(gap: GuidanceGap, target: Target | undefined): Guidance {
  const g = redactedGap(gap);
  const parts: Parts[] = [statusParts(g)];
  switch (g.source) {
    case 'audit':
      parts.push(target === undefined ? goneTarget(g) : auditParts(g, target));
      break;
    case 'spec':
      parts.push(specParts(g, target?.kind === 'spec' ? target : undefined));
      break;
    case 'meta-monitor':
      parts.push(metaMonitorParts(g));
      break;
    case 'manual':
      parts.push(manualParts(g));
      break;
  }
  parts.push({ references: [`GET ${admin}/implementation/gaps/${g.id} (the gap: evidence, sightings, history)`, 'README: Gaps › Guidance'] });
  return merge(parts);
}

function merge(parts: readonly Parts[]): Guidance {
  const unique = <T>(items: T[], key: (x: T) => string) => [...new Map(items.map((x) => [key(x), x])).values()];
  const all = <K extends keyof Guidance>(k: K) => parts.flatMap((p) => (p[k] ?? []) as Guidance[K][number][]);
  return {
    steps: unique(all('steps'), (s) => s),
    configurationChanges: unique(all('configurationChanges'), (c) => c.setting),
    risks: unique(all('risks'), (s) => s),
    rollback: unique(all('rollback'), (s) => s),
    references: unique(all('references'), (s) => s),
  };
}

function statusParts(g: GuidanceGap): Parts {
  if (g.status === 'resolved') {
    return { steps: [`This gap is resolved${g.resolvedBy ? ` by ${g.resolvedBy}` : ''}${g.resolvedAt ? ` at ${g.resolvedAt}` : ''}: the steps below are for when it is seen again.`] };
  }
  if (g.status === 'dismissed' && g.dismissed) {
    return { steps: [`This gap was dismissed by ${g.dismissed.by} at ${g.dismissed.at} ("${g.dismissed.reason}"): it stays dismissed while it is seen again; the steps below close it for good.`] };
  }
  return {};
}

// ---------------------------------------------------------------------------------------------
// Audit gaps: subject = target id, check = the probe's check

const quoteJson = (value: unknown) => JSON.stringify(value);

function reprobe(targetId: string): string {
  return `Re-probe it alone: POST ${admin}/audit/trigger with ${quoteJson({ type: 'targeted', targets: [targetId] })} (operate), then GET ${admin}/audit/status/{auditId} until it is completed; the gap is resolved when the check passes.`;
}

const inventoryRollback = `Keep your own copy of the inventory before changing it (GET ${admin}/audit/config masks secrets given literally, so its answer cannot be put back as is) and PUT ${admin}/audit/config with that copy (administer) to undo the change.`;
const inventoryRisk = 'Changing the inventory to match what was observed hides the problem from every later audit: change it only when the new value is what is intended.';

/** How the auditor sees the target, without secrets. */
const where = targetLocation;

function goneTarget(g: GuidanceGap): Parts {
  return {
    steps: [
      `Target ${g.subject} is no longer in the inventory in force (GET ${admin}/audit/config lists the targets): no audit probes it, so none will resolve this gap.`,
      `If the target was retired, dismiss the gap: POST ${admin}/implementation/gaps/${g.id}/dismiss with {"reason": "…"} (operate). If it was renamed, the new id gets gaps of its own.`,
      `What the last audit saw: expected ${g.evidence.expected}, observed ${g.evidence.observed}.`,
    ],
    risks: ['Dismissing a gap of a target that still exists under another id leaves nothing watching it if that target was dropped by mistake.'],
    rollback: [`A dismissal is not undone by a route; a target added back to the inventory is probed again, and its gap is counted (it stays dismissed).`],
    references: [`GET ${admin}/audit/config`, 'README: The infrastructure auditor › Inventory'],
  };
}

function auditParts(g: GuidanceGap, t: Target): Parts {
  const own = rulesOf(g, t);
  return merge([
    { steps: [`${g.title}: expected ${g.evidence.expected}, observed ${g.evidence.observed} (target ${t.id}, component ${t.component}, criticality ${t.criticality}; last seen ${g.lastSeenAt}).`] },
    own ?? byType(g, t),
    {
      steps: [reprobe(t.id)],
      references: [`GET ${admin}/audit/config (target ${t.id} as the auditor probes it, secrets masked)`, `GET ${admin}/audits/last-24h`, 'README: The infrastructure auditor'],
    },
  ]);
}

/** The rules of the target's kind for the gap's check; null when none has a rule for it. */
function rulesOf(g: GuidanceGap, t: Target): Parts | null {
  if (g.check === 'reachable') {
    return reachable(g, t);
  }
  if (g.check === 'config') {
    return misconfigured(g, t);
  }
  switch (t.kind) {
    case 'http':
      return httpRules(g, t);
    case 'tcp':
      return g.check === 'latency' ? latency(g, t, 'the connection') : null;
    case 'tls':
      return tlsRules(g, t);
    case 'dns':
      return dnsRules(g, t);
    case 'redis':
      return redisRules(g, t);
    case 'queue':
      return queueRules(g, t);
    case 'feature-flag':
      return g.check === 'value' ? flagValue(g, t) : null;
    case 'llm':
      return llmRules(g, t);
    case 'spec':
      return g.check === 'specs-folder' ? specsFolderMissing(g, t) : null;
  }
}

/** The cause the probe gave, from `unreachable (<cause>): <detail>`. */
function causeIn(observed: string): string | null {
  return /^unreachable \(([a-z_]+)\)/.exec(observed)?.[1] ?? null;
}

function reachable(g: GuidanceGap, t: Target): Parts {
  const cause = causeIn(g.evidence.observed);
  const byCause: Record<string, string> = {
    dns: `The name does not resolve from the worker hosts: check its DNS record, or the name in the inventory.`,
    refused: `Nothing accepts connections there: check that ${t.component}'s service runs and listens on that port.`,
    timeout: 'No answer within the probe\'s timeout: check the firewall and routes between the worker hosts and the target, and whether the target is overloaded.',
    tls: 'The TLS handshake failed: check the certificate and protocol versions the target offers (a `tls` target of the inventory reports the certificate in detail).',
    unauthorized: `The target refused the auditor's credentials: renew them where the worker processes of infrastructure-auditor read them.`,
    not_configured: 'The auditor lacks what the target needs (a variable, a file): see the observed detail.',
  };
  return {
    steps: [
      byCause[cause ?? ''] ?? `The auditor could not reach ${where(t)}: check that ${t.component}'s service runs and that the worker hosts may connect to it.`,
      `GET ${admin}/audit/permissions says whether the worker processes can reach each target now, and why not.`,
      `Look at ${t.component}'s own health and logs for the time the gap was last seen (${g.lastSeenAt}).`,
    ],
    configurationChanges: t.kind === 'spec' ? [{ setting: settingName.inventory(t.id, 'path'), change: 'the directory the worker processes read the specs from', why: 'only if the specs moved' }] : [],
    risks: t.kind === 'spec' ? [inventoryRisk] : ['Opening a firewall for the auditor opens it for everything on the worker hosts: open the one port, to those hosts only.'],
    rollback: t.kind === 'spec' ? [inventoryRollback] : ['Undo network changes that did not bring the target back before trying the next cause.'],
  };
}

function misconfigured(g: GuidanceGap, t: Target): Parts {
  const variables = [...g.evidence.observed.matchAll(/environment variable ([A-Za-z_][A-Za-z0-9_]*) is not set/g)].map((m) => m[1] ?? '');
  const caFile = /CA file .* cannot be read/.test(g.evidence.observed);
  const steps = [
    ...variables.map((v) => `Set ${v} in the environment of every worker process of infrastructure-auditor (the probes run there, and read it on every probe; the value is never stored).`),
    ...(caFile ? ['Make the CA file the target names readable by the worker processes of infrastructure-auditor, on every host that runs them.'] : []),
  ];
  const fields = t.kind === 'http' ? ['headers', 'caFile'] : t.kind === 'tls' ? ['caFile'] : t.kind === 'redis' ? ['url'] : [];
  return {
    steps: steps.length > 0 ? steps : ['The auditor lacks a variable or file the target names: see the observed detail.'],
    configurationChanges: fields.map((f) => ({ setting: settingName.inventory(t.id, f), change: f === 'caFile' ? 'a path the worker processes can read' : 'a secret as {"env": "NAME"} of a variable the worker processes have', why: 'only if the target should name another variable or file' })),
    risks: ['A secret written into the inventory literally is stored in Redis (masked when read back); give it as {"env": "NAME"} instead.'],
    rollback: [inventoryRollback],
  };
}

function latency(g: GuidanceGap, t: TargetOf<'http' | 'tcp' | 'redis' | 'llm'>, what: string): Parts {
  return {
    steps: [
      `Compare with the audits before (GET ${admin}/audits/last-24h): one slow probe, or ${what.toLowerCase()} of ${where(t)} slowing down over time.`,
      `Look at the load of ${t.component}'s hosts and at what it calls in turn, for the time the gap was last seen (${g.lastSeenAt}).`,
    ],
    configurationChanges: [{ setting: settingName.inventory(t.id, 'latencyBudgetMs'), change: 'a budget that matches what users of the target need', why: 'only if the budget itself was wrong' }],
    risks: [inventoryRisk],
    rollback: [inventoryRollback],
  };
}

function httpRules(g: GuidanceGap, t: TargetOf<'http'>): Parts | null {
  if (g.check === 'status') {
    return httpStatus(g, t);
  }
  if (g.check === 'latency') {
    return latency(g, t, 'The whole answer');
  }
  if (g.check.startsWith('json.')) {
    const path = g.check.slice('json.'.length);
    return {
      steps: [
        `Check the configuration and the version ${t.component} runs: a deployment or a setting changed the ${path} it reports.`,
        `Read the same answer as the auditor does, from a worker host, with the headers the target names${headerNames(t)}.`,
      ],
      configurationChanges: [{ setting: settingName.inventory(t.id, 'expectJson'), change: `${path}: the value the service is meant to report`, why: 'only if the service now reports another value on purpose' }],
      risks: [inventoryRisk],
      rollback: [inventoryRollback],
    };
  }
  return null;
}

function headerNames(t: TargetOf<'http'>): string {
  const names = Object.keys(t.headers ?? {});
  return names.length === 0 ? ' (none)' : ` (${names.join(', ')})`;
}

function httpStatus(g: GuidanceGap, t: TargetOf<'http'>): Parts {
  const status = Number(g.evidence.observed);
  const envs = Object.values(t.headers ?? {}).flatMap((v) => (typeof v === 'string' ? [] : [v.env]));
  const byClass =
    status === 401 || status === 403
      ? `A ${status} is the service refusing the auditor's credentials: the target sends the headers${headerNames(t)}${envs.length > 0 ? `, read from ${envs.join(', ')}` : ''}. Check that the credential is still valid and that every worker process of infrastructure-auditor has it.`
      : status >= 300 && status < 400
        ? `A ${status} is a redirect, which the probe does not follow: point the target at the address the service answers at now.`
        : status === 404 || status === 410
          ? `A ${status} says the route is not there: compare the path with what the deployed ${t.component} serves.`
          : status >= 500
            ? `A ${status} is ${t.component} failing: read its own health and logs around ${g.lastSeenAt}, and what it depends on.`
            : `Find out why ${t.component} answers ${g.evidence.observed}: its own health and logs around ${g.lastSeenAt}.`;
  const changes: ConfigurationChange[] =
    status === 401 || status === 403
      ? [{ setting: settingName.inventory(t.id, 'headers'), change: 'the credential as {"env": "NAME"}, a variable of the worker processes', why: 'if the service now wants another credential' }]
      : (status >= 300 && status < 400) || status === 404 || status === 410
        ? [{ setting: settingName.inventory(t.id, 'url'), change: 'the address the service answers at now', why: 'if the service moved on purpose' }]
        : [{ setting: settingName.inventory(t.id, 'expectStatus'), change: `add ${g.evidence.observed} only if the service answers it on purpose`, why: `the inventory expects ${g.evidence.expected}` }];
  return {
    steps: [byClass],
    configurationChanges: changes,
    risks: [inventoryRisk, ...(status === 401 || status === 403 ? ['A new credential must reach every worker process before the old one is revoked, or every audit fails this check meanwhile.'] : [])],
    rollback: [inventoryRollback, ...(status === 401 || status === 403 ? ['Keep the old credential valid until an audit passes with the new one.'] : [])],
  };
}

function tlsRules(g: GuidanceGap, t: TargetOf<'tls'>): Parts | null {
  const name = t.servername ?? t.host;
  const intermediates = 'A certificate deployed without its intermediate certificates fails the `certificate` check (clients cannot build the chain).';
  const keepOld = `Keep the certificate and key served now until the new ones pass an audit, and serve the old ones again if clients fail the handshake.`;
  switch (g.check) {
    case 'days-left':
      return {
        steps: [
          `Renew the certificate ${where(t)} serves for ${name}: ${g.evidence.observed} left, the inventory wants ${g.evidence.expected}.`,
          'Deploy the new certificate with its intermediate chain, and reload the server that terminates TLS there.',
          'Automate the renewal (ACME or the issuer\'s own) so it cannot lapse again.',
        ],
        configurationChanges: [],
        risks: [intermediates, 'A certificate issued for other names fails the `name` check.'],
        rollback: [keepOld],
      };
    case 'certificate':
      return {
        steps: [
          `${where(t)} presents a chain clients do not trust (${g.evidence.observed}).`,
          'Serve the full chain (the certificate and its intermediates); for a private CA, name its file in the target\'s `caFile` so the auditor trusts it as your clients do.',
        ],
        configurationChanges: [{ setting: settingName.inventory(t.id, 'caFile'), change: 'the PEM file of the private CA, readable by the worker processes', why: 'only when the certificate is issued by a private CA on purpose' }],
        risks: [intermediates, inventoryRisk],
        rollback: [keepOld, inventoryRollback],
      };
    case 'name':
      return {
        steps: [`The certificate of ${where(t)} carries ${g.evidence.observed}, not ${name}: issue one that names ${name}, or point the target at the name clients use.`],
        configurationChanges: [{ setting: settingName.inventory(t.id, 'servername'), change: 'the name clients ask for', why: 'only if clients use another name than the one checked' }],
        risks: [inventoryRisk],
        rollback: [keepOld, inventoryRollback],
      };
    default:
      return null;
  }
}

function dnsRules(g: GuidanceGap, t: TargetOf<'dns'>): Parts | null {
  switch (g.check) {
    case 'resolves':
      return {
        steps: [`${t.name} does not resolve from the worker hosts (${g.evidence.observed}): create or fix its record; if the name is retired, drop the target.`],
        configurationChanges: [],
        risks: ['A record that is fixed takes up to its TTL to reach every resolver.'],
        rollback: ['Put the previous record back; caches keep the new one for its TTL.'],
      };
    case 'addresses':
      return {
        steps: [`${t.name} resolves to ${g.evidence.observed}, not ${g.evidence.expected}: fix the record, or the inventory if the addresses changed on purpose.`],
        configurationChanges: [{ setting: settingName.inventory(t.id, 'expectAddresses'), change: 'the addresses the name is meant to have', why: 'only if they changed on purpose' }],
        risks: ['An unexpected address may be a hijacked record: find out who changed it before changing it back.', inventoryRisk],
        rollback: ['Put the previous record back; caches keep the new one for its TTL.', inventoryRollback],
      };
    default:
      return null;
  }
}

const fleetRetention = ['BSM_KEEP_COMPLETED_HOURS', 'BSM_KEEP_FAILED_HOURS', 'BSM_KEEP_COMPLETED_COUNT', 'BSM_KEEP_FAILED_COUNT', 'BSM_EXECUTION_RETENTION_DAYS'];

function redisRules(g: GuidanceGap, t: TargetOf<'redis'>): Parts | null {
  const persist = 'Write the same value into that server\'s redis.conf (or `CONFIG REWRITE`), or a restart brings the old one back.';
  switch (g.check) {
    case 'latency':
      return latency(g, t, 'A PING');
    case 'eviction-policy':
      return {
        steps: [`Set maxmemory-policy ${g.evidence.expected} on ${where(t)} (now ${g.evidence.observed}): CONFIG SET maxmemory-policy ${g.evidence.expected}.`, persist],
        configurationChanges: [{ setting: settingName.redis('maxmemory-policy'), change: `${g.evidence.observed} → ${g.evidence.expected}`, why: 'an evicting Redis drops keys silently, queue and job keys among them' }],
        risks: ['With noeviction a full Redis refuses writes (OOM errors) instead of dropping keys: watch the `memory` check and maxmemory.'],
        rollback: [`CONFIG SET maxmemory-policy ${g.evidence.observed}, and the same in redis.conf.`],
      };
    case 'aof':
      return {
        steps: [`Turn the append-only file ${g.evidence.expected} on ${where(t)} (now ${g.evidence.observed}): CONFIG SET appendonly ${g.evidence.expected === 'on' ? 'yes' : 'no'}.`, persist],
        configurationChanges: [{ setting: settingName.redis('appendonly'), change: `${g.evidence.observed} → ${g.evidence.expected}`, why: 'without it, jobs and state written since the last snapshot are lost on a restart' }],
        risks: ['The append-only file costs disk space and write I/O, and its rewrite forks the server: check the disk before turning it on.'],
        rollback: [`CONFIG SET appendonly ${g.evidence.expected === 'on' ? 'no' : 'yes'}, and the same in redis.conf.`],
      };
    case 'memory': {
      const own = t.url === undefined;
      return {
        steps: [
          own
            ? `Find what holds the memory (MEMORY STATS, the largest keys): kept jobs and execution records are most of this service's data; Bull Board (/admin/queues) can clean old completed and failed jobs (operate).`
            : `Find what holds the memory on that server (MEMORY STATS, the largest keys) with its owners.`,
        ],
        configurationChanges: [
          { setting: settingName.redis('maxmemory'), change: 'a larger limit, within what the host has', why: 'room before writes fail' },
          ...(own ? fleetRetention.map((s) => ({ setting: settingName.env(s), change: 'a shorter retention', why: 'less kept history in the fleet\'s Redis' })) : []),
        ],
        risks: ['A maxmemory above what the host has lets the kernel kill Redis instead.', ...(own ? ['Shorter retention drops job history that audits, analyses and Bull Board read.'] : [])],
        rollback: ['CONFIG SET maxmemory back to its value before (read it first with CONFIG GET maxmemory).', ...(own ? ['Set the retention variables back and restart the processes; jobs already removed stay removed.'] : [])],
      };
    }
    default:
      return null;
  }
}

/** The settings variable of a queue (`BSM_<QUEUE>_<suffix>`), as `src/config.ts` names it. */
export function queueSettingName(queue: string, suffix: 'CONCURRENCY' | 'RATE_MAX' | 'RATE_DURATION_MS'): string {
  return `BSM_${queue.toUpperCase().replaceAll('-', '_')}_${suffix}`;
}

const isComponent = (q: string): q is ComponentName => (componentNames as readonly string[]).includes(q);

function queueRules(g: GuidanceGap, t: TargetOf<'queue'>): Parts | null {
  const q: QueueName = t.queue;
  switch (g.check) {
    case 'workers': {
      const paused = g.evidence.observed.includes('paused');
      return {
        steps: [
          `GET /health/component/${q} shows its live workers and signals.`,
          ...(paused
            ? [
                `The queue is paused: support mode keeps a queue paused while it is disabled, while its component is not active, and after an emergency shutdown; GET ${admin}/status says which.`,
                isComponent(q) ? `Activate it: POST ${admin}/activate-component with ${quoteJson({ component: q })} (operate).` : `Enable support mode: POST ${admin}/enable (operate).`,
              ]
            : []),
          `Start a worker process for it where the workers run: \`bsm worker --queues ${q}\` (or \`bsm all\`).`,
        ],
        configurationChanges: [],
        risks: ['Once the queue runs, the jobs that waited run at once, scheduled ones included.'],
        rollback: isComponent(q) ? [`POST ${admin}/deactivate with ${quoteJson({ components: [q] })} (operate) pauses the queue again.`] : ['Stop the worker process that was started.'],
      };
    }
    case 'failed-ratio':
      return {
        steps: [
          `Group the failures: POST ${admin}/meta-monitor/analyze with ${quoteJson({ source: 'fleet', focus: 'failures' })} (operate) analyses this service's own finished jobs; once done, GET ${admin}/meta-monitor/insights?source=fleet lists the failure clusters (template, count, operations).`,
          `Read the failed jobs of ${q} in Bull Board (/admin/queues): the failed reason and stack of the largest cluster.`,
          'Fix the cause first, then retry the failed jobs from Bull Board (operate; each retry is in the audit trail). Retried before the fix, they fail again.',
        ],
        configurationChanges: [],
        risks: ['A retried job runs again from the start: whatever it did before failing happens twice.'],
        rollback: ['A retry cannot be undone: retry a few jobs first and read their results before retrying the rest.'],
        references: [`GET ${admin}/meta-monitor/recommendations?source=fleet`, 'README: Failure clustering'],
      };
    case 'oldest-waiting':
      return {
        steps: [
          `GET /health/component/${q} shows whether the queue is paused, its workers and what they run; GET ${admin}/status whether its component is active.`,
          `Analyse the waits: POST ${admin}/meta-monitor/analyze with ${quoteJson({ source: 'fleet', focus: 'performance' })} (operate); GET ${admin}/meta-monitor/recommendations?source=fleet may then hold a concurrency change to dry-run with POST ${admin}/meta-monitor/optimize and {"recommendation_id": "…"} (an approver applies it with "apply": true).`,
        ],
        configurationChanges: [{ setting: settingName.env(queueSettingName(q, 'CONCURRENCY')), change: 'raise it, within what the worker hosts and the services the jobs call can take', why: 'each worker process runs that many of the queue\'s jobs at once' }],
        risks: ['More jobs at once put more load on what they call (an LLM provider\'s quota among them) and can turn waits into throttling.'],
        rollback: [`Set ${queueSettingName(q, 'CONCURRENCY')} back and restart the worker processes; an applied optimization is reverted with POST ${admin}/meta-monitor/optimizations/{id}/revert (approve).`],
      };
    default:
      return null;
  }
}

function flagValue(g: GuidanceGap, t: TargetOf<'feature-flag'>): Parts {
  const flag = featureFlags[t.flag];
  const want = g.evidence.expected === 'enabled' ? 'enable' : 'disable';
  const undo = want === 'enable' ? 'disable' : 'enable';
  return {
    steps: [
      `GET /admin/feature-flags/${t.flag} says who changed it last, when and why.`,
      `If the inventory is right: POST /admin/feature-flags/${t.flag}/${want} with {"reason": "…"} (${flag.permission}).`,
    ],
    configurationChanges: [
      { setting: settingName.flag(t.flag), change: `${g.evidence.observed} → ${g.evidence.expected}`, why: flag.description },
      { setting: settingName.inventory(t.id, 'expected'), change: `${g.evidence.observed === 'enabled'}`, why: 'instead, if the flag was changed on purpose' },
    ],
    risks: [t.flag === masterSwitch ? 'The master switch moves support mode itself: disabling it pauses every component\'s queue.' : `What the flag does: ${flag.description}`, inventoryRisk],
    rollback: [`POST /admin/feature-flags/${t.flag}/${undo} (${flag.permission}).`, inventoryRollback],
    references: ['README: Feature flags'],
  };
}

function llmRules(g: GuidanceGap, t: TargetOf<'llm'>): Parts | null {
  const direct = t.path === 'direct';
  const restart = 'Settings are read at start-up: restart every process (api, workers) after changing them.';
  switch (g.check) {
    case 'configured':
      return {
        steps: [direct ? 'Set BEDROCK_ENABLED=true, AWS_REGION and BEDROCK_MODEL_ID; the AWS credentials come from the SDK\'s credential chain.' : 'Set MCP_URL (and MCP_REGION, where the server has prompts processed).', restart, 'GET /health/bedrock-support/detailed shows each path as the router sees it.'],
        configurationChanges: direct
          ? [
              { setting: settingName.env('BEDROCK_ENABLED'), change: 'true', why: 'turns the direct path on' },
              { setting: settingName.env('AWS_REGION'), change: 'a region inside the EU allow-list', why: 'where prompts are processed' },
            ]
          : [
              { setting: settingName.env('MCP_URL'), change: 'the MCP server\'s address', why: 'turns the MCP path on' },
              { setting: settingName.env('MCP_REGION'), change: 'the region the server processes prompts in', why: 'lets the router check EU residency for it' },
            ],
        risks: ['A configured path is paid for: set BSM_LLM_DAILY_BUDGET_USD and BSM_LLM_MONTHLY_BUDGET_USD before turning it on.'],
        rollback: [direct ? 'Set BEDROCK_ENABLED=false and restart: the router answers from the other path or the local writer.' : 'Unset MCP_URL and restart: the router answers from the other path or the local writer.'],
        references: ['README: The LLM layer'],
      };
    case 'residency':
      return {
        steps: [`${where(t)} would send prompts outside the EU allow-list (${g.evidence.observed}); the router refuses it meanwhile.`, direct ? 'Move it to an allowed region (AWS_REGION), and use a model id that is not a non-EU cross-region profile (BEDROCK_MODEL_ID).' : 'Point MCP_URL at a server that processes prompts in an allowed region, and say which in MCP_REGION.', restart],
        configurationChanges: direct
          ? [
              { setting: settingName.env('AWS_REGION'), change: 'a region inside the EU allow-list', why: 'prompts must not leave it' },
              { setting: settingName.env('BEDROCK_MODEL_ID'), change: 'a model or an `eu.` profile', why: 'a `us.`, `apac.` or `global.` profile may be served outside the EU' },
            ]
          : [{ setting: settingName.env('MCP_REGION'), change: 'the allowed region the server processes prompts in', why: 'the router checks it' }],
        risks: ['BSM_ALLOW_NON_EU_REGION=true would silence this check by leaving EU data residency: not a fix.'],
        rollback: ['Set the previous values back and restart.'],
        references: ['README: The LLM layer'],
      };
    case 'breaker':
      return {
        steps: [
          `The circuit breaker of ${where(t)} is ${g.evidence.observed}: the router skips the path meanwhile.`,
          `GET /health/bedrock-support/detailed shows the path's state and last error; GET ${admin}/metrics/routing?window=1h its errors and timeouts.`,
          'Fix what fails on the provider\'s side (credentials, quota, the endpoint); the breaker lets a trial call through after a while and closes after successful ones.',
        ],
        configurationChanges: [],
        risks: ['While the breaker is open, narratives and answers come from the fallback path or the local writer.'],
        rollback: ['Nothing to roll back: the breaker follows the provider\'s answers.'],
        references: ['README: The LLM layer'],
      };
    case 'answers':
      return {
        steps: [
          `${where(t)} did not answer a minimal request: ${g.evidence.observed}.`,
          g.evidence.observed.startsWith('not asked') ? `The router refuses the path: GET /health/bedrock-support/detailed says why (breaker, budget, region); GET ${admin}/costs shows the spend against the budgets.` : 'Check the provider\'s credentials, quota and endpoint as the worker processes see them.',
          `Once fixed, POST /test/bedrock-support/infrastructure-auditor (operate, the component active) makes one call through the router and says which path answered.`,
        ],
        configurationChanges: [],
        risks: ['Each probe and test of the path is a paid call.'],
        rollback: ['Nothing to roll back on this service\'s side.'],
        references: ['README: The LLM layer'],
      };
    case 'latency':
      return merge([
        latency(g, t, 'A minimal request'),
        { configurationChanges: [{ setting: settingName.env('BSM_ROUTING_MATRIX'), change: 'a latency budget per operation that the path can meet', why: 'the router cuts a call at its operation\'s budget' }], rollback: ['Set BSM_ROUTING_MATRIX back and restart.'] },
      ]);
    default:
      return null;
  }
}

function specsFolderMissing(g: GuidanceGap, t: TargetOf<'spec'>): Parts {
  return {
    steps: [`${t.path} holds no ${specsFolder} folder (${g.evidence.observed}): point the target at the root of the repository the primary agent writes its specs in.`],
    configurationChanges: [{ setting: settingName.inventory(t.id, 'path'), change: `the directory that holds ${specsFolder}`, why: 'the spec scan reads the task lists there' }],
    risks: ['Without the folder, every spec gap of this target is resolved by the next scan.', inventoryRisk],
    rollback: [inventoryRollback],
    references: ['README: The spec scan'],
  };
}

/** The rule of the gap's type, for a check no kind has a rule for. */
function byType(g: GuidanceGap, t: Target | undefined): Parts {
  const at = t === undefined ? 'it' : where(t);
  const first: Record<GapType, string> = {
    missing_implementation: `Build or deploy what ${at} should provide: ${g.evidence.expected}.`,
    incomplete_feature: `Finish ${at}: ${g.evidence.expected} is not there yet (${g.evidence.observed}).`,
    broken_integration: `Repair ${at}: expected ${g.evidence.expected}, saw ${g.evidence.observed}.`,
    performance_issue: `Find what slows ${at}: ${g.evidence.observed} against ${g.evidence.expected}.`,
    security_vulnerability: `Fix the security problem of ${at} before anything else: ${g.evidence.observed} (expected ${g.evidence.expected}).`,
    configuration_drift: `Bring ${at} back to its declared configuration: ${g.evidence.expected} (now ${g.evidence.observed}).`,
  };
  return { steps: [first[g.type]], risks: g.type === 'security_vulnerability' ? ['Until it is fixed, the exposure stays: consider taking the affected part out of service.'] : [] };
}

// ---------------------------------------------------------------------------------------------
// Spec gaps: subject `<target id>/<spec>/<task text>`, check `task`

function specParts(g: GuidanceGap, t: TargetOf<'spec'> | undefined): Parts {
  const targetId = targetIdOf(g) ?? '';
  const rest = g.subject.slice(targetId.length + 1);
  const slash = rest.indexOf('/');
  const spec = slash > 0 ? rest.slice(0, slash) : rest;
  const task = slash > 0 ? rest.slice(slash + 1) : '';
  const at = /(\S+\/tasks\.md) line (\d+)/.exec(g.evidence.observed);
  const file = at?.[1] ?? `${specsFolder}/${spec}/${tasksFile}`;
  const line = at?.[2];
  const root = t === undefined ? `spec target ${targetId}'s directory (no longer in the inventory)` : t.path;
  const scan = `Scan again: POST ${admin}/implementation/spec-scan with ${quoteJson({ targets: [targetId] })} (operate), then GET ${admin}/implementation/spec-scan/{scanId} for the result.`;
  const open = `Open ${file}${line ? ` at line ${line}` : ''} under ${root}: the task "${task}" is open.`;
  const references = [`GET ${admin}/implementation/gaps?source=spec&open=true (the other open tasks)`, 'README: The spec scan'];
  if (g.type === 'missing_implementation') {
    const suffix = ` under ${targetId}'s spec directory`;
    const files = (g.evidence.expected.endsWith(suffix) ? g.evidence.expected.slice(0, -suffix.length) : g.evidence.expected).split(', ').filter((f) => f !== '');
    return {
      steps: [
        open,
        ...files.map((f) => `Create ${f} under ${root}: the task names it and it does not exist.`),
        'Write in it what the task asks, then tick the task ([x]) once the work is done.',
        `${scan} With the file there the gap becomes an incomplete_feature gap; ticked, it is resolved.`,
      ],
      configurationChanges: [],
      risks: ['The scan checks that a named file exists, not what it holds: an empty file satisfies it.', ...(t === undefined ? ['The target is not in the inventory: no scan reads it, so nothing resolves this gap.'] : [])],
      rollback: ['Delete the file: the next scan opens the missing_implementation gap again.'],
      references,
    };
  }
  return {
    steps: [open, 'Do what it asks, then tick it ([x]) in the same file.', `${scan} A ticked task's gap is resolved.`],
    configurationChanges: [],
    risks: ['The scan reads only the box: ticking a task that is not done resolves the gap without the work.', ...(t === undefined ? ['The target is not in the inventory: no scan reads it, so nothing resolves this gap.'] : [])],
    rollback: ['Untick it ([ ]): the next scan reopens the gap.'],
    references,
  };
}

// ---------------------------------------------------------------------------------------------
// Meta-monitor gaps: subject `<source>:cluster:<id>` or `<source>:operation:<name>`

function metaMonitorParts(g: GuidanceGap): Parts {
  const m = /^(agent|fleet):(cluster|operation):(.*)$/.exec(g.subject);
  const source = m?.[1] ?? 'agent';
  const name = m?.[3] ?? g.subject;
  const fleet = source === 'fleet';
  const reanalyse = (focus: 'failures' | 'performance') =>
    `Analyse again once it is fixed: POST ${admin}/meta-monitor/analyze with ${quoteJson({ source, focus })} (operate); an analysis that no longer sees it resolves the gap.`;
  const insights = `GET ${admin}/meta-monitor/insights?source=${source}`;
  const recommendations = `GET ${admin}/meta-monitor/recommendations?source=${source}`;
  const optimize = `an executable one can be dry-run with POST ${admin}/meta-monitor/optimize and {"recommendation_id": "…"}, and applied by an approver with "apply": true`;
  const queues = g.components.filter((c) => c !== 'agent');
  const revert = `An applied optimization is reverted with POST ${admin}/meta-monitor/optimizations/{id}/revert (approve).`;
  const base: Parts = { references: [insights, recommendations, 'README: The meta-monitor: analyses, insights, recommendations, optimizations'] };

  if (g.check === 'failure_cluster') {
    return merge([
      base,
      {
        steps: [
          `${g.title}: ${g.evidence.observed}; the expectation is ${g.evidence.expected}.`,
          `${insights} lists the cluster (id ${name}) with its template, operations and sample executions.`,
          fleet
            ? `Read the failed jobs of ${queues.length > 0 ? queues.join(', ') : 'its queues'} in Bull Board (/admin/queues); fix the cause, then retry them from there (operate).`
            : 'The failures are the agent\'s own executions: fix the tool, prompt or service the sample executions point at; nothing is retried here.',
          `${recommendations} may hold a recommendation for it (a rate limit for a throttled queue); ${optimize}.`,
          reanalyse('failures'),
        ],
        configurationChanges: [],
        risks: [...(fleet ? ['A retried job runs again from the start: whatever it did before failing happens twice.'] : []), 'A rate limit slows the whole queue, not only the failing jobs.'],
        rollback: [...(fleet ? ['A retry cannot be undone: retry a few jobs first.'] : []), revert],
        references: ['README: Failure clustering'],
      },
    ]);
  }
  if (g.check.startsWith('bottleneck:')) {
    const kind = g.check.slice('bottleneck:'.length);
    const queueWait = kind === 'queue_wait';
    return merge([
      base,
      {
        steps: [
          `${name}: ${g.evidence.observed}, against ${g.evidence.expected} (${kind.replace('_', ' ')}).`,
          queueWait
            ? `Its jobs wait in ${queues.length > 0 ? queues.join(', ') : 'their queue'}: GET /health/component/<queue> shows the workers and what they run; more workers or concurrency shorten the wait.`
            : kind === 'time_share'
              ? `${name} takes most of the execution time: start there, whatever else is slow.`
              : `Profile ${name}: what it calls and where its p95 goes.`,
          `${recommendations} holds the analysis's advice for it; ${optimize}.`,
          reanalyse('performance'),
        ],
        configurationChanges: queueWait ? queues.map((q) => ({ setting: settingName.env(queueSettingName(q, 'CONCURRENCY')), change: 'raise it, within what the worker hosts can take', why: 'each worker process runs that many of the queue\'s jobs at once' })) : [],
        risks: queueWait ? ['More jobs at once put more load on what they call and can turn waits into throttling.'] : [],
        rollback: [revert, ...(queueWait ? ['Set the concurrency back and restart the worker processes.'] : [])],
      },
    ]);
  }
  if (g.check.startsWith('degradation:')) {
    const what = g.check === 'degradation:latency_p95' ? 'p95 latency' : 'error rate';
    return merge([
      base,
      {
        steps: [
          `${g.title}: ${g.evidence.observed} now, ${g.evidence.expected}.`,
          `Find what changed between the two windows for ${name} (a deployment, a setting, a provider): ${insights} has the degradation with both figures.`,
          reanalyse(g.check === 'degradation:latency_p95' ? 'performance' : 'failures'),
        ],
        configurationChanges: [],
        risks: [`A ${what} that rose after a change usually falls when the change is rolled back: weigh that before fixing forward.`],
        rollback: [revert],
      },
    ]);
  }
  return merge([base, byType(g, undefined), { steps: [reanalyse('failures')] }]);
}

// ---------------------------------------------------------------------------------------------
// Gaps reported by hand

function manualParts(g: GuidanceGap): Parts {
  const said = [g.evidence.expected ? `expected: ${g.evidence.expected}` : '', g.evidence.observed ? `observed: ${g.evidence.observed}` : ''].filter((s) => s !== '');
  return merge([
    {
      steps: [`Reported by hand: ${g.title}${said.length > 0 ? ` (${said.join('; ')})` : ''}${g.components.length > 0 ? `, in ${g.components.join(', ')}` : ''}.`],
    },
    byType(g, undefined),
    {
      steps: [
        `Rank it among the other work: GET ${admin}/implementation/backlog; POST ${admin}/implementation/backlog/prioritize with ${quoteJson({ items: [{ id: g.id, priority: g.severity }] })} (operate) sets its priority by hand.`,
        `No scan resolves a gap reported by hand: once it is fixed, close it with POST ${admin}/implementation/gaps/${g.id}/dismiss and {"reason": "fixed: …"} (operate).`,
      ],
      risks: ['Dismissing it before the fix is verified leaves nothing tracking the problem.'],
      rollback: ['Each change made for it is rolled back the way the team deploys it; a dismissed gap reported again is counted but stays dismissed.'],
      references: [`GET ${admin}/implementation/backlog`, 'README: Gaps › The backlog'],
    },
  ]);
}
