/**
 * The kinds of action this version has, and the union of their specs: the optimizations' kinds
 * (queue limits, feature flags, LLM routes) and implementation support's remediations (retry
 * failed jobs, clean finished jobs, promote delayed jobs, activate a component, reset an LLM
 * breaker, re-run the audit of targets, call an HTTP action of the inventory). More kinds are
 * added here: the catalog core stays as it is.
 */
import { z } from 'zod';
import type { FeatureFlagService } from '../feature-flags.service.js';
import type { RoutingMatrix } from '../llm/routing-matrix.js';
import type { RoutingOverrideStore } from '../llm/routing-overrides.js';
import { registerKind, type RegisteredKind } from './kind.js';
import { auditRerunKind, auditRerunSpecSchema, type AuditRerunSpec } from './kinds/audit-rerun.js';
import { componentActiveKind, componentActiveSpecSchema, type ComponentActiveSpec } from './kinds/component-active.js';
import { featureFlagKind, featureFlagSpecSchema, type FeatureFlagSpec } from './kinds/feature-flag.js';
import { httpHookKind, httpHookSpecSchema, type HttpHookSpec } from './kinds/http-hook.js';
import { llmResetBreakerKind, llmResetBreakerSpecSchema, type LlmResetBreakerSpec } from './kinds/llm-reset-breaker.js';
import { llmRouteKind, llmRouteSpecSchema, type LlmRouteSpec } from './kinds/llm-route.js';
import { queueCleanKind, queueCleanSpecSchema, type QueueCleanSpec } from './kinds/queue-clean.js';
import { queueConcurrencyKind, queueConcurrencySpecSchema, type QueueConcurrencySpec } from './kinds/queue-concurrency.js';
import { queuePromoteDelayedKind, queuePromoteDelayedSpecSchema, type QueuePromoteDelayedSpec } from './kinds/queue-promote-delayed.js';
import { queueRateLimitKind, queueRateLimitSpecSchema, type QueueRateLimitSpec } from './kinds/queue-rate-limit.js';
import { queueRetryFailedKind, queueRetryFailedSpecSchema, type QueueRetryFailedSpec } from './kinds/queue-retry-failed.js';
import type { AuditTargets, HttpHooks, LlmBreakers, QueueJobsOf, QueueLimitsOf, SupportModeControl } from './ports.js';

/** A spec of any built-in kind, discriminated by `kind`. */
export type ActionSpec =
  | QueueConcurrencySpec
  | QueueRateLimitSpec
  | FeatureFlagSpec
  | LlmRouteSpec
  | QueueRetryFailedSpec
  | QueueCleanSpec
  | QueuePromoteDelayedSpec
  | ComponentActiveSpec
  | LlmResetBreakerSpec
  | AuditRerunSpec
  | HttpHookSpec;
export type ActionKindName = ActionSpec['kind'];

/**
 * Every built-in spec as one zod schema, for API documentation (OpenAPI). Validate through
 * `ActionCatalog.parse`, whose errors name the field and the kinds it knows.
 */
export const actionSpecSchema = z.discriminatedUnion('kind', [
  queueConcurrencySpecSchema,
  queueRateLimitSpecSchema,
  featureFlagSpecSchema,
  llmRouteSpecSchema,
  queueRetryFailedSpecSchema,
  queueCleanSpecSchema,
  queuePromoteDelayedSpecSchema,
  componentActiveSpecSchema,
  llmResetBreakerSpecSchema,
  auditRerunSpecSchema,
  httpHookSpecSchema,
]);

/** What implementation support's remediation kinds act on. */
export interface RemediationKindDeps {
  /** The fleet's queues, for their jobs (BullMQ's `Queue`). */
  queueJobs: QueueJobsOf;
  /** The support-mode service (components are activated through its commands only). */
  supportMode: SupportModeControl;
  /** The LLM router's breaker store. */
  breakers: LlmBreakers;
  /** The auditor's inventory in force, prober and gap store (re-running targets; the inventory's HTTP actions). */
  audit: AuditTargets;
  /** Calls the HTTP actions the inventory declares. */
  hooks: HttpHooks;
}

export interface BuiltinKindDeps {
  queues: QueueLimitsOf;
  featureFlags: Pick<FeatureFlagService, 'get' | 'set'>;
  llm: { matrix: RoutingMatrix; overrides: Pick<RoutingOverrideStore, 'get' | 'put'> };
  /** The remediation kinds' ports; without them, those seven kinds are not in the catalog (the program always gives them). */
  remediation?: RemediationKindDeps;
}

/** The remediation kinds, in the order the catalog lists them. */
export function remediationActionKinds(deps: RemediationKindDeps): RegisteredKind[] {
  return [
    registerKind(queueRetryFailedKind(deps.queueJobs)),
    registerKind(queueCleanKind(deps.queueJobs)),
    registerKind(queuePromoteDelayedKind(deps.queueJobs)),
    registerKind(componentActiveKind(deps.supportMode)),
    registerKind(llmResetBreakerKind(deps.breakers)),
    registerKind(auditRerunKind(deps.audit)),
    registerKind(httpHookKind({ inventory: () => deps.audit.inventory(), hooks: deps.hooks })),
  ];
}

export function builtinActionKinds(deps: BuiltinKindDeps): RegisteredKind[] {
  return [
    registerKind(queueConcurrencyKind(deps.queues)),
    registerKind(queueRateLimitKind(deps.queues)),
    registerKind(featureFlagKind(deps.featureFlags)),
    registerKind(llmRouteKind(deps.llm)),
    ...(deps.remediation ? remediationActionKinds(deps.remediation) : []),
  ];
}
