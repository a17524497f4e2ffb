import { z } from 'zod';
import { inventoryIdSchema, targetKinds, type Target } from '../../audit/inventory.js';
import { unreachableCauses } from '../../audit/probe.js';
import { probeTargets, sightingsOf } from '../../audit/run.js';
import { gapSeverities, gapTypes, type GapSighting } from '../../gaps/gap.js';
import type { ActionKind } from '../kind.js';
import type { AuditTargets } from '../ports.js';
import { ActionValidationError, type ActionChange } from '../types.js';

/** Targets one action re-runs at most. */
export const maxRerunTargets = 50;

export const auditRerunSpecSchema = z.strictObject({
  kind: z.literal('audit.rerun'),
  /** Ids of targets of the inventory in force, each once. */
  targets: z
    .array(inventoryIdSchema)
    .min(1)
    .max(maxRerunTargets)
    .superRefine((ids, ctx) => {
      ids.forEach((id, i) => {
        const first = ids.indexOf(id);
        if (first !== i) {
          ctx.addIssue({ code: 'custom', path: [i], message: `target "${id}" is named twice (targets ${first} and ${i})` });
        }
      });
    }),
});
export type AuditRerunSpec = z.infer<typeof auditRerunSpecSchema>;

/** An expectation of a target that a probe found unmet: the gap sighting it is, as an audit records it. */
const unmetSchema = z.object({
  check: z.string(),
  title: z.string(),
  expected: z.string(),
  observed: z.string(),
  gapType: z.enum(gapTypes),
  severity: z.enum(gapSeverities),
});

const targetStateSchema = z.object({
  id: z.string(),
  kind: z.enum(targetKinds),
  component: z.string(),
  /** `error`: the probe itself could not run; it says nothing about the target. */
  status: z.enum(['pass', 'fail', 'error']),
  /** Why the target could not be reached, when it could not. */
  unreachable: z.enum(unreachableCauses).nullable(),
  unmet: z.array(unmetSchema),
  /** When `status` is `error`: why. */
  error: z.string().nullable(),
});
type TargetState = z.infer<typeof targetStateSchema>;

const stateSchema = z.object({
  /** The inventory version the targets were taken from. */
  inventoryVersion: z.int().positive(),
  /** When the targets were probed. */
  probedAt: z.string(),
  targets: z.array(targetStateSchema),
  /** After an application: the gaps its recorded run resolved and sighted (ids). */
  recorded: z.object({ resolved: z.array(z.string()), sighted: z.array(z.string()) }).nullable(),
});
type State = z.infer<typeof stateSchema>;

const failures = (t: TargetState) => (t.status === 'error' ? [`${t.id} could not be probed: ${t.error ?? 'unknown error'}`] : t.unmet.map((u) => `${t.id} fails ${u.check}: expected ${u.expected}, observed ${u.observed}`));

/**
 * Re-runs the audit of some targets now, through the auditor's own machinery: the inventory in
 * force, its prober (each target within its timeout, the inventory's defaults otherwise) and the
 * gap store. Applying records the outcomes the plan probed as a run of source `audit` named by
 * the application's id: the audit gaps of a target that passes resolve, a check still failing
 * is sighted again. Verified by probing again: every target must pass. Not reversible.
 */
export function auditRerunKind(audit: AuditTargets): ActionKind<AuditRerunSpec, State> {
  /** What an application's run did to the gap store, for its read-back (keyed by the bound spec, as `queue.retry-failed` does). */
  const recordedBy = new WeakMap<AuditRerunSpec, NonNullable<State['recorded']>>();

  return {
    kind: 'audit.rerun',
    risk: 'low',
    description: `Re-runs the audit of up to ${maxRerunTargets} inventory targets now, with the auditor's prober (each within its timeout), and records what the plan probed as an audit run named by the action's id: the open audit gaps of a target that passes resolve, a check that still fails is sighted again (its gap counts one more); a target whose probe could not run is left as it is. Verified by probing again: every target must pass, else the application is recorded unverified with what was observed. Probes run from the process that applies the action. Not reversible.`,
    reversible: false,
    schema: auditRerunSpecSchema,
    stateSchema,
    async read(spec) {
      const version = await audit.inventory();
      const byId = new Map(version.inventory.targets.map((t) => [t.id, t]));
      const unknown = spec.targets.filter((id) => !byId.has(id));
      if (unknown.length > 0) {
        throw new ActionValidationError(
          'targets',
          `targets: ${unknown.map((id) => `"${id}"`).join(', ')} ${unknown.length === 1 ? 'is not a target' : 'are not targets'} of the inventory in force (version ${version.version}; GET /admin/bedrock-support/audit/config lists its targets)`,
        );
      }
      const targets = spec.targets.map((id) => byId.get(id) as Target);
      const { defaults } = version.inventory;
      // Nothing cancels a re-run from outside: each probe is bounded by its own timeout.
      const outcomes = await probeTargets(targets, audit.prober, { concurrency: defaults.concurrency, timeoutMs: defaults.timeoutMs, signal: new AbortController().signal });
      const probedAt = audit.clock().toISOString();
      return {
        inventoryVersion: version.version,
        probedAt,
        targets: targets.map((t, i) => {
          const outcome = outcomes[i];
          if (outcome === undefined) {
            throw new Error(`no probe outcome for target ${t.id}`);
          }
          return {
            id: t.id,
            kind: t.kind,
            component: t.component,
            status: outcome.status,
            unreachable: outcome.reach.reachable ? null : outcome.reach.cause,
            unmet: sightingsOf(t, outcome).map((s) => ({ check: s.check, title: s.title, expected: s.evidence.expected, observed: s.evidence.observed, gapType: s.type, severity: s.severity })),
            error: outcome.error ?? null,
          };
        }),
        recorded: recordedBy.get(spec) ?? null,
      };
    },
    desired: (_spec, before) => ({
      ...before,
      targets: before.targets.map((t) => ({ ...t, status: 'pass', unreachable: null, unmet: [], error: null })),
      recorded: null,
    }),
    /** Every target probed passes (what the run recorded is not compared: it is what the write did). */
    matches: (expected, read) => expected.targets.every((e) => read.targets.some((r) => r.id === e.id && r.status === 'pass')),
    /** Each failing check of `from`, from what was observed to what is expected (`to` asks every target to pass). */
    changes(_spec, from): ActionChange[] {
      return from.targets.flatMap((t) => {
        if (t.status === 'pass') {
          return [];
        }
        if (t.status === 'error') {
          return [{ target: `audit-target:${t.id}`, from: `error: ${t.error ?? 'unknown error'}`, to: 'pass' }];
        }
        return t.unmet.map((u) => ({ target: `audit-target:${t.id}:${u.check}`, from: u.observed, to: u.expected }));
      });
    },
    describe(spec, before) {
      const failing = before.targets.flatMap(failures);
      const passing = before.targets.filter((t) => t.status === 'pass').map((t) => t.id);
      const probed = `Re-runs the audit of ${spec.targets.length === 1 ? 'target' : 'targets'} ${spec.targets.join(', ')} (inventory version ${before.inventoryVersion})`;
      if (failing.length === 0) {
        return `${probed}: every one passes now. Applying records it as an audit run of this action, which resolves their open audit gaps.`;
      }
      const pass = passing.length === 0 ? '' : ` ${passing.join(', ')} ${passing.length === 1 ? 'passes' : 'pass'}.`;
      return `${probed}: ${failing.join('; ')}.${pass} Applying records this as an audit run of this action: a failing check is sighted again (its gap counts one more), the audit gaps of a target that passes resolve, a target that could not be probed is left as it is. It is verified only when every target passes.`;
    },
    async write(spec, from, _to, context) {
      const probed = from.targets.filter((t) => t.status !== 'error');
      const sightings: GapSighting[] = probed.flatMap((t) =>
        t.unmet.map((u) => ({ source: 'audit', subject: t.id, check: u.check, type: u.gapType, severity: u.severity, title: u.title, components: [t.component], evidence: { expected: u.expected, observed: u.observed } })),
      );
      // A probe that could not run says nothing about its target's gaps: they are neither seen nor resolved (as in an audit).
      const observed = await audit.gaps.observe({ source: 'audit', runId: context.id, at: new Date(from.probedAt), scope: probed.map((t) => t.id) }, sightings);
      recordedBy.set(spec, {
        resolved: observed.resolved.map((g) => g.id),
        sighted: [...observed.opened, ...observed.reopened, ...observed.recurring].map((g) => g.id),
      });
    },
  };
}
