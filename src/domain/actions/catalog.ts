/**
 * The action catalog: the one list of changes the service can make to itself, used by the
 * meta-monitor's optimizations and implementation support's remediations alike.
 *
 * Every action, whatever its kind, goes the same way (under one fleet-wide lock, so two actions
 * never interleave and a plan's "before" is still true when it is applied):
 * 1. parse: the spec is validated by its kind's schema; a bad one is an {@link ActionValidationError} naming the field;
 * 2. dry run: the current state is read and the changes listed (`target`, `from`, `to`), nothing written;
 * 3. apply: the audit trail records the change first (`action.apply`; when it cannot, nothing
 *    changes: {@link AuditUnavailableError}), the record is stored (`applying`), the change is
 *    made, read back, and the record completed with what was read (`verification.verified`);
 * 4. rollback: once, only while the target still holds what the application left there: audited
 *    (`action.rollback`), the state before restored, read back and recorded on the application.
 *
 * A kind is an `ActionKind` (`kind.ts`); the built-in ones are in `kinds/`. The core never
 * changes for a new one.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEventInput } from '../audit-trail/chain.js';
import { recordBeforeChange } from '../audit-trail/ports.js';
import { Redactor } from '../compliance/pii.js';
import type { BoundAction, RegisteredKind } from './kind.js';
import {
  ActionNotFoundError,
  ActionRollbackRefusedError,
  ActionValidationError,
  type ActionActor,
  type ActionApplication,
  type ActionKindInfo,
  type ActionPlan,
  type ActionSpecBase,
  type ActionVerification,
  type StoredApplication,
} from './types.js';

/** Where application records live. */
export interface ActionRecordStore {
  /** Creates or replaces the record of `record.id`. */
  save(record: StoredApplication): Promise<void>;
  get(id: string): Promise<StoredApplication | null>;
  /** The newest records first. */
  recent(limit: number): Promise<StoredApplication[]>;
  /** Runs `work` holding the catalog's fleet-wide lock (throws {@link ActionBusyError} when it waited too long). */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

export interface ActionCatalog<S extends ActionSpecBase = ActionSpecBase> {
  /** Every kind, with its risk and what it does. */
  kinds(): ActionKindInfo[];
  /** Validates a spec. @throws ActionValidationError naming the field. */
  parse(input: unknown): S;
  /** Reads the current state and says what applying would change; writes nothing. */
  dryRun(spec: S): Promise<ActionPlan<S>>;
  /** Audits, applies, reads back and records. @throws AuditUnavailableError (nothing changed) */
  apply(spec: S, by: ActionActor): Promise<ActionApplication<S>>;
  /** Restores the state before application `id`, once. @throws ActionNotFoundError, ActionRollbackRefusedError */
  rollback(id: string, by: Omit<ActionActor, 'note'>): Promise<ActionApplication<S>>;
  get(id: string): Promise<ActionApplication<S> | null>;
  /** The newest applications first. */
  recent(limit: number): Promise<ActionApplication<S>[]>;
}

export interface ActionCatalogDeps {
  /** Each kind once, registered with {@link registerKind}. */
  kinds: readonly RegisteredKind[];
  records: ActionRecordStore;
  audit: { append(input: AuditEventInput): Promise<unknown> };
  clock: () => Date;
  /** Default: `act-` and 16 random hex digits. */
  newId?: () => string;
}

const defaultId = () => `act-${randomBytes(8).toString('hex')}`;

/** Builds the catalog over its kinds. `S` is the union of their specs. */
export function createActionCatalog<S extends ActionSpecBase>(deps: ActionCatalogDeps): ActionCatalog<S> {
  const byKind = new Map<string, RegisteredKind>();
  for (const k of deps.kinds) {
    if (byKind.has(k.info.kind)) {
      throw new Error(`action kind ${k.info.kind} is registered twice`);
    }
    byKind.set(k.info.kind, k);
  }
  const newId = deps.newId ?? defaultId;
  const now = () => deps.clock().toISOString();
  const known = () => [...byKind.keys()].join(', ');

  function bind(input: unknown): BoundAction {
    const kind = typeof input === 'object' && input !== null && 'kind' in input ? input.kind : undefined;
    if (kind === undefined) {
      throw new ActionValidationError('kind', `kind is required, one of ${known()}`);
    }
    const registered = typeof kind === 'string' ? byKind.get(kind) : undefined;
    if (!registered) {
      throw new ActionValidationError('kind', `kind must be one of ${known()}, got ${JSON.stringify(kind)}`);
    }
    return registered.bind(input);
  }

  // The spec a kind's schema returns is the catalog's `S` for the kinds it was built with.
  const typed = (record: StoredApplication): ActionApplication<S> => ({ ...record, spec: bind(record.spec).spec as S });

  async function verify(action: BoundAction, expected: unknown): Promise<ActionVerification> {
    const read = await action.read();
    return { verified: action.matches(expected, read), expected, read, checkedAt: now() };
  }

  async function plan(action: BoundAction) {
    const before = await action.read();
    const to = action.desired(before);
    return { before, to, risk: action.riskOf(before), changes: action.changes(before, to), description: action.describe(before, to) };
  }

  return {
    kinds: () => [...byKind.values()].map((k) => k.info),
    parse: (input) => bind(input).spec as S,
    async dryRun(spec) {
      const action = bind(spec);
      const { risk, changes, description } = await plan(action);
      return { spec: action.spec as S, risk, description, changes, reversible: action.reversible };
    },
    apply(spec, by) {
      const action = bind(spec);
      return deps.records.exclusive(async () => {
        const { before, to, risk, changes, description } = await plan(action);
        const id = newId();
        const note = by.note === undefined ? null : new Redactor().redact(by.note);
        const cause = by.cause ?? null;
        await recordBeforeChange(deps.audit, {
          actor: by.actor,
          action: 'action.apply',
          target: id,
          details: { kind: action.spec.kind, spec: action.spec, risk, changes, cause, note },
        });
        const record: StoredApplication = {
          id,
          kind: action.spec.kind,
          spec: action.spec,
          risk,
          description,
          changes,
          changed: !action.matches(to, before),
          before,
          after: null,
          status: 'applying',
          appliedAt: now(),
          appliedBy: by.actor,
          cause,
          note,
          verification: null,
          error: null,
          reversible: action.reversible,
          rolledBack: null,
        };
        await deps.records.save(record);
        try {
          await action.write(before, to, { id, actor: by.actor, rollback: false, reason: reasonOf(id, cause, note) });
        } catch (err) {
          // The record says the change was tried and failed (its state may be partly changed); the caller hears why.
          await deps.records.save({ ...record, status: 'failed', error: (err as Error).message });
          throw err;
        }
        const verification = await verify(action, to);
        const done: StoredApplication = { ...record, status: 'applied', after: verification.read, verification };
        await deps.records.save(done);
        return typed(done);
      });
    },
    rollback(id, by) {
      return deps.records.exclusive(async () => {
        const record = await deps.records.get(id);
        if (!record) {
          throw new ActionNotFoundError(id);
        }
        if (record.rolledBack) {
          throw new ActionRollbackRefusedError(id, 'already_rolled_back', `action ${id} was already rolled back at ${record.rolledBack.at} by ${record.rolledBack.by}`);
        }
        if (record.status !== 'applied') {
          throw new ActionRollbackRefusedError(id, 'not_applied', `action ${id} is ${record.status}, not applied: there is nothing known to roll back`);
        }
        const action = bind(record.spec);
        if (!record.reversible || !action.reversible) {
          throw new ActionRollbackRefusedError(id, 'not_reversible', `action ${id} (${record.kind}) cannot be rolled back`);
        }
        const current = await action.read();
        if (!action.matches(record.after, current)) {
          const since = action.changes(record.after, current);
          throw new ActionRollbackRefusedError(
            id,
            'changed_since',
            `action ${id} cannot be rolled back: its target changed since it was applied (${since.map((c) => `${c.target} is ${JSON.stringify(c.to)}, it left ${JSON.stringify(c.from)}`).join('; ') || 'the state differs'}); rolling back would undo that later change`,
          );
        }
        const changes = action.changes(current, record.before);
        const cause = by.cause ?? null;
        await recordBeforeChange(deps.audit, { actor: by.actor, action: 'action.rollback', target: id, details: { kind: record.kind, spec: record.spec, changes, cause } });
        await action.write(current, record.before, { id, actor: by.actor, rollback: true, reason: `rollback of action ${id}${cause === null ? '' : ` (${cause})`}` });
        const verification = await verify(action, record.before);
        const done: StoredApplication = { ...record, rolledBack: { at: now(), by: by.actor, cause, changes, verification } };
        await deps.records.save(done);
        return typed(done);
      });
    },
    async get(id) {
      const record = await deps.records.get(id);
      return record === null ? null : typed(record);
    },
    async recent(limit) {
      return (await deps.records.recent(limit)).map(typed);
    },
  };
}

function reasonOf(id: string, cause: string | null, note: string | null): string {
  return [`action ${id}`, cause === null ? null : `cause ${cause}`, note].filter((p) => p !== null).join(': ');
}
