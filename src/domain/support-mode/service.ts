import type { AuditEventInput } from '../audit-trail/chain.js';
import { apply, desiredQueueStates, statusOf, type Actor, type Command, type SupportModeState, type SupportStatus } from './state.js';

type QueueName = keyof ReturnType<typeof desiredQueueStates>;

export interface SupportModeDeps {
  store: {
    read(): Promise<SupportModeState>;
    exclusive<T>(work: () => Promise<T>): Promise<T>;
    update(change: (s: SupportModeState) => SupportModeState): Promise<{ before: SupportModeState; after: SupportModeState }>;
  };
  /** Pauses or resumes a queue for every worker in every process. */
  setPaused(queue: QueueName, paused: boolean): Promise<void>;
  /** Asks every worker process to cancel its running jobs; resolves with how many processes heard it. */
  cancelRunning(reason: string): Promise<number>;
  /** Jobs running now, across the fleet. */
  activeJobs(): Promise<number>;
  audit(event: AuditEventInput): Promise<unknown>;
  clock: () => Date;
  /** Told of every transition that changed something, after its queues were applied. */
  onTransition?: (event: { command: Command; actor: Actor; from: SupportStatus; to: SupportStatus; version: number }) => void;
}

export interface TransitionResult {
  from: SupportStatus;
  to: SupportStatus;
  /** False when the command found the state as it asked (the version did not move). */
  changed: boolean;
  state: SupportModeState;
}

export interface EmergencyResult extends TransitionResult {
  /** Worker processes that received the cancellation. */
  processesNotified: number;
  activeJobsBefore: number;
  /** Jobs still running when the call returned (0 once every cancelled job is back in its queue). */
  activeJobsAfter: number;
}

export interface SupportModeService {
  read(): Promise<SupportModeState>;
  execute(command: Exclude<Command, { type: 'emergency' }>, actor: Actor): Promise<TransitionResult>;
  emergencyShutdown(input: { reason: string; initiatedBy: string; immediate: boolean }, actor: Actor): Promise<EmergencyResult>;
  /** Makes every queue's paused state match the stored state (at start-up, after a failure). */
  reconcileQueues(): Promise<SupportModeState>;
}

export function createSupportModeService(deps: SupportModeDeps): SupportModeService {
  const applyQueues = async (state: SupportModeState) => {
    const desired = desiredQueueStates(state);
    await Promise.all((Object.keys(desired) as QueueName[]).map((q) => deps.setPaused(q, desired[q] === 'paused')));
  };

  // State write and queue changes happen under one fleet-wide lock: a slower request can
  // never resume a queue that a newer transition (an emergency) paused.
  const transition = (command: Command, actor: Actor): Promise<TransitionResult> => deps.store.exclusive(() => transitionLocked(command, actor));
  const transitionLocked = async (command: Command, actor: Actor): Promise<TransitionResult> => {
    const { before, after } = await deps.store.update((s) => apply(s, command, actor, deps.clock()));
    await applyQueues(after);
    const result = { from: statusOf(before), to: statusOf(after), changed: after.version !== before.version, state: after };
    // The request is recorded even when it changed nothing: the trail shows who asked for what.
    await deps.audit({
      actor: actor.by,
      action: `support-mode.${command.type}`,
      target: 'bedrock-support',
      details: { from: result.from, to: result.to, changed: result.changed, command, reason: actor.reason ?? null, version: after.version },
    });
    if (result.changed) {
      deps.onTransition?.({ command, actor, from: result.from, to: result.to, version: after.version });
    }
    return result;
  };

  return {
    read: () => deps.store.read(),
    execute: (command, actor) => transition(command, actor),
    async emergencyShutdown(input, actor) {
      const activeJobsBefore = await deps.activeJobs();
      const result = await transition({ type: 'emergency', ...input }, actor);
      let processesNotified = 0;
      let activeJobsAfter: number;
      if (input.immediate) {
        processesNotified = await deps.cancelRunning(`emergency shutdown: ${input.reason}`);
        // Cancelled jobs return to their (paused) queue; wait a bounded time to report it.
        const deadline = deps.clock().getTime() + 5_000;
        do {
          activeJobsAfter = await deps.activeJobs();
          if (activeJobsAfter === 0) {
            break;
          }
          await new Promise((r) => setTimeout(r, 50));
        } while (deps.clock().getTime() < deadline);
      } else {
        activeJobsAfter = await deps.activeJobs();
      }
      return { ...result, processesNotified, activeJobsBefore, activeJobsAfter };
    },
    reconcileQueues: () =>
      deps.store.exclusive(async () => {
        const state = await deps.store.read();
        await applyQueues(state);
        return state;
      }),
  };
}
