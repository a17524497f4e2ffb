import { z } from 'zod';
import { canarySchema, defineQueue } from './define.js';

/** BullMQ queue of compliance work. */
export const complianceQueue = defineQueue({
  name: 'compliance',
  description: 'GDPR checks, audit-trail verification and archive',
  jobs: {
    /** Daily check: data residency, retention, audit-trail chain. */
    'compliance-check': z.object({}),
    /** Moves audit-trail records older than `olderThanDays` to the archive. */
    'archive-audit-trail': z.object({ olderThanDays: z.number().int().min(1).max(3650).optional() }),
    canary: canarySchema,
  },
});
