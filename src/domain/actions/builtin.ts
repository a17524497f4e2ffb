/**
 * The kinds of action this version has, and the union of their specs. Implementation support's
 * remediations (retry failed jobs, clean jobs, promote delayed, activate a component, reset a
 * breaker, re-run audit targets) are added here as more kinds: the catalog core stays as it is.
 */
import type { FeatureFlagService } from '../feature-flags.service.js';
import type { RoutingMatrix } from '../llm/routing-matrix.js';
import type { RoutingOverrideStore } from '../llm/routing-overrides.js';
import { registerKind, type RegisteredKind } from './kind.js';
import { featureFlagKind, type FeatureFlagSpec } from './kinds/feature-flag.js';
import { llmRouteKind, type LlmRouteSpec } from './kinds/llm-route.js';
import { queueConcurrencyKind, type QueueConcurrencySpec } from './kinds/queue-concurrency.js';
import { queueRateLimitKind, type QueueRateLimitSpec } from './kinds/queue-rate-limit.js';
import type { QueueLimitsOf } from './ports.js';

/** A spec of any built-in kind, discriminated by `kind`. */
export type ActionSpec = QueueConcurrencySpec | QueueRateLimitSpec | FeatureFlagSpec | LlmRouteSpec;
export type ActionKindName = ActionSpec['kind'];

export interface BuiltinKindDeps {
  queues: QueueLimitsOf;
  featureFlags: Pick<FeatureFlagService, 'get' | 'set'>;
  llm: { matrix: RoutingMatrix; overrides: Pick<RoutingOverrideStore, 'get' | 'put'> };
}

export function builtinActionKinds(deps: BuiltinKindDeps): RegisteredKind[] {
  return [registerKind(queueConcurrencyKind(deps.queues)), registerKind(queueRateLimitKind(deps.queues)), registerKind(featureFlagKind(deps.featureFlags)), registerKind(llmRouteKind(deps.llm))];
}
