import { z } from 'zod';
import { queueNames } from '../../queue-names.js';
import type { ActionKind } from '../kind.js';
import type { QueueLimitsOf } from '../ports.js';

export const queueRateLimitSpecSchema = z.strictObject({
  kind: z.literal('queue.rate-limit'),
  queue: z.enum(queueNames),
  /** At most `max` jobs start per `durationMs` across every worker; `null` removes the fleet-wide limit. */
  limit: z
    .strictObject({
      max: z.int().min(1).max(100_000),
      durationMs: z.int().min(1).max(86_400_000),
    })
    .nullable(),
});
export type QueueRateLimitSpec = z.infer<typeof queueRateLimitSpecSchema>;

const stateSchema = z.object({ limit: z.object({ max: z.int().positive(), durationMs: z.int().positive() }).nullable() });
type State = z.infer<typeof stateSchema>;
type Limit = State['limit'];

const shown = (l: Limit) => (l === null ? 'no fleet-wide limit (each worker its own limiter)' : `${l.max} jobs per ${l.durationMs} ms`);
const same = (a: Limit, b: Limit) => (a === null || b === null ? a === b : a.max === b.max && a.durationMs === b.durationMs);

/**
 * A queue's global rate limit through BullMQ (`setGlobalRateLimit(max, duration)` /
 * `removeGlobalRateLimit`, read back with `getGlobalRateLimit`).
 */
export function queueRateLimitKind(queues: QueueLimitsOf): ActionKind<QueueRateLimitSpec, State> {
  return {
    kind: 'queue.rate-limit',
    risk: 'medium',
    description:
      "Sets (or removes, with limit null) a queue's global rate limit, held by BullMQ in Redis so every worker follows it. In BullMQ 6 the global max takes the place of each worker's limiter max, while a worker started with its own limiter (this service's workers are, from BSM_<QUEUE>_RATE_*) keeps that limiter's window: the global durationMs is what a worker without a limiter uses. Rollback restores the previous limit, or removes it when there was none.",
    reversible: true,
    schema: queueRateLimitSpecSchema,
    stateSchema,
    async read(spec) {
      const limit = await queues(spec.queue).getGlobalRateLimit();
      return { limit: limit === null ? null : { max: limit.max, durationMs: limit.duration } };
    },
    desired: (spec) => ({ limit: spec.limit }),
    changes: (spec, from, to) => (same(from.limit, to.limit) ? [] : [{ target: `queue:${spec.queue}:global-rate-limit`, from: from.limit, to: to.limit }]),
    describe: (spec, before, to) =>
      same(before.limit, to.limit)
        ? `Queue ${spec.queue}'s global rate limit already is ${shown(to.limit)}: nothing would change.`
        : `Queue ${spec.queue}'s global rate limit goes from ${shown(before.limit)} to ${shown(to.limit)}.`,
    async write(spec, _from, to) {
      const queue = queues(spec.queue);
      await (to.limit === null ? queue.removeGlobalRateLimit() : queue.setGlobalRateLimit(to.limit.max, to.limit.durationMs));
    },
  };
}
