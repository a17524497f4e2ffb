import { z } from 'zod';
import { componentNames, statusOf, supportStatuses, SupportModeConflictError } from '../../support-mode/state.js';
import type { ActionKind } from '../kind.js';
import type { SupportModeControl } from '../ports.js';
import type { ActionChange } from '../types.js';

export const componentActiveSpecSchema = z.strictObject({
  kind: z.literal('component.active'),
  component: z.enum(componentNames),
  /** True activates the component (support mode must be enabled), false deactivates it. */
  active: z.boolean(),
});
export type ComponentActiveSpec = z.infer<typeof componentActiveSpecSchema>;

const stateSchema = z.object({
  active: z.boolean(),
  /** The master switch (feature flag bedrock-support): a component is activated only while it is on. */
  supportMode: z.boolean(),
  /** Support mode's status, for the messages. */
  status: z.enum(supportStatuses),
});
type State = z.infer<typeof stateSchema>;

const word = (active: boolean) => (active ? 'active' : 'inactive');

/**
 * Activates or deactivates one component through the support-mode service, with its own
 * commands (`activate` / `deactivate`): the service audits them (`support-mode.activate`, with
 * the actor and the action's id as reason) and pauses or resumes the component's queue. The
 * lifecycle stays the only owner of queue pausing; its rules stand (no activation while support
 * mode is disabled or after an emergency shutdown until it is enabled again).
 */
export function componentActiveKind(supportMode: SupportModeControl): ActionKind<ComponentActiveSpec, State> {
  return {
    kind: 'component.active',
    risk: 'medium',
    description:
      "Activates or deactivates one component (infrastructure-auditor, meta-monitor, implementation-support) through the support-mode lifecycle: its audited activate / deactivate command, which resumes or pauses the component's queue. Activation needs support mode enabled (refused with a conflict otherwise, nothing changed). Verified by reading the lifecycle's state back. Rollback runs the opposite command, refused when support mode was switched since.",
    reversible: true,
    schema: componentActiveSpecSchema,
    stateSchema,
    async read(spec) {
      const state = await supportMode.read();
      return { active: state.components[spec.component].active, supportMode: state.flag.enabled, status: statusOf(state) };
    },
    desired(spec, before) {
      if (spec.active && !before.active && !before.supportMode) {
        throw new SupportModeConflictError(
          `cannot activate component ${spec.component}: support mode is ${before.status} (feature flag bedrock-support is disabled); enable it first with POST /admin/bedrock-support/enable`,
          before.status,
        );
      }
      return { ...before, active: spec.active };
    },
    /** The component as asked, with support mode switched as it was (a rollback after the switch moved would not restore what the action left). */
    matches: (expected, read) => expected.active === read.active && expected.supportMode === read.supportMode,
    changes(spec, from, to) {
      const out: ActionChange[] = [];
      if (from.active !== to.active) {
        out.push({ target: `component:${spec.component}:active`, from: from.active, to: to.active });
      }
      if (from.supportMode !== to.supportMode) {
        out.push({ target: 'feature-flag:bedrock-support', from: from.supportMode, to: to.supportMode });
      }
      return out;
    },
    describe: (spec, before, to) =>
      before.active === to.active
        ? `Component ${spec.component} already is ${word(to.active)}: nothing would change.`
        : `Component ${spec.component} goes from ${word(before.active)} to ${word(to.active)} through the support-mode lifecycle (support mode is ${before.status}): its queue ${to.active ? 'resumes' : 'is paused, running jobs finish'}.`,
    async write(spec, _from, to, context) {
      const components = [spec.component];
      await supportMode.execute(to.active ? { type: 'activate', components } : { type: 'deactivate', components }, { by: context.actor, reason: context.reason });
    },
  };
}
