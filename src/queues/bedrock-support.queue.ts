import { z } from 'zod';
import { canarySchema, defineQueue } from './define.js';

const reason = z.string().trim().max(500).optional();

/** BullMQ queue of the BedrockSupportManager: daily check, weekly review, alert evaluation, canaries. */
export const bedrockSupportQueue = defineQueue({
  name: 'bedrock-support',
  description: 'Central orchestrator: daily check, weekly review, alert evaluation',
  jobs: {
    /** Morning Support Mode Check: records the fleet's real state. */
    'daily-check': z.object({ reason }),
    /** Weekly Support Mode Review: aggregates the week's checks and job metrics. */
    'weekly-review': z.object({ reason }),
    /** Evaluates alert rules against the fleet's state. */
    'alert-evaluation': z.object({}),
    canary: canarySchema,
  },
});
