import { z } from 'zod';
import { queueNames } from '../../queue-names.js';
import type { ActionKind } from '../kind.js';
import type { QueueLimitsOf } from '../ports.js';

/** Largest global concurrency accepted: well above any fleet this service runs. */
export const maxGlobalConcurrency = 1_000;

export const queueConcurrencySpecSchema = z.strictObject({
  kind: z.literal('queue.concurrency'),
  queue: z.enum(queueNames),
  /** Jobs of the queue running at once across every worker; `null` removes the fleet-wide limit. */
  concurrency: z.int().min(1).max(maxGlobalConcurrency).nullable(),
});
export type QueueConcurrencySpec = z.infer<typeof queueConcurrencySpecSchema>;

const stateSchema = z.object({ concurrency: z.int().positive().nullable() });
type State = z.infer<typeof stateSchema>;

const shown = (n: number | null) => (n === null ? 'no fleet-wide limit (each worker its own concurrency)' : `${n}`);

/**
 * A queue's global concurrency through BullMQ (`setGlobalConcurrency` /
 * `removeGlobalConcurrency`, read back with `getGlobalConcurrency`).
 */
export function queueConcurrencyKind(queues: QueueLimitsOf): ActionKind<QueueConcurrencySpec, State> {
  return {
    kind: 'queue.concurrency',
    risk: 'medium',
    description:
      "Sets (or removes, with concurrency null) a queue's global concurrency: how many of its jobs run at once across every worker, held by BullMQ in Redis so every worker follows it at once. Each worker's own concurrency (BSM_<QUEUE>_CONCURRENCY) still caps that worker. Rollback restores the previous limit, or removes it when there was none.",
    reversible: true,
    schema: queueConcurrencySpecSchema,
    stateSchema,
    async read(spec) {
      return { concurrency: await queues(spec.queue).getGlobalConcurrency() };
    },
    desired: (spec) => ({ concurrency: spec.concurrency }),
    changes: (spec, from, to) => (from.concurrency === to.concurrency ? [] : [{ target: `queue:${spec.queue}:global-concurrency`, from: from.concurrency, to: to.concurrency }]),
    describe: (spec, before, to) =>
      before.concurrency === to.concurrency
        ? `Queue ${spec.queue}'s global concurrency already is ${shown(to.concurrency)}: nothing would change.`
        : `Queue ${spec.queue}'s global concurrency goes from ${shown(before.concurrency)} to ${shown(to.concurrency)}.`,
    async write(spec, _from, to) {
      const queue = queues(spec.queue);
      await (to.concurrency === null ? queue.removeGlobalConcurrency() : queue.setGlobalConcurrency(to.concurrency));
    },
  };
}
