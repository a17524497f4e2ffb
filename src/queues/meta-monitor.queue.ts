import { z } from 'zod';
import { canarySchema, defineQueue } from './define.js';

export const timeframes = { 'last-1h': 3_600_000, 'last-24h': 86_400_000, 'last-7d': 7 * 86_400_000 } as const;
export type Timeframe = keyof typeof timeframes;

/** BullMQ queue of the MetaMonitor. */
export const metaMonitorQueue = defineQueue({
  name: 'meta-monitor',
  description: 'Execution analysis, failure clusters, bottlenecks',
  jobs: {
    'analyze-executions': z.object({
      timeframe: z.enum(Object.keys(timeframes) as [Timeframe, ...Timeframe[]]).default('last-1h'),
      focus: z.enum(['performance', 'failures', 'all']).default('all'),
    }),
    canary: canarySchema,
  },
});
