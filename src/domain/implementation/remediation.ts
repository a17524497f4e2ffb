/**
 * Remediation of a gap: which actions of the catalog fit it (rules a reader can follow), the
 * request that carries one through its approval, application and verification, and the share of
 * auto-resolutions that verified. Pure: the service (`remediation-service.ts`) reads and writes.
 *
 * A request (`act-…`) goes
 * `suggested` (auto_resolve false: the plan only, nothing runs),
 * or `awaiting_approval` → `queued` (approved) / `rejected`,
 * or `queued` at once (low risk, or medium with the `auto-remediation` flag on),
 * then `applying` → `verified` or `failed` on implementation support's queue.
 */
import { z } from 'zod';
import type { Target } from '../audit/inventory.js';
import { featureFlagNames, masterSwitch } from '../feature-flags.js';
import type { Gap } from '../gaps/gap.js';
import { isQueueName } from '../queue-names.js';
import { isComponentName } from '../support-mode/state.js';
import { actionRisks, verificationSchema, type ActionRisk } from '../actions/types.js';

export const remediationStatuses = ['suggested', 'awaiting_approval', 'queued', 'applying', 'verified', 'failed', 'rejected'] as const;
export type RemediationStatus = (typeof remediationStatuses)[number];

/** A request that still moves: one per gap at a time. */
export const pendingRemediationStatuses: readonly RemediationStatus[] = ['awaiting_approval', 'queued', 'applying'];
export const isPendingRemediation = (status: RemediationStatus) => pendingRemediationStatuses.includes(status);
/** A request that ran to its end (applied and checked). */
export const isFinishedRemediation = (status: RemediationStatus) => status === 'verified' || status === 'failed';

export const remediationPriorities = ['high', 'medium', 'low'] as const;
export type RemediationPriority = (typeof remediationPriorities)[number];

export const remediationEvents = ['suggested', 'requested', 'approved', 'rejected', 'queued', 'applying', 'applied', 'verified', 'failed', 'rolled_back'] as const;
export type RemediationEvent = (typeof remediationEvents)[number];

/** An action spec as a suggestion carries it: validated by the catalog when it is planned. */
export type SuggestedAction = { kind: string } & Record<string, unknown>;

/** One action that fits a gap, and why. `key` picks it in a request (`action`). */
export interface Suggestion {
  key: string;
  action: SuggestedAction;
  why: string;
}

/** An HTTP action of the inventory, as suggestions see it. */
export interface HookInfo {
  id: string;
  component: string;
  /** Inventory targets the hook fixes. */
  targets: readonly string[];
  description?: string | undefined;
}

export interface SuggestionContext {
  /** The inventory target an audit gap names (its subject), when it is still in the inventory. */
  target: Target | null;
  /** The HTTP actions declared in the inventory in force. */
  hooks: readonly HookInfo[];
}

const clusterSubject = /^fleet:cluster:(cl-[0-9a-f]{12})$/;

/**
 * The catalog's actions that fit a gap, the most specific first (the first is the default):
 * - an audit gap of a `queue` target: retry its failed jobs (`failed-ratio`), activate the
 *   component whose queue lost its workers (`workers`);
 * - an audit gap of a `feature-flag` target (`value`): set the flag as the inventory expects;
 * - an audit gap of an `llm` target (`breaker`): reset the path's circuit breaker;
 * - a meta-monitor failure cluster of the fleet: retry the failed jobs of that cluster on each
 *   queue it names;
 * - any gap: the inventory's HTTP actions that name its target, or its component;
 * - any audit gap: re-run its target's probes (the gap resolves when they pass).
 * Spec tasks get none: they are work for people (see the guidance).
 */
export function suggestRemediations(gap: Gap, ctx: SuggestionContext): Suggestion[] {
  const out: Suggestion[] = [];
  const add = (key: string, action: SuggestedAction, why: string) => {
    if (!out.some((s) => s.key === key)) {
      out.push({ key, action, why });
    }
  };
  const target = gap.source === 'audit' && ctx.target?.id === gap.subject ? ctx.target : null;
  if (target?.kind === 'queue') {
    if (gap.check === 'failed-ratio') {
      add('queue.retry-failed', { kind: 'queue.retry-failed', queue: target.queue }, `queue ${target.queue} fails more jobs than the inventory allows: retry them once the cause is fixed`);
    }
    if (gap.check === 'workers' && isComponentName(target.queue)) {
      add('component.active', { kind: 'component.active', component: target.queue, active: true }, `queue ${target.queue} has too few live workers: an inactive component's queue is paused, activating it resumes it`);
    }
  }
  if (target?.kind === 'feature-flag' && gap.check === 'value' && target.flag !== masterSwitch && (featureFlagNames as readonly string[]).includes(target.flag)) {
    add('feature-flag', { kind: 'feature-flag', flag: target.flag, enabled: target.expected }, `flag ${target.flag} differs from the inventory, which expects it ${target.expected ? 'on' : 'off'}`);
  }
  if (target?.kind === 'llm' && gap.check === 'breaker') {
    add('llm.reset-breaker', { kind: 'llm.reset-breaker', path: target.path }, `the ${target.path} path's circuit breaker is not closed: closing it lets the router try the path again`);
  }
  const cluster = gap.source === 'meta-monitor' ? clusterSubject.exec(gap.subject) : null;
  if (cluster) {
    for (const queue of gap.components.filter(isQueueName)) {
      add(`queue.retry-failed:${queue}`, { kind: 'queue.retry-failed', queue, clusterId: cluster[1] }, `the failed jobs of queue ${queue} in failure cluster ${cluster[1]}: retry them once the cause is fixed`);
    }
  }
  if (gap.source !== 'spec') {
    for (const hook of ctx.hooks) {
      const forTarget = gap.source === 'audit' && hook.targets.includes(gap.subject);
      if (forTarget || gap.components.includes(hook.component)) {
        add(`http.hook:${hook.id}`, { kind: 'http.hook', hook: hook.id }, `the inventory's action ${hook.id} is declared for ${forTarget ? `target ${gap.subject}` : `component ${hook.component}`}${hook.description ? `: ${hook.description}` : ''}`);
      }
    }
  }
  if (gap.source === 'audit' && target !== null) {
    add('audit.rerun', { kind: 'audit.rerun', targets: [target.id] }, `re-probes ${target.id}: the gap resolves if its checks pass now`);
  }
  return out;
}

const eventSchema = z.object({ at: z.string(), event: z.enum(remediationEvents), by: z.string(), detail: z.string() });
export type RemediationEventEntry = z.infer<typeof eventSchema>;

/** What re-checking the gap itself after the action saw (an audit gap's target probed again). */
export const gapCheckSchema = z.object({
  /** False when the gap cannot be checked apart from the action (not an audit gap, or its target left the inventory). */
  checked: z.boolean(),
  /** Null when not checked. */
  passed: z.boolean().nullable(),
  expected: z.string(),
  observed: z.string(),
  checkedAt: z.string(),
});
export type GapCheck = z.infer<typeof gapCheckSchema>;

/** A remediation request as it is stored and answered. */
export const remediationRequestSchema = z.object({
  id: z.string().regex(/^act-[0-9a-f]{16}$/),
  gapId: z.string(),
  /** The gap's title when requested (already redacted). */
  gapTitle: z.string(),
  /** The suggestion picked (`key`) and its action spec. */
  suggestion: z.string(),
  action: z.looseObject({ kind: z.string() }),
  risk: z.enum(actionRisks),
  /** The dry run's sentence and changes at request time. */
  description: z.string(),
  changes: z.array(z.object({ target: z.string(), from: z.unknown(), to: z.unknown() })),
  reversible: z.boolean(),
  autoResolve: z.boolean(),
  priority: z.enum(remediationPriorities),
  /** Whether an approver must decide before it runs. */
  needsApproval: z.boolean(),
  status: z.enum(remediationStatuses),
  requestedBy: z.string(),
  requestedAt: z.string(),
  /** Redacted. */
  note: z.string().nullable(),
  approval: z
    .object({
      decision: z.enum(['approved', 'rejected']),
      by: z.string(),
      at: z.string(),
      /** Redacted. */
      reason: z.string().nullable(),
      twoPersonRule: z.enum(['kept', 'off', 'not_applicable']),
    })
    .nullable(),
  /** The catalog's application (`act-…` of its own): what was applied and read back. */
  application: z
    .object({
      id: z.string(),
      status: z.string(),
      changed: z.boolean(),
      verification: verificationSchema.nullable(),
      error: z.string().nullable(),
    })
    .nullable(),
  gapCheck: gapCheckSchema.nullable(),
  /** One sentence: what happened in the end, and why. */
  outcome: z.string().nullable(),
  finishedAt: z.string().nullable(),
  /** How to undo it, once applied. */
  rollback: z.object({ available: z.boolean(), how: z.string() }).nullable(),
  rolledBack: z.object({ at: z.string(), by: z.string(), verified: z.boolean() }).nullable(),
  events: z.array(eventSchema),
  updatedAt: z.string(),
});
export type RemediationRequest = z.infer<typeof remediationRequestSchema>;

/** Events kept per request, newest last. */
const eventLimit = 50;

export function withEvent(r: RemediationRequest, at: Date, event: RemediationEvent, by: string, detail: string): RemediationRequest {
  const when = at.toISOString();
  return { ...r, updatedAt: when, events: [...r.events, { at: when, event, by, detail }].slice(-eventLimit) };
}

/** Whether a request of this risk runs without an approver: low always, medium with the `auto-remediation` flag, high never. */
export function runsWithoutApproval(risk: ActionRisk, autoRemediation: boolean): boolean {
  return risk === 'low' || (risk === 'medium' && autoRemediation);
}

/** The windows the auto-resolution success rate is reported over. */
export const autoResolutionWindows = { '24h': 24 * 3_600_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const;
export type AutoResolutionWindow = keyof typeof autoResolutionWindows;
/** The runbook's target for the share of auto-resolutions that verified. */
export const autoResolutionTarget = 0.7;

export interface AutoResolutionRate {
  /** Auto-resolutions that ran to their end in the window. */
  attempted: number;
  verified: number;
  failed: number;
  /** verified / attempted; null with nothing attempted. */
  rate: number | null;
  meetsTarget: boolean | null;
}

export function rateOf(verified: number, failed: number): AutoResolutionRate {
  const attempted = verified + failed;
  const rate = attempted === 0 ? null : Math.round((verified / attempted) * 10_000) / 10_000;
  return { attempted, verified, failed, rate, meetsTarget: rate === null ? null : rate > autoResolutionTarget };
}
