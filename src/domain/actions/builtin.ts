/**
 * The kinds of action this version has, and the union of their specs. Implementation support's
 * remediations (retry failed jobs, clean jobs, promote delayed, activate a component, reset a
 * breaker, re-run audit targets) are added here as more kinds: the catalog core stays as it is.
 */
import { z } from 'zod';
import type { FeatureFlagService } from '../feature-flags.service.js';
import type { RoutingMatrix } from '../llm/routing-matrix.js';
import type { RoutingOverrideStore } from '../llm/routing-overrides.js';
import { registerKind, type RegisteredKind } from './kind.js';
import { featureFlagKind, featureFlagSpecSchema, type FeatureFlagSpec } from './kinds/feature-flag.js';
import { llmRouteKind, llmRouteSpecSchema, type LlmRouteSpec } from './kinds/llm-route.js';
import { queueConcurrencyKind, queueConcurrencySpecSchema, type QueueConcurrencySpec } from './kinds/queue-concurrency.js';
import { queueRateLimitKind, queueRateLimitSpecSchema, type QueueRateLimitSpec } from './kinds/queue-rate-limit.js';
import type { QueueLimitsOf } from './ports.js';

/** A spec of any built-in kind, discriminated by `kind`. */
export type ActionSpec = QueueConcurrencySpec | QueueRateLimitSpec | FeatureFlagSpec | LlmRouteSpec;
export type ActionKindName = ActionSpec['kind'];

/**
 * Every built-in spec as one zod schema, for API documentation (OpenAPI). Validate through
 * `ActionCatalog.parse`, whose errors name the field and the kinds it knows.
 */
export const actionSpecSchema = z.discriminatedUnion('kind', [queueConcurrencySpecSchema, queueRateLimitSpecSchema, featureFlagSpecSchema, llmRouteSpecSchema]);

export interface BuiltinKindDeps {
  queues: QueueLimitsOf;
  featureFlags: Pick<FeatureFlagService, 'get' | 'set'>;
  llm: { matrix: RoutingMatrix; overrides: Pick<RoutingOverrideStore, 'get' | 'put'> };
}

export function builtinActionKinds(deps: BuiltinKindDeps): RegisteredKind[] {
  return [registerKind(queueConcurrencyKind(deps.queues)), registerKind(queueRateLimitKind(deps.queues)), registerKind(featureFlagKind(deps.featureFlags)), registerKind(llmRouteKind(deps.llm))];
}
