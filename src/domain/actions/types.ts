/**
 * What the action catalog speaks in: risk levels, plans, applications (the stored record of one
 * applied action) and the errors it throws. See `catalog.ts` for how they fit together.
 */
import { z } from 'zod';

export const actionRisks = ['low', 'medium', 'high'] as const;
/** How much an action can hurt when it is wrong: what an approver weighs. */
export type ActionRisk = (typeof actionRisks)[number];

/** Every action spec has a `kind`; the rest belongs to the kind. */
export type ActionSpecBase = { kind: string };

/** One value an action changes: `target` names it (`queue:compliance:global-concurrency`). */
export interface ActionChange {
  target: string;
  /** The value read now; `null` when unset. */
  from: unknown;
  to: unknown;
}

/** What applying a spec would do, read from the current state (nothing is changed). */
export interface ActionPlan<S extends ActionSpecBase = ActionSpecBase> {
  spec: S;
  risk: ActionRisk;
  /** One or two sentences a person can approve or reject. */
  description: string;
  /** Empty when the state already is as asked (applying then changes nothing). */
  changes: ActionChange[];
  /** Whether the application can be rolled back. */
  reversible: boolean;
}

/** Reading the effect back after a change. */
export const verificationSchema = z.object({
  verified: z.boolean(),
  /** The state the change should have produced. */
  expected: z.unknown(),
  /** The state read back. */
  read: z.unknown(),
  checkedAt: z.string(),
});
export type ActionVerification = z.infer<typeof verificationSchema>;

export const rollbackSchema = z.object({
  at: z.string(),
  by: z.string(),
  cause: z.string().nullable(),
  changes: z.array(z.object({ target: z.string(), from: z.unknown(), to: z.unknown() })),
  verification: verificationSchema,
});
export type ActionRollback = z.infer<typeof rollbackSchema>;

export const applicationStatuses = ['applying', 'applied', 'failed'] as const;

/** The stored record of one applied action. */
export const applicationSchema = z.object({
  /** `act-` and 16 hex digits. */
  id: z.string().regex(/^act-[0-9a-f]{16}$/),
  kind: z.string(),
  spec: z.looseObject({ kind: z.string() }),
  risk: z.enum(actionRisks),
  description: z.string(),
  changes: z.array(z.object({ target: z.string(), from: z.unknown(), to: z.unknown() })),
  /** False when the state already was as asked. */
  changed: z.boolean(),
  /** The state read before the change. */
  before: z.unknown(),
  /** The state read back after the change; null until then (or when the change failed). */
  after: z.unknown(),
  /**
   * `applying` between the audit entry and the read-back (a record left so was interrupted);
   * `failed` when making the change threw (`error` says why; the state may be partly changed).
   */
  status: z.enum(applicationStatuses),
  appliedAt: z.string(),
  appliedBy: z.string(),
  /** What caused it, e.g. the `opt-…` id of the optimization it applies. */
  cause: z.string().nullable(),
  /** Redacted of personal data before it is stored. */
  note: z.string().nullable(),
  verification: verificationSchema.nullable(),
  error: z.string().nullable(),
  reversible: z.boolean(),
  rolledBack: rollbackSchema.nullable(),
});
export type StoredApplication = z.infer<typeof applicationSchema>;

/** An application as the catalog returns it: its spec parsed by its kind. */
export type ActionApplication<S extends ActionSpecBase = ActionSpecBase> = Omit<StoredApplication, 'spec'> & { spec: S };

/** Who applies or rolls back, and why. */
export interface ActionActor {
  /** The principal (API key name, `system`). */
  actor: string;
  /** What caused it, e.g. an `opt-…` id. */
  cause?: string;
  /** Free text; redacted before it is stored. */
  note?: string;
}

/** A kind as `kinds()` lists it. */
export interface ActionKindInfo {
  kind: string;
  /** The highest risk a spec of this kind has (a plan gives the spec's own). */
  risk: ActionRisk;
  description: string;
  reversible: boolean;
}

/** A spec that is not valid: `field` is the path of the first bad field (`queue`, `limit.max`). */
export class ActionValidationError extends Error {
  override readonly name = 'ActionValidationError';
  constructor(
    readonly field: string,
    message: string,
    readonly issues: { path: string; message: string }[] = [{ path: field, message }],
  ) {
    super(message);
  }
}

/** No application has this id. */
export class ActionNotFoundError extends Error {
  override readonly name = 'ActionNotFoundError';
  constructor(readonly id: string) {
    super(`no action application ${id}`);
  }
}

/**
 * The application cannot be rolled back now: already rolled back, never applied, of a kind that
 * cannot be undone, or its target was changed since (a rollback would undo that later change).
 */
export class ActionRollbackRefusedError extends Error {
  override readonly name = 'ActionRollbackRefusedError';
  constructor(
    readonly id: string,
    readonly reason: 'already_rolled_back' | 'not_applied' | 'not_reversible' | 'changed_since',
    message: string,
  ) {
    super(message);
  }
}

/** Another action holds the catalog's fleet-wide lock. */
export class ActionBusyError extends Error {
  override readonly name = 'ActionBusyError';
}
