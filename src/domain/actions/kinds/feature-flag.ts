import { z } from 'zod';
import { featureFlagNames, featureFlags, masterSwitch, type StoredFlagName } from '../../feature-flags.js';
import type { FeatureFlagService } from '../../feature-flags.service.js';
import type { ActionKind } from '../kind.js';
import type { ActionRisk } from '../types.js';

const storedFlagNames = featureFlagNames.filter((n): n is StoredFlagName => n !== masterSwitch);

export const featureFlagSpecSchema = z.strictObject({
  kind: z.literal('feature-flag'),
  flag: z.enum(storedFlagNames, {
    error: (issue) =>
      issue.input === masterSwitch
        ? `${masterSwitch} is the master switch of support mode; it belongs to the lifecycle (POST /admin/bedrock-support/enable, /disable), not to an action`
        : `must be one of ${storedFlagNames.join(', ')}, got ${JSON.stringify(issue.input)}`,
  }),
  enabled: z.boolean(),
});
export type FeatureFlagSpec = z.infer<typeof featureFlagSpecSchema>;

const stateSchema = z.object({ enabled: z.boolean() });
type State = z.infer<typeof stateSchema>;

/** A flag a principal needs `administer` for is high risk; the others medium. */
const riskOfFlag = (flag: StoredFlagName): ActionRisk => (featureFlags[flag].permission === 'administer' ? 'high' : 'medium');

/**
 * One stored feature flag (every flag but the master switch), set through the flag service so its
 * own lock, audit entry (`feature-flag.set`) and change notice apply.
 */
export function featureFlagKind(flags: Pick<FeatureFlagService, 'get' | 'set'>): ActionKind<FeatureFlagSpec, State> {
  return {
    kind: 'feature-flag',
    risk: 'high',
    description: `Turns one feature flag on or off through the flag registry (${storedFlagNames.join(', ')}; not the master switch ${masterSwitch}, which belongs to the support-mode lifecycle). High risk for flags that need the administer permission, medium for the others. Rollback restores the previous value.`,
    reversible: true,
    schema: featureFlagSpecSchema,
    stateSchema,
    riskOf: (spec) => riskOfFlag(spec.flag),
    async read(spec) {
      return { enabled: (await flags.get(spec.flag)).state.enabled };
    },
    desired: (spec) => ({ enabled: spec.enabled }),
    changes: (spec, from, to) => (from.enabled === to.enabled ? [] : [{ target: `feature-flag:${spec.flag}`, from: from.enabled, to: to.enabled }]),
    describe: (spec, before, to) => {
      const word = (on: boolean) => (on ? 'on' : 'off');
      const what = featureFlags[spec.flag].description;
      return before.enabled === to.enabled
        ? `Feature flag ${spec.flag} already is ${word(to.enabled)}: nothing would change. (${what})`
        : `Feature flag ${spec.flag} goes from ${word(before.enabled)} to ${word(to.enabled)}. (${what})`;
    },
    async write(spec, _from, to, context) {
      await flags.set(spec.flag, to.enabled, { by: context.actor, reason: context.reason });
    },
  };
}
