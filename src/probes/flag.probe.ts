/** The `feature-flag` kind: a flag has the value the inventory expects. */
import type { TargetOf } from '../domain/audit/inventory.js';
import type { FeatureFlagName } from '../domain/feature-flags.js';
import { describeTarget, observation, type Findings } from './findings.js';

export interface FlagProbeDeps {
  /** A flag's value now; for the master switch `bedrock-support`, support mode's `flag.enabled`. */
  flag: (name: FeatureFlagName) => Promise<boolean>;
}

const word = (enabled: boolean) => (enabled ? 'enabled' : 'disabled');

export async function probeFlag(target: TargetOf<'feature-flag'>, deps: FlagProbeDeps): Promise<Findings> {
  const value = await deps.flag(target.flag);
  return {
    reach: { reachable: true },
    observations: [observation('value', `${describeTarget(target)} is ${word(target.expected)}`, word(target.expected), word(value), value === target.expected, 'configuration_drift')],
  };
}
