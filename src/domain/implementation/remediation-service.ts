/**
 * Implementation support's remediations: a gap's request goes through the action catalog, an
 * approver when its risk asks for one, and a verification of the gap itself afterwards; the gap
 * follows (`remediation_suggested`, `awaiting_approval`, `auto_resolving`, `resolved` or `failed`).
 * Every change is written to the audit trail first: a request, a decision, a verdict, a rollback.
 *
 * The route asks (`request`, `decide`, `rollback`); the `remediate` job on the
 * `implementation-support` queue runs (`run`). Ports come in; nothing here knows Redis or HTTP.
 */
import { randomBytes } from 'node:crypto';
import { checkApproval, type Principal } from '../access.js';
import type { ActionCatalog, ActionSpec } from '../actions/index.js';
import type { ActionApplication, ActionChange } from '../actions/types.js';
import type { AuditEventInput } from '../audit-trail/chain.js';
import { recordBeforeChange } from '../audit-trail/ports.js';
import type { InventoryVersion, Target } from '../audit/inventory.js';
import type { Prober } from '../audit/probe.js';
import { Redactor } from '../compliance/pii.js';
import type { Gap, GapStatus, GapStore } from '../gaps/gap.js';
import { isOpenGap } from '../gaps/lifecycle.js';
import {
  autoResolutionTarget,
  autoResolutionWindows,
  isFinishedRemediation,
  rateOf,
  remediationEvents,
  runsWithoutApproval,
  suggestRemediations,
  withEvent,
  type AutoResolutionRate,
  type AutoResolutionWindow,
  type GapCheck,
  type HookInfo,
  type RemediationEvent,
  type RemediationPriority,
  type RemediationRequest,
  type RemediationStatus,
  type Suggestion,
} from './remediation.js';

/** Why a request cannot be made or moved; the API maps `kind` to its status. */
export class RemediationError extends Error {
  override readonly name = 'RemediationError';
  constructor(
    readonly kind: 'not_found' | 'conflict' | 'invalid' | 'forbidden',
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Where requests live (a port: `store/remediations.store.ts`). */
export interface RemediationStore {
  /** Stores a new request (its id is new). */
  create(request: RemediationRequest): Promise<void>;
  get(id: string): Promise<RemediationRequest | null>;
  /** Replaces a request (the caller holds its lock). */
  save(request: RemediationRequest): Promise<void>;
  /** Runs `work` holding the request's fleet-wide lock, so two deciders never both move it. */
  exclusive<T>(id: string, work: () => Promise<T>): Promise<T>;
  /** The request of this gap that is still pending, if any. */
  pendingFor(gapId: string): Promise<string | null>;
  /** Every request still pending (awaiting approval, queued, applying): one per gap at most. */
  pending(): Promise<RemediationRequest[]>;
  /** Requests changed at or after `since`, newest change first; `status` filters. */
  list(filter: { since?: Date; status?: readonly RemediationStatus[]; limit: number }): Promise<RemediationRequest[]>;
  /** Auto-resolutions that finished at or after `since`: how many verified and failed. */
  autoResolutions(since: Date): Promise<{ verified: number; failed: number }>;
}

export interface RemediationDeps {
  gaps: Pick<GapStore, 'get' | 'transition'>;
  actions: Pick<ActionCatalog<ActionSpec>, 'parse' | 'dryRun' | 'apply' | 'rollback' | 'get' | 'recent'>;
  store: RemediationStore;
  audit: { append(input: AuditEventInput): Promise<unknown> };
  /** The inventory in force (targets behind audit gaps, HTTP actions). */
  inventory: () => Promise<InventoryVersion>;
  /** The auditor's probes: an audit gap's target is probed again after the action. */
  prober?: Prober;
  /** The `auto-remediation` flag, read on every request. */
  autoRemediation: () => Promise<boolean>;
  /** Puts the request's job on implementation support's queue (the request id is the job id). */
  enqueue: (id: string, priority: RemediationPriority) => Promise<void>;
  twoPersonRule: boolean;
  clock: () => Date;
  newId?: () => string;
}

export interface RemediationInput {
  gapId: string;
  autoResolve: boolean;
  priority: RemediationPriority;
  /** A suggestion's key; the first suggestion when absent. */
  action?: string | undefined;
  /** Free text; redacted before it is stored. */
  note?: string | undefined;
}

export interface RemediationAnswer {
  request: RemediationRequest;
  suggestions: Suggestion[];
}

export interface Activities {
  since: string;
  counts: Record<RemediationEvent, number>;
  events: (RemediationRequest['events'][number] & { requestId: string; gapId: string; action: string })[];
  awaitingApproval: number;
  autoResolution: Record<AutoResolutionWindow, AutoResolutionRate> & { target: number };
}

const defaultId = () => `act-${randomBytes(8).toString('hex')}`;
const base = '/admin/bedrock-support/implementation';

function hooksOf(inventory: InventoryVersion): HookInfo[] {
  return (inventory.inventory.actions ?? []).map((a) => ({ id: a.id, component: a.component, targets: a.targets ?? [], description: a.description }));
}

export function createRemediationService(deps: RemediationDeps) {
  const newId = deps.newId ?? defaultId;
  const now = () => deps.clock();

  async function gapOf(id: string): Promise<Gap> {
    const gap = /^gap-[0-9a-f]{16}$/.test(id) ? await deps.gaps.get(id) : null;
    if (!gap) {
      throw new RemediationError('not_found', `unknown gap "${id.slice(0, 80)}": GET ${base}/gaps lists them`, 'gap_id');
    }
    return gap;
  }

  async function requestOf(id: string): Promise<RemediationRequest> {
    const r = /^act-[0-9a-f]{16}$/.test(id) ? await deps.store.get(id) : null;
    if (!r) {
      throw new RemediationError('not_found', `unknown remediation request "${id.slice(0, 80)}": GET ${base}/approvals?status=all lists them`);
    }
    return r;
  }

  async function suggestionsFor(gap: Gap): Promise<{ suggestions: Suggestion[]; target: Target | null }> {
    const inventory = await deps.inventory();
    const target = gap.source === 'audit' ? (inventory.inventory.targets.find((t) => t.id === gap.subject) ?? null) : null;
    return { suggestions: suggestRemediations(gap, { target, hooks: hooksOf(inventory) }), target };
  }

  /** Moves the gap, audited, unless it already is there or is closed (resolved or dismissed since). */
  async function moveGap(gap: Gap, to: GapStatus, by: string, cause: string, detail: Record<string, unknown> = {}): Promise<Gap> {
    const current = (await deps.gaps.get(gap.id)) ?? gap;
    if (current.status === to || (!isOpenGap(current.status) && to !== 'resolved' && to !== 'detected')) {
      return current;
    }
    await recordBeforeChange(deps.audit, { actor: by, action: 'gap.transition', target: gap.id, details: { from: current.status, to, cause, ...detail } });
    return (await deps.gaps.transition(gap.id, to, by, now())) ?? current;
  }

  return {
    /** The actions that fit a gap, each planned by a dry run (nothing changes). */
    async suggest(gapId: string) {
      const gap = await gapOf(gapId);
      const { suggestions } = await suggestionsFor(gap);
      const plans = await Promise.all(
        suggestions.map(async (s) => {
          try {
            const plan = await deps.actions.dryRun(deps.actions.parse(s.action));
            return { ...s, risk: plan.risk, description: plan.description, changes: plan.changes, reversible: plan.reversible, error: null };
          } catch (err) {
            const none: ActionChange[] = [];
            return { ...s, risk: null, description: null, changes: none, reversible: null, error: (err as Error).message };
          }
        }),
      );
      return { gap, suggestions: plans };
    },

    async request(input: RemediationInput, principal: Principal): Promise<RemediationAnswer> {
      const gap = await gapOf(input.gapId);
      if (!isOpenGap(gap.status)) {
        throw new RemediationError('conflict', `gap ${gap.id} is ${gap.status}${gap.status === 'dismissed' ? ` (by ${gap.dismissed?.by ?? '?'})` : ''}: there is nothing to remediate`);
      }
      const pending = await deps.store.pendingFor(gap.id);
      if (pending !== null) {
        throw new RemediationError('conflict', `gap ${gap.id} already has remediation ${pending} under way: GET ${base}/approvals/${pending}`);
      }
      const { suggestions } = await suggestionsFor(gap);
      if (suggestions.length === 0) {
        throw new RemediationError('conflict', `no action of the catalog fits gap ${gap.id} (${gap.source}, ${gap.type}, check ${gap.check}): GET ${base}/gaps/${gap.id}/guidance says what to do by hand`);
      }
      const picked = input.action === undefined ? suggestions[0] : suggestions.find((s) => s.key === input.action);
      if (!picked) {
        throw new RemediationError('invalid', `action must be one of the actions suggested for gap ${gap.id}: ${suggestions.map((s) => s.key).join(', ')}; got "${input.action?.slice(0, 80)}"`, 'action');
      }
      const plan = await deps.actions.dryRun(deps.actions.parse(picked.action));
      const autoRemediation = await deps.autoRemediation();
      const needsApproval = !runsWithoutApproval(plan.risk, autoRemediation);
      const status: RemediationStatus = !input.autoResolve ? 'suggested' : needsApproval ? 'awaiting_approval' : 'queued';
      const at = now();
      const id = newId();
      const note = input.note === undefined ? null : new Redactor().redact(input.note);
      const gapTo: GapStatus = status === 'suggested' ? 'remediation_suggested' : status === 'awaiting_approval' ? 'awaiting_approval' : 'auto_resolving';
      let request: RemediationRequest = {
        id,
        gapId: gap.id,
        gapTitle: gap.title,
        suggestion: picked.key,
        action: plan.spec,
        risk: plan.risk,
        description: plan.description,
        changes: plan.changes,
        reversible: plan.reversible,
        autoResolve: input.autoResolve,
        priority: input.priority,
        needsApproval,
        status,
        requestedBy: principal.name,
        requestedAt: at.toISOString(),
        note,
        approval: null,
        application: null,
        gapCheck: null,
        outcome: null,
        finishedAt: null,
        rollback: null,
        rolledBack: null,
        events: [],
        updatedAt: at.toISOString(),
      };
      const why =
        status === 'suggested'
          ? 'auto_resolve is false: planned only'
          : needsApproval
            ? `risk ${plan.risk}: waits for an approver${plan.risk === 'medium' ? ' (the auto-remediation flag is off)' : ''}`
            : `risk ${plan.risk}: runs at once${plan.risk === 'medium' ? ' (the auto-remediation flag is on)' : ''}`;
      request = withEvent(request, at, status === 'suggested' ? 'suggested' : 'requested', principal.name, `${picked.key}: ${why}`);
      if (status === 'queued') {
        request = withEvent(request, at, 'queued', principal.name, `priority ${input.priority}`);
      }
      await recordBeforeChange(deps.audit, {
        actor: principal.name,
        action: 'remediation.request',
        target: id,
        details: { gapId: gap.id, action: plan.spec, risk: plan.risk, autoResolve: input.autoResolve, priority: input.priority, status, gap: { from: gap.status, to: gapTo }, note },
      });
      await deps.store.create(request);
      await deps.gaps.transition(gap.id, gapTo, principal.name, at);
      if (status === 'queued') {
        await deps.enqueue(id, input.priority);
      }
      return { request, suggestions };
    },

    async get(id: string) {
      return requestOf(id);
    },

    list: (filter: { since?: Date; status?: readonly RemediationStatus[]; limit: number }) => deps.store.list(filter),

    /** An approver approves (the job is queued) or rejects a request that waits. */
    async decide(id: string, decision: { approve: boolean; reason?: string | undefined }, approver: Principal): Promise<RemediationRequest> {
      await requestOf(id);
      return deps.store.exclusive(id, async () => {
        const r = await requestOf(id);
        if (r.status !== 'awaiting_approval') {
          const by = r.approval ? ` (${r.approval.decision} by ${r.approval.by})` : '';
          throw new RemediationError('conflict', `remediation ${id} is ${r.status}${by}, not awaiting approval`);
        }
        const verdict = checkApproval(approver, r.requestedBy, deps.twoPersonRule);
        if (!verdict.allowed) {
          throw new RemediationError('forbidden', verdict.reason);
        }
        const reason = decision.reason === undefined ? null : new Redactor().redact(decision.reason);
        const at = now();
        const gap = await deps.gaps.get(r.gapId);
        const gapTo: GapStatus = decision.approve ? 'auto_resolving' : 'remediation_suggested';
        await recordBeforeChange(deps.audit, {
          actor: approver.name,
          action: decision.approve ? 'remediation.approve' : 'remediation.reject',
          target: id,
          details: { gapId: r.gapId, action: r.action, risk: r.risk, requestedBy: r.requestedBy, twoPersonRule: verdict.twoPersonRule, reason, gap: gap ? { from: gap.status, to: gapTo } : null },
        });
        let next: RemediationRequest = {
          ...r,
          status: decision.approve ? 'queued' : 'rejected',
          approval: { decision: decision.approve ? 'approved' : 'rejected', by: approver.name, at: at.toISOString(), reason, twoPersonRule: verdict.twoPersonRule },
        };
        next = withEvent(next, at, decision.approve ? 'approved' : 'rejected', approver.name, reason ?? (verdict.twoPersonRule === 'off' ? 'two-person rule off' : ''));
        if (decision.approve) {
          next = withEvent(next, at, 'queued', approver.name, `priority ${r.priority}`);
        } else {
          next = { ...next, outcome: `rejected by ${approver.name}${reason ? `: ${reason}` : ''}`, finishedAt: at.toISOString() };
        }
        await deps.store.save(next);
        if (gap && isOpenGap(gap.status)) {
          await deps.gaps.transition(gap.id, gapTo, approver.name, at);
        }
        if (decision.approve) {
          await deps.enqueue(id, r.priority);
        }
        return next;
      });
    },

    /**
     * Runs a queued request (the `remediate` job): applies its action through the catalog, checks
     * the gap again, and resolves or fails the gap by what was read. A request found `applying`
     * with an application already made (a retried job) resumes at the check: nothing is applied twice.
     */
    async run(id: string, progress: (percent: number) => Promise<void> = async () => {}): Promise<RemediationRequest> {
      const claimed = await deps.store.exclusive(id, async () => {
        const r = await requestOf(id);
        if (r.status === 'queued') {
          const next = withEvent({ ...r, status: 'applying' }, now(), 'applying', 'implementation-support', r.suggestion);
          await deps.store.save(next);
          return next;
        }
        return r;
      });
      if (claimed.status !== 'applying') {
        return claimed; // finished, rejected or never approved: nothing to run
      }
      const actor = claimed.approval?.by ?? claimed.requestedBy;
      const gap = await deps.gaps.get(claimed.gapId);
      if (gap) {
        await moveGap(gap, 'auto_resolving', actor, id);
      }
      await progress(10);

      // A job retried after the apply (the process died) finds the application by its cause: never applied twice.
      let application: ActionApplication<ActionSpec> | null = claimed.application
        ? await deps.actions.get(claimed.application.id)
        : ((await deps.actions.recent(50)).find((a) => a.cause === id) ?? null);
      let error: string | null = null;
      if (application === null) {
        try {
          application = await deps.actions.apply(deps.actions.parse(claimed.action), { actor, cause: id, ...(claimed.note === null ? {} : { note: claimed.note }) });
        } catch (err) {
          error = (err as Error).message;
        }
      }
      const recorded = application
        ? { id: application.id, status: application.status, changed: application.changed, verification: application.verification, error: application.error }
        : null;
      await deps.store.exclusive(id, async () => {
        const r = await requestOf(id);
        const next = withEvent({ ...r, application: recorded }, now(), 'applied', actor, recorded ? `${recorded.id}: ${recorded.changed ? 'changed' : 'already as asked'}` : `not applied: ${error ?? '?'}`);
        await deps.store.save(next);
      });
      await progress(60);

      const actionVerified = application?.status === 'applied' && application.verification?.verified === true;
      const gapCheck = actionVerified && gap ? await recheck(gap) : null;
      const passed = actionVerified && (gapCheck === null || !gapCheck.checked || gapCheck.passed === true);
      const outcome = passed
        ? `verified: ${application?.verification ? 'the action read back as asked' : ''}${gapCheck?.checked ? `, and ${gapCheck.observed}` : ''}`
        : error !== null
          ? `failed: the action could not be applied: ${error}`
          : !actionVerified
            ? `failed: the action's effect did not read back as asked: ${differences(application?.verification?.expected, application?.verification?.read)}`
            : `failed: the action read back as asked but the gap's check still fails: expected ${gapCheck?.expected ?? '?'}, observed ${gapCheck?.observed ?? '?'}`;
      const at = now();
      const gapTo: GapStatus = passed ? 'resolved' : 'failed';
      await recordBeforeChange(deps.audit, {
        actor: 'implementation-support',
        action: passed ? 'remediation.verified' : 'remediation.failed',
        target: id,
        details: { gapId: claimed.gapId, applicationId: recorded?.id ?? null, actionVerified, gapCheck, outcome: outcome.slice(0, 1_000), autoResolve: claimed.autoResolve },
      });
      // The gap moves first: whoever sees the request finished sees the gap where it ends.
      if (gap) {
        const current = await deps.gaps.get(gap.id);
        // A gap resolved or dismissed meanwhile (an audit saw it fixed, a person dismissed it) stays so.
        if (current && isOpenGap(current.status)) {
          await deps.gaps.transition(gap.id, gapTo, id, at);
        }
      }
      const reversible = application?.status === 'applied' && application.reversible;
      const finished = await deps.store.exclusive(id, async () => {
        const r = await requestOf(id);
        let next: RemediationRequest = {
          ...r,
          status: passed ? 'verified' : 'failed',
          gapCheck,
          outcome,
          finishedAt: at.toISOString(),
          rollback: recorded
            ? {
                available: reversible,
                how: reversible
                  ? `POST ${base}/approvals/${id}/rollback (approvers) restores the state before action ${recorded.id}`
                  : `action ${recorded.id} (${r.action.kind}) cannot be rolled back: ${application?.status === 'applied' ? 'what it did cannot be undone' : 'it was not applied'}`,
              }
            : null,
        };
        next = withEvent(next, at, passed ? 'verified' : 'failed', 'implementation-support', outcome.slice(0, 500));
        await deps.store.save(next);
        return next;
      });
      await progress(100);
      return finished;
    },

    /** Rolls back the action a finished request applied (approvers); the gap is open again. */
    async rollback(id: string, by: Principal, why?: string): Promise<RemediationRequest> {
      await requestOf(id);
      return deps.store.exclusive(id, async () => {
        const r = await requestOf(id);
        if (!isFinishedRemediation(r.status) || r.application === null) {
          throw new RemediationError('conflict', `remediation ${id} is ${r.status}: nothing it applied can be rolled back`);
        }
        if (r.rolledBack) {
          throw new RemediationError('conflict', `remediation ${id} was rolled back at ${r.rolledBack.at} by ${r.rolledBack.by}`);
        }
        const reason = why === undefined ? null : new Redactor().redact(why);
        const rolled = await deps.actions.rollback(r.application.id, { actor: by.name, cause: reason === null ? id : `${id}: ${reason}` });
        const at = now();
        const verified = rolled.rolledBack?.verification.verified ?? false;
        const detail = [r.application.id, verified ? null : 'the state before did not read back', reason].filter((p) => p !== null).join(': ');
        const next = withEvent({ ...r, rolledBack: { at: at.toISOString(), by: by.name, verified } }, at, 'rolled_back', by.name, detail);
        await deps.store.save(next);
        const gap = await deps.gaps.get(r.gapId);
        if (gap && gap.status !== 'dismissed' && gap.status !== 'detected') {
          await moveGap(gap, 'detected', by.name, id, { rollback: r.application.id });
        }
        return next;
      });
    },

    /** What implementation support suggested, attempted, applied and verified since `since`; the auto-resolution rates. */
    async activities(since: Date, limit: number): Promise<Activities> {
      const requests = await deps.store.list({ since, limit: 1_000 });
      const sinceIso = since.toISOString();
      const events = requests
        .flatMap((r) => r.events.filter((e) => e.at >= sinceIso).map((e) => ({ ...e, requestId: r.id, gapId: r.gapId, action: r.suggestion })))
        .sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0));
      const counts = Object.fromEntries(remediationEvents.map((k) => [k, 0])) as Record<RemediationEvent, number>;
      for (const e of events) {
        counts[e.event] += 1;
      }
      const t = now().getTime();
      const windows = await Promise.all(
        (Object.keys(autoResolutionWindows) as AutoResolutionWindow[]).map(async (w) => {
          const c = await deps.store.autoResolutions(new Date(t - autoResolutionWindows[w]));
          return [w, rateOf(c.verified, c.failed)] as const;
        }),
      );
      const awaiting = (await deps.store.pending()).filter((r) => r.status === 'awaiting_approval');
      return {
        since: sinceIso,
        counts,
        events: events.slice(0, limit),
        awaitingApproval: awaiting.length,
        autoResolution: { ...(Object.fromEntries(windows) as Record<AutoResolutionWindow, AutoResolutionRate>), target: autoResolutionTarget },
      };
    },

  };

  /** An audit gap's target probed again: is the gap's check met now? Other gaps: not checked apart from the action. */
  async function recheck(gap: Gap): Promise<GapCheck> {
    const checkedAt = now().toISOString();
    const none = (observed: string): GapCheck => ({ checked: false, passed: null, expected: gap.evidence.expected, observed, checkedAt });
    if (gap.source !== 'audit' || deps.prober === undefined) {
      return none(`a ${gap.source} gap is checked by the action's own verification; the next ${gap.source === 'meta-monitor' ? 'analysis' : gap.source === 'spec' ? 'spec scan' : 'report'} sees whether it stays away`);
    }
    const inventory = await deps.inventory();
    const target = inventory.inventory.targets.find((t) => t.id === gap.subject);
    if (!target) {
      return none(`target ${gap.subject} is no longer in the inventory (version ${inventory.version})`);
    }
    const outcome = await deps.prober.probe(target, { signal: AbortSignal.timeout(target.timeoutMs ?? inventory.inventory.defaults.timeoutMs), timeoutMs: target.timeoutMs ?? inventory.inventory.defaults.timeoutMs });
    const same = outcome.observations.find((o) => o.check === gap.check);
    const unmet = outcome.observations.find((o) => !o.met);
    const at = now().toISOString();
    if (outcome.status === 'error') {
      return { checked: true, passed: false, expected: gap.evidence.expected, observed: `the probe of ${target.id} could not run: ${outcome.error ?? 'error'}`, checkedAt: at };
    }
    if (same) {
      return { checked: true, passed: same.met, expected: same.expected, observed: same.met ? `${target.id} ${gap.check} is met now (${same.observed})` : same.observed, checkedAt: at };
    }
    return unmet
      ? { checked: true, passed: false, expected: gap.evidence.expected, observed: `${target.id} ${unmet.check}: ${unmet.observed}`, checkedAt: at }
      : { checked: true, passed: true, expected: gap.evidence.expected, observed: `${target.id} passes every check now`, checkedAt: at };
  }
}

export type RemediationService = ReturnType<typeof createRemediationService>;

/**
 * Where a state read back differs from the one expected, in words: the paths of the values the
 * expectation names (not null) that read otherwise, at most five (`response.status: expected 202,
 * read 500`).
 */
export function differences(expected: unknown, read: unknown, limit = 5): string {
  const out: string[] = [];
  const show = (v: unknown) => {
    const text = JSON.stringify(v) ?? 'nothing';
    return text.length > 80 ? `${text.slice(0, 77)}…` : text;
  };
  const walk = (e: unknown, r: unknown, path: string) => {
    if (out.length >= limit || e === null || e === undefined) {
      return;
    }
    if (typeof e === 'object' && !Array.isArray(e) && typeof r === 'object' && r !== null && !Array.isArray(r)) {
      for (const [k, v] of Object.entries(e)) {
        walk(v, (r as Record<string, unknown>)[k], path === '' ? k : `${path}.${k}`);
      }
      return;
    }
    if (JSON.stringify(e) !== JSON.stringify(r)) {
      out.push(`${path || '(state)'}: expected ${show(e)}, read ${show(r)}`);
    }
  };
  walk(expected, read, '');
  return out.length === 0 ? 'the state read differs from the one expected' : out.join('; ');
}
