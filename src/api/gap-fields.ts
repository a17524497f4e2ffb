import { z } from '@hono/zod-openapi';
import { gapSeverities, gapTypes } from '../domain/gaps/gap.js';

/** What a person says about a problem, whether a gap reported by hand or a backlog item: free text redacted by the routes before storage. */
export const reportedProblemFields = {
  title: z.string().trim().min(1).max(300).openapi({ example: 'Idempotency keys for checkout retries' }),
  type: z.enum(gapTypes),
  severity: z.enum(gapSeverities).default('medium'),
  components: z.array(z.string().trim().min(1).max(100)).max(20).default([]),
};
