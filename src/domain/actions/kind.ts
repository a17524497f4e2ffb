/**
 * One kind of action: how its spec is validated, what state it reads, what state a spec asks
 * for, how it makes a state real. The catalog core (`catalog.ts`) does the rest (audit first,
 * apply, read back, record, roll back) the same way for every kind, so a new kind is a new
 * {@link ActionKind} and one more entry in the list the catalog is built with.
 */
import type { z } from 'zod';
import { canonicalJson } from '../audit-trail/canonical.js';
import { ActionValidationError, type ActionChange, type ActionKindInfo, type ActionRisk, type ActionSpecBase } from './types.js';

/** Why a kind is asked to write a state, for the records it keeps itself (a flag's reason). */
export interface WriteContext {
  /** The application's `act-…` id. */
  id: string;
  actor: string;
  /** True when the write restores the state before an application. */
  rollback: boolean;
  /** A sentence for the changed thing's own record (the flag service's `reason`). */
  reason: string;
}

/**
 * A kind of action over a state `T` (JSON: it is stored in the application record).
 * `read` and `write` are the only I/O; everything else is pure.
 */
export interface ActionKind<S extends ActionSpecBase, T> {
  readonly kind: S['kind'];
  /** The highest risk a spec of this kind has. */
  readonly risk: ActionRisk;
  readonly description: string;
  /** False for actions that cannot be undone (retrying jobs): rollback is then refused. */
  readonly reversible: boolean;
  /** Validates a spec; its `kind` field is a literal of this kind. */
  readonly schema: z.ZodType<S>;
  /** Parses a state read back from the application record. */
  readonly stateSchema: z.ZodType<T>;
  /**
   * The risk of this spec, when it depends on the spec or on the state read before the change
   * (an HTTP hook's declared risk); default: {@link risk}, which must be at least as high.
   */
  riskOf?(spec: S, before: T): ActionRisk;
  /** Reads the state the spec is about, now (never cached: verification reads through it). */
  read(spec: S): Promise<T>;
  /** The state applying `spec` to `before` should produce. Throws {@link ActionValidationError} when that state would be invalid. */
  desired(spec: S, before: T): T;
  /** The values that differ between two states, in words a person reads. */
  changes(spec: S, from: T, to: T): ActionChange[];
  /** What applying `spec` to `before` does, in a sentence or two. */
  describe(spec: S, before: T, to: T): string;
  /** Makes `to` the state (`from` is the state read just before). */
  write(spec: S, from: T, to: T, context: WriteContext): Promise<void>;
  /** Whether the state read back is the one asked for (default: the same JSON). */
  matches?(expected: T, read: T): boolean;
}

/** An action kind with its spec bound: what the catalog core works with (states stay opaque). */
export interface BoundAction {
  readonly spec: ActionSpecBase;
  readonly reversible: boolean;
  /** The risk of applying the spec to `before` (the state a plan read). */
  riskOf(before: unknown): ActionRisk;
  read(): Promise<unknown>;
  desired(before: unknown): unknown;
  changes(from: unknown, to: unknown): ActionChange[];
  describe(before: unknown, to: unknown): string;
  write(from: unknown, to: unknown, context: WriteContext): Promise<void>;
  matches(expected: unknown, read: unknown): boolean;
}

/** A kind with its types erased, so kinds of different specs and states live in one list. */
export interface RegisteredKind {
  readonly info: ActionKindInfo;
  /** Validates `input` against the kind's schema and binds it; throws {@link ActionValidationError}. */
  bind(input: unknown): BoundAction;
}

/** The first issue of a zod error as a validation error naming its field. */
export function validationError(error: z.ZodError, prefix = ''): ActionValidationError {
  const issues = error.issues.map((i) => {
    const path = [prefix, ...i.path.map(String)].filter((p) => p !== '').join('.') || '(spec)';
    // An unknown key is reported on its parent object: name the key itself.
    if (i.code === 'unrecognized_keys') {
      const key = [path === '(spec)' ? '' : path, i.keys[0] ?? ''].filter((p) => p !== '').join('.');
      return { path: key, message: `${key} is not a known field` };
    }
    return { path, message: `${path}: ${i.message}` };
  });
  const first = issues[0] ?? { path: '(spec)', message: 'invalid spec' };
  return new ActionValidationError(first.path, first.message, issues);
}

/** Registers a kind: its typed functions behind an erased interface, states parsed through its schema. */
export function registerKind<S extends ActionSpecBase, T>(kind: ActionKind<S, T>): RegisteredKind {
  const state = (value: unknown): T => kind.stateSchema.parse(value);
  const same = (a: T, b: T) => (kind.matches ? kind.matches(a, b) : canonicalJson(a) === canonicalJson(b));
  return {
    info: { kind: kind.kind, risk: kind.risk, description: kind.description, reversible: kind.reversible },
    bind(input) {
      const parsed = kind.schema.safeParse(input);
      if (!parsed.success) {
        throw validationError(parsed.error);
      }
      const spec = parsed.data;
      return {
        spec,
        reversible: kind.reversible,
        riskOf: (before) => (kind.riskOf ? kind.riskOf(spec, state(before)) : kind.risk),
        read: () => kind.read(spec),
        desired: (before) => kind.desired(spec, state(before)),
        changes: (from, to) => kind.changes(spec, state(from), state(to)),
        describe: (before, to) => kind.describe(spec, state(before), state(to)),
        write: (from, to, context) => kind.write(spec, state(from), state(to), context),
        matches: (expected, read) => same(state(expected), state(read)),
      };
    },
  };
}
