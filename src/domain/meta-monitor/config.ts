/**
 * The meta-monitor's runtime configuration (runbook "update monitoring thresholds"): latency
 * budgets per operation, the degradation levels, what makes a bottleneck or a cluster worth
 * naming. Kept in Redis, versioned; an admin changes it through the API.
 */
import { z } from 'zod';

const operationName = z.string().trim().min(1).max(200);
const ms = z.number().int().min(1).max(86_400_000);

export const metaMonitorSettingsSchema = z
  .object({
    /** p95 budget per operation (ms): an operation above it is a bottleneck. */
    latencyBudgetsMs: z.record(operationName, ms).default({}).refine((b) => Object.keys(b).length <= 500, 'at most 500 operations have budgets'),
    /** The budget of an operation that has none of its own; null: only named operations have budgets. */
    defaultLatencyBudgetMs: ms.nullable().default(null),
    /** An operation taking at least this share of all execution time is a bottleneck (with at least two operations). */
    bottleneckTimeShare: z.number().gt(0).max(1).default(0.5),
    /** Executions an operation needs in a window before its percentiles are judged (bottlenecks, degradations). */
    minExecutions: z.number().int().min(1).max(1_000_000).default(30),
    /** p95 wait in a queue (fleet jobs) above which the queue is a bottleneck. */
    queueWaitBudgetMs: ms.default(5_000),
    degradation: z
      .object({
        /** A change above this percent is P2 (runbook: degradation 20-50 %). */
        p2Percent: z.number().gt(0).max(10_000).default(20),
        /** A change above this percent is P1 (runbook: degradation above 50 %). */
        p1Percent: z.number().gt(0).max(10_000).default(50),
        /** An error-rate change under this many points (0.01 = one percentage point) is noise, whatever its percent. */
        minErrorRatePoints: z.number().min(0).max(1).default(0.01),
      })
      .strict()
      .default({ p2Percent: 20, p1Percent: 50, minErrorRatePoints: 0.01 })
      .refine((d) => d.p1Percent > d.p2Percent, { message: 'p1Percent must be above p2Percent', path: ['p1Percent'] }),
    clusters: z
      .object({
        /** A cluster with at least this share of the failures gets its own recommendation. */
        recommendShare: z.number().gt(0).max(1).default(0.2),
        /** Clusters listed in an analysis (the largest). */
        maxListed: z.number().int().min(1).max(1_000).default(50),
      })
      .strict()
      .default({ recommendShare: 0.2, maxListed: 50 }),
  })
  .strict();

export type MetaMonitorSettings = z.output<typeof metaMonitorSettingsSchema>;

export const defaultMetaMonitorSettings: MetaMonitorSettings = metaMonitorSettingsSchema.parse({});

/** The settings in force and where they came from. */
export interface MetaMonitorConfigVersion {
  version: number;
  settings: MetaMonitorSettings;
  setBy: string;
  /** Null while the defaults are in force: nobody set them. */
  setAt: string | null;
}

/** Where the settings live (one version in force; every process reads the same). */
export interface MetaMonitorConfigStore {
  current(): Promise<MetaMonitorConfigVersion>;
  /** Replaces the settings if `expectedVersion` is still current; answers the new version, or null when someone changed it first. */
  replace(settings: MetaMonitorSettings, by: string, expectedVersion: number): Promise<MetaMonitorConfigVersion | null>;
}

/** The budget of `operation`, or null when it has none. */
export function budgetOf(settings: MetaMonitorSettings, operation: string): number | null {
  return settings.latencyBudgetsMs[operation] ?? settings.defaultLatencyBudgetMs;
}
