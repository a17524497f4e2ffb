/**
 * The support-mode lifecycle as pure data and transitions. Stored in Redis and shared by
 * every process; the service applies the resulting queue states.
 *
 *   disabled --enable--> inactive --activate(component)--> partial --> active
 *   any --deactivate--> inactive; any --flag disable--> disabled; any --emergency--> emergency
 *   emergency/disabled --flag enable--> inactive (components re-activated one at a time)
 *
 * A command that changes nothing (activating what is active, disabling what is disabled) leaves
 * the state as it is, version included. After an emergency, recovery re-activates components one
 * at a time: until all of them are active again at once (`lastEmergency.reactivatedAt`), a
 * command that would switch on more than one component at once is refused.
 */

/** Components an operator activates one by one (their queues run only while active). */
export const componentNames = ['infrastructure-auditor', 'meta-monitor', 'implementation-support'] as const;
export type ComponentName = (typeof componentNames)[number];

export function isComponentName(value: string): value is ComponentName {
  return (componentNames as readonly string[]).includes(value);
}

export const supportStatuses = ['disabled', 'inactive', 'partial', 'active', 'emergency'] as const;
export type SupportStatus = (typeof supportStatuses)[number];

export interface Actor {
  /** API key name (or `system`). */
  by: string;
  reason?: string;
}

export interface EmergencyRecord {
  at: string;
  reason: string;
  initiatedBy: string;
  requestedBy: string;
  immediate: boolean;
}

export interface SupportModeState {
  /** The `bedrock-support` feature flag: the master switch. */
  flag: { enabled: boolean; updatedAt: string | null; updatedBy: string | null; reason: string | null };
  components: Record<ComponentName, { active: boolean; since: string | null; by: string | null }>;
  /** Set by an emergency shutdown; kept until the flag is enabled again. */
  emergency: EmergencyRecord | null;
  /**
   * The last emergency that was recovered from: who enabled the flag again, and when every
   * component was active again (null while the gradual reactivation is under way).
   */
  lastEmergency: (EmergencyRecord & { recoveredAt: string; recoveredBy: string; reactivatedAt: string | null }) | null;
  lastTransition: { at: string; action: string; by: string; reason: string | null } | null;
  /** Incremented on every change; used for compare-and-set across processes. */
  version: number;
}

export function initialState(): SupportModeState {
  const components = Object.fromEntries(componentNames.map((c) => [c, { active: false, since: null, by: null }])) as SupportModeState['components'];
  return { flag: { enabled: false, updatedAt: null, updatedBy: null, reason: null }, components, emergency: null, lastEmergency: null, lastTransition: null, version: 0 };
}

export function statusOf(state: SupportModeState): SupportStatus {
  if (!state.flag.enabled) {
    return state.emergency ? 'emergency' : 'disabled';
  }
  const active = componentNames.filter((c) => state.components[c].active).length;
  return active === 0 ? 'inactive' : active === componentNames.length ? 'active' : 'partial';
}

/** Which queues run in a state. Compliance keeps running unless in an emergency. */
export function desiredQueueStates(state: SupportModeState): Record<'bedrock-support' | 'compliance' | ComponentName, 'running' | 'paused'> {
  const run = (b: boolean) => (b ? 'running' : 'paused');
  return {
    'bedrock-support': run(state.flag.enabled),
    compliance: run(statusOf(state) !== 'emergency'),
    'infrastructure-auditor': run(state.flag.enabled && state.components['infrastructure-auditor'].active),
    'meta-monitor': run(state.flag.enabled && state.components['meta-monitor'].active),
    'implementation-support': run(state.flag.enabled && state.components['implementation-support'].active),
  };
}

/** A transition that the current state does not allow. */
export class SupportModeConflictError extends Error {
  override readonly name = 'SupportModeConflictError';
  constructor(
    message: string,
    readonly status: SupportStatus,
  ) {
    super(message);
  }
}

export type Command =
  | { type: 'flag.enable' }
  | { type: 'flag.disable' }
  | { type: 'enable'; activate: boolean }
  | { type: 'activate'; components: readonly ComponentName[] }
  | { type: 'deactivate'; components: readonly ComponentName[] }
  | { type: 'emergency'; reason: string; initiatedBy: string; immediate: boolean };

/** Whether the gradual reactivation after an emergency is under way (flag enabled again, not every component back). */
export function isRecovering(state: SupportModeState): boolean {
  return state.emergency === null && state.lastEmergency !== null && state.lastEmergency.reactivatedAt === null;
}

/** During recovery, refuses a command that would switch on more than one component at once. */
function requireGradual(state: SupportModeState, names: readonly ComponentName[]): void {
  const switchedOn = names.filter((c) => !state.components[c].active);
  if (!isRecovering(state) || switchedOn.length <= 1) {
    return;
  }
  const active = componentNames.filter((c) => state.components[c].active);
  throw new SupportModeConflictError(
    `recovering from the emergency shutdown of ${state.lastEmergency?.at ?? 'unknown time'}: activate one component at a time with POST /admin/bedrock-support/activate-component (active again: ${active.length === 0 ? 'none' : active.join(', ')}; not yet: ${switchedOn.join(', ')})`,
    statusOf(state),
  );
}

function requireFlag(state: SupportModeState, what: string): void {
  if (!state.flag.enabled) {
    const status = statusOf(state);
    throw new SupportModeConflictError(
      `cannot ${what}: support mode is ${status} (feature flag bedrock-support is disabled); enable it first with POST /admin/feature-flags/bedrock-support/enable or POST /admin/bedrock-support/enable`,
      status,
    );
  }
}

/** Applies a command; returns the new state (the input is not modified). */
export function apply(state: SupportModeState, command: Command, actor: Actor, at: Date): SupportModeState {
  const now = at.toISOString();
  const next: SupportModeState = structuredClone(state);
  const setComponents = (names: readonly ComponentName[], active: boolean) => {
    for (const c of names) {
      if (next.components[c].active !== active) {
        next.components[c] = { active, since: now, by: actor.by };
      }
    }
  };
  const setFlag = (enabled: boolean) => {
    next.flag = { enabled, updatedAt: now, updatedBy: actor.by, reason: actor.reason ?? null };
  };
  switch (command.type) {
    case 'flag.enable':
    case 'enable':
      if (command.type === 'enable' && command.activate && state.emergency) {
        throw new SupportModeConflictError(
          'cannot activate every component at once after an emergency shutdown: enable without "active": true, then activate the components one at a time with POST /admin/bedrock-support/activate-component',
          'emergency',
        );
      }
      if (!state.flag.enabled) {
        setFlag(true);
        if (state.emergency) {
          next.lastEmergency = { ...state.emergency, recoveredAt: now, recoveredBy: actor.by, reactivatedAt: null };
        }
        next.emergency = null;
      }
      if (command.type === 'enable' && command.activate) {
        requireGradual(next, componentNames);
        setComponents(componentNames, true);
      }
      break;
    case 'flag.disable':
      if (state.flag.enabled) {
        setFlag(false);
      }
      setComponents(componentNames, false);
      break;
    case 'activate':
      requireFlag(state, 'activate components');
      requireGradual(state, command.components);
      setComponents(command.components, true);
      break;
    case 'deactivate':
      setComponents(command.components, false);
      break;
    case 'emergency':
      setFlag(false);
      setComponents(componentNames, false);
      next.emergency = { at: now, reason: command.reason, initiatedBy: command.initiatedBy, requestedBy: actor.by, immediate: command.immediate };
      break;
    default: {
      const never: never = command;
      throw new Error(`unknown command ${JSON.stringify(never)}`);
    }
  }
  if (next.lastEmergency !== null && isRecovering(next) && componentNames.every((c) => next.components[c].active)) {
    next.lastEmergency = { ...next.lastEmergency, reactivatedAt: now };
  }
  if (!changes(state, next)) {
    return state;
  }
  next.lastTransition = { at: now, action: command.type, by: actor.by, reason: actor.reason ?? null };
  next.version = state.version + 1;
  return next;
}

/** Whether `after` differs from `before` in anything but its bookkeeping (version, last transition). */
export function changes(before: SupportModeState, after: SupportModeState): boolean {
  const meaning = (s: SupportModeState) => JSON.stringify([s.flag, s.components, s.emergency, s.lastEmergency ?? null]);
  return meaning(before) !== meaning(after);
}

/** The fleet-wide lock could not be taken in time: another transition is running. */
export class SupportModeBusyError extends Error {
  override readonly name = 'SupportModeBusyError';
}
