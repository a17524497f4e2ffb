/** Optimizations: recommendations an approver applied through the action catalog, and their reverts. */
import { z } from 'zod';

export const optimizationSchema = z.object({
  /** The recommendation's id (`opt-…`). */
  id: z.string(),
  /** The analysis that recommended it. */
  analysisId: z.string(),
  title: z.string(),
  /** The catalog's application (`act-…`), whose rollback reverts it. */
  actionId: z.string(),
  action: z.record(z.string(), z.unknown()),
  state: z.enum(['applied', 'reverted']),
  appliedBy: z.string(),
  appliedAt: z.string(),
  revertedBy: z.string().nullable(),
  revertedAt: z.string().nullable(),
});
export type Optimization = z.infer<typeof optimizationSchema>;

export interface OptimizationStore {
  get(id: string): Promise<Optimization | null>;
  put(optimization: Optimization): Promise<void>;
  /** Newest applied first. */
  list(): Promise<Optimization[]>;
}
