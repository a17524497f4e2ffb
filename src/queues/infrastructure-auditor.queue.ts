import { z } from 'zod';
import { canarySchema, defineQueue } from './define.js';

export const auditTypes = ['comprehensive', 'incremental', 'targeted'] as const;

/** BullMQ queue of the InfrastructureAuditor. */
export const infrastructureAuditorQueue = defineQueue({
  name: 'infrastructure-auditor',
  description: 'Infrastructure health checks and gap detection',
  jobs: {
    audit: z.object({
      type: z.enum(auditTypes).default('comprehensive'),
      /** For `targeted` audits: the check ids to run. */
      targets: z.array(z.string().trim().min(1).max(100)).max(100).optional(),
      reason: z.string().trim().max(500).optional(),
    }),
    canary: canarySchema,
  },
});
