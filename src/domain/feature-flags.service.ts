import type { AuditEventInput } from './audit-trail/chain.js';
import { Redactor } from './compliance/pii.js';
import { defaultState, featureFlagNames, featureFlags, masterSwitch, type FeatureFlagDefinition, type FeatureFlagName, type FeatureFlagReader, type FlagState, type StoredFlagName } from './feature-flags.js';

/** Where the flags other than the master switch live. */
export interface FeatureFlagStore {
  /** The stored states; a flag nobody has set is absent. */
  readAll(): Promise<Partial<Record<StoredFlagName, FlagState>>>;
  read(name: StoredFlagName): Promise<FlagState | null>;
  write(name: StoredFlagName, state: FlagState): Promise<void>;
  /** Runs `work` holding the fleet-wide flag lock, so two changes are never interleaved. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

export interface FeatureFlagDeps {
  store: FeatureFlagStore;
  audit(event: AuditEventInput): Promise<unknown>;
  /** The master switch, as the support-mode lifecycle keeps it. */
  masterSwitch(): Promise<FlagState>;
  clock: () => Date;
  /** Told of every change that was stored (the reason already redacted). */
  onChange?: (event: { flag: StoredFlagName; from: boolean; to: boolean; by: string; reason: string | null }) => void;
}

/** A flag as the registry declares it, with its current value and last change. */
export interface FlagView {
  definition: FeatureFlagDefinition;
  state: FlagState;
}

export interface FlagChange extends FlagView {
  /** False when the flag already was as asked: nothing was written but the audit entry. */
  changed: boolean;
}

export interface FeatureFlagService extends FeatureFlagReader {
  /** Every flag of the registry, in its order, the master switch included. */
  list(): Promise<FlagView[]>;
  get(name: FeatureFlagName): Promise<FlagView>;
  /** Sets a flag. The change is in the audit trail before it is stored, or it does not happen. */
  set(name: StoredFlagName, enabled: boolean, actor: { by: string; reason?: string }): Promise<FlagChange>;
}

export function createFeatureFlagService(deps: FeatureFlagDeps): FeatureFlagService {
  const { store } = deps;
  const stateOf = async (name: StoredFlagName) => (await store.read(name)) ?? defaultState(name);
  return {
    async enabled(name) {
      return (await stateOf(name)).enabled;
    },
    async list() {
      const [stored, master] = await Promise.all([store.readAll(), deps.masterSwitch()]);
      return featureFlagNames.map((name) => ({ definition: featureFlags[name], state: name === masterSwitch ? master : (stored[name] ?? defaultState(name)) }));
    },
    async get(name) {
      return { definition: featureFlags[name], state: name === masterSwitch ? await deps.masterSwitch() : await stateOf(name) };
    },
    set(name, enabled, actor) {
      return store.exclusive(async () => {
        const before = await stateOf(name);
        const changed = before.enabled !== enabled;
        const reason = actor.reason === undefined ? null : new Redactor().redact(actor.reason);
        // The audit entry is written first, under the lock: when it cannot be written the flag is
        // not touched, and no other change can come between the entry and the write it records.
        // (Should the write fail after it, the trail holds a change that did not stand: it may say
        // too much, never too little.) A request that changes nothing is recorded too, as
        // support-mode transitions are.
        await deps.audit({ actor: actor.by, action: 'feature-flag.set', target: name, details: { flag: name, from: before.enabled, to: enabled, changed, reason } });
        if (!changed) {
          return { definition: featureFlags[name], state: before, changed };
        }
        const after: FlagState = { enabled, updatedAt: deps.clock().toISOString(), updatedBy: actor.by, reason };
        await store.write(name, after);
        deps.onChange?.({ flag: name, from: before.enabled, to: enabled, by: actor.by, reason });
        return { definition: featureFlags[name], state: after, changed };
      });
    },
  };
}
