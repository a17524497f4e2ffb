/**
 * The action catalog (see `catalog.ts`): one list of the changes the service can make to itself,
 * each with a risk, a dry run, an audited apply, a verification and a rollback.
 */
import type { AuditEventInput } from '../audit-trail/chain.js';
import { builtinActionKinds, type ActionSpec, type BuiltinKindDeps } from './builtin.js';
import { createActionCatalog, type ActionCatalog, type ActionRecordStore } from './catalog.js';

export { createActionCatalog } from './catalog.js';
export type { ActionCatalog, ActionCatalogDeps, ActionRecordStore } from './catalog.js';
export { actionSpecSchema, builtinActionKinds, remediationActionKinds } from './builtin.js';
export type { ActionKindName, ActionSpec, BuiltinKindDeps, RemediationKindDeps } from './builtin.js';
export { registerKind } from './kind.js';
export type { ActionKind, RegisteredKind, WriteContext } from './kind.js';
export type {
  AuditTargets,
  FinishedJobState,
  HookResponse,
  HttpHooks,
  LlmBreakers,
  QueueGlobalLimits,
  QueueJob,
  QueueJobs,
  QueueJobsOf,
  QueueLimitsOf,
  SupportModeControl,
} from './ports.js';
export { maxRetriedPerAction, maxScannedForCluster } from './kinds/queue-retry-failed.js';
export { minCleanAgeMs } from './kinds/queue-clean.js';
export { maxRerunTargets } from './kinds/audit-rerun.js';
export { HttpHookChangedError, maxHookExcerpt } from './kinds/http-hook.js';
export * from './types.js';

/** The catalog of this version's kinds. */
export function createBuiltinActionCatalog(deps: BuiltinKindDeps & { records: ActionRecordStore; audit: { append(input: AuditEventInput): Promise<unknown> }; clock: () => Date; newId?: () => string }): ActionCatalog<ActionSpec> {
  return createActionCatalog<ActionSpec>({ kinds: builtinActionKinds(deps), records: deps.records, audit: deps.audit, clock: deps.clock, newId: deps.newId });
}
