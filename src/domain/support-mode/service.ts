import type { AuditEventInput } from '../audit-trail/chain.js';
import { Redactor } from '../compliance/pii.js';
import { recordBeforeChange } from '../audit-trail/ports.js';
import { apply, desiredQueueStates, statusOf, type Actor, type Command, type EmergencyRecord, type SupportModeState, type SupportStatus } from './state.js';

export { AuditUnavailableError } from '../audit-trail/ports.js';

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
  /**
   * Told once an emergency shutdown changed the state (queues paused, running jobs asked to stop),
   * with the record as stored (redacted), so the team hears of it. Its failure is its own to report:
   * the shutdown stands whatever it does.
   */
  onEmergency?: (emergency: EmergencyRecord) => Promise<void>;
  /** Told when an emergency shutdown's audit entry could not be written yet (it is retried until it is). */
  onAuditRetry?: (event: { attempt: number; error: string; nextRetryMs: number }) => void;
  /** Delay before retrying an emergency's audit entry; doubles up to 30 s. Default 1000. */
  auditRetryMs?: number;
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

  const entry = (command: Command, actor: Actor, before: SupportModeState, after: SupportModeState): AuditEventInput => ({
    actor: actor.by,
    action: `support-mode.${command.type}`,
    target: 'bedrock-support',
    details: { from: statusOf(before), to: statusOf(after), changed: after.version !== before.version, command, reason: actor.reason ?? null, version: after.version },
  });

  /** An emergency's entry is written whatever it takes: retried, with a growing pause, until the trail takes it. */
  const auditUntilWritten = (event: AuditEventInput) => {
    let attempt = 0;
    let pause = deps.auditRetryMs ?? 1_000;
    const tryOnce = () => {
      attempt += 1;
      deps.audit(event).catch((err: unknown) => {
        deps.onAuditRetry?.({ attempt, error: (err as Error).message, nextRetryMs: pause });
        setTimeout(tryOnce, pause).unref();
        pause = Math.min(pause * 2, 30_000);
      });
    };
    tryOnce();
  };

  // State write and queue changes happen under one fleet-wide lock: a slower request can
  // never resume a queue that a newer transition (an emergency) paused.
  const transition = (command: Command, actor: Actor): Promise<TransitionResult> => deps.store.exclusive(() => transitionLocked(command, actor));
  const transitionLocked = async (command: Command, actor: Actor): Promise<TransitionResult> => {
    let before: SupportModeState;
    let after: SupportModeState;
    if (command.type === 'emergency') {
      // Safety first: the shutdown stands even when the audit trail cannot take its entry now.
      ({ before, after } = await deps.store.update((s) => apply(s, command, actor, deps.clock())));
      await applyQueues(after);
      auditUntilWritten(entry(command, actor, before, after));
    } else {
      // Every other change is in the audit trail or does not happen: the entry is written first
      // (under the lock, so the state it describes is the one written next). The request is
      // recorded even when it changes nothing: the trail shows who asked for what.
      before = await deps.store.read();
      const planned = apply(before, command, actor, deps.clock());
      await recordBeforeChange({ append: (e) => deps.audit(e) }, entry(command, actor, before, planned));
      ({ before, after } = planned.version === before.version ? { before, after: before } : await deps.store.update((s) => apply(s, command, actor, deps.clock())));
      await applyQueues(after);
    }
    const result = { from: statusOf(before), to: statusOf(after), changed: after.version !== before.version, state: after };
    if (result.changed) {
      deps.onTransition?.({ command, actor, from: result.from, to: result.to, version: after.version });
    }
    return result;
  };

  /**
   * Free text a caller sends (reasons, names) is redacted before it is stored anywhere: the
   * state, the audit trail, the logs, the cancellation message. One redactor per request, so
   * the same value gets the same placeholder in every field.
   */
  const redacted = (actor: Actor, redactor: Redactor): Actor => (actor.reason === undefined ? actor : { ...actor, reason: redactor.redact(actor.reason) });

  return {
    read: () => deps.store.read(),
    execute: (command, actor) => transition(command, redacted(actor, new Redactor())),
    async emergencyShutdown(raw, rawActor) {
      const redactor = new Redactor();
      const input = { ...raw, reason: redactor.redact(raw.reason), initiatedBy: redactor.redact(raw.initiatedBy) };
      const actor = redacted(rawActor, redactor);
      const activeJobsBefore = await deps.activeJobs();
      const result = await transition({ type: 'emergency', ...input }, actor);
      let processesNotified = 0;
      let activeJobsAfter: number;
      if (input.immediate) {
        processesNotified = await deps.cancelRunning(`emergency shutdown: ${input.reason}`);
      }
      if (result.changed && result.state.emergency !== null) {
        // The shutdown has happened: nothing the hook meets may undo or fail it.
        await deps.onEmergency?.(result.state.emergency).catch(() => undefined);
      }
      if (input.immediate) {
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
