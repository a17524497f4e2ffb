import { z } from 'zod';
import { namespaces } from '../../domain/cloudwatch/metrics.js';
import { defineJob } from '../define.js';

const byNamespace = z.object(Object.fromEntries(Object.values(namespaces).map((ns) => [ns, z.number().int().min(0)])) as Record<(typeof namespaces)[keyof typeof namespaces], z.ZodNumber>);

/**
 * Publishes the fleet's metrics to CloudWatch (`BedrockSupport/Performance`, `…/Resources`,
 * `…/Operations`) for the time since the previous publication. Scheduled only with
 * `CLOUDWATCH_ENABLED=true`; the `cloudwatch-publishing` flag is read on every run, and a run with
 * the flag off sends nothing. A failed request fails the job, and BullMQ's retry sends the window again.
 */
export const cloudwatchPublishJob = defineJob({
  queue: 'bedrock-support',
  name: 'cloudwatch-publish',
  description: 'publishes the metrics of the time since the previous publication to CloudWatch (PutMetricData), when CLOUDWATCH_ENABLED and the cloudwatch-publishing flag are on',
  payload: z.object({}),
  result: z.discriminatedUnion('published', [
    z.object({
      published: z.literal(true),
      window: z.object({ from: z.string(), to: z.string() }),
      data: z.number().int().min(0),
      byNamespace,
      requests: z.number().int().min(0),
      throttled: z.number().int().min(0),
    }),
    z.object({ published: z.literal(false), reason: z.string() }),
  ]),
  stored: false,
  schedule: {
    id: 'cloudwatch-publish',
    setting: 'BSM_SCHEDULE_CLOUDWATCH',
    data: {},
    priority: 'medium',
    description: 'CloudWatch metrics publication',
    when: (config) => config.CLOUDWATCH_ENABLED,
  },
  handler: async (_job, ctx, deps) => {
    const cw = deps.cloudwatch;
    if (!cw.configured) {
      return { published: false as const, reason: 'CLOUDWATCH_ENABLED is false' };
    }
    if (!(await cw.flagOn())) {
      return { published: false as const, reason: 'the cloudwatch-publishing feature flag is off' };
    }
    return cw.publisher.publish(ctx.signal);
  },
});
