/**
 * The metrics the service publishes to CloudWatch: one catalog, read by the publisher (what it
 * sends), the dashboards (what their widgets show) and the README. A metric is sent once per
 * component (dimension `Component`) and once without dimensions, so a query that names no
 * dimension (the runbook's `aws cloudwatch get-metric-statistics` commands) finds the series.
 */

export const namespaces = {
  performance: 'BedrockSupport/Performance',
  resources: 'BedrockSupport/Resources',
  operations: 'BedrockSupport/Operations',
} as const;
export type Namespace = (typeof namespaces)[keyof typeof namespaces];

/** The dimension that names a component (a queue, by its runbook name). */
export const componentDimension = 'Component';

/** The CloudWatch units the service uses. */
export type MetricUnit = 'Milliseconds' | 'Count' | 'Percent' | 'None';

export interface MetricDefinition {
  namespace: Namespace;
  unit: MetricUnit;
  /** `component-and-total`: once per component and once without dimensions; `total`: without dimensions only. */
  series: 'component-and-total' | 'total';
  /** What is measured, in a sentence (the README's table). */
  description: string;
}

export const metricCatalog = {
  OperationLatency: {
    namespace: namespaces.performance,
    unit: 'Milliseconds',
    series: 'component-and-total',
    description: 'how long each job that finished in the window ran (finishedOn - processedOn), completed and failed alike, as a distribution (Values/Counts): Average, Minimum, Maximum, Sum, SampleCount and percentiles are exact',
  },
  SuccessCount: {
    namespace: namespaces.performance,
    unit: 'Count',
    series: 'component-and-total',
    description: 'jobs that completed in the window',
  },
  ErrorCount: {
    namespace: namespaces.performance,
    unit: 'Count',
    series: 'component-and-total',
    description: 'jobs that failed for good in the window (an attempt that is retried is not counted)',
  },
  RoutingEfficiency: {
    namespace: namespaces.performance,
    unit: 'Percent',
    series: 'component-and-total',
    description:
      'share of the LLM routing decisions of the window served by their primary path within budget, as GET …/routing/efficiency counts it; sent only for a window with decisions that count (none when only the local writer answers)',
  },
  LlmCost: {
    namespace: namespaces.performance,
    unit: 'None',
    series: 'component-and-total',
    description: 'USD spent on the LLM calls routed in the window (the priced cost of each routing decision)',
  },
  CPUUtilization: {
    namespace: namespaces.resources,
    unit: 'Percent',
    series: 'component-and-total',
    description: 'CPU time of the process that publishes, since its previous publication, as a share of all its cores; per component for each component whose workers that process runs',
  },
  MemoryUtilization: {
    namespace: namespaces.resources,
    unit: 'Percent',
    series: 'component-and-total',
    description: "resident memory of the process that publishes, as a share of the machine's memory (or of the cgroup limit when lower); per component as CPUUtilization",
  },
  QueueDepth: {
    namespace: namespaces.resources,
    unit: 'Count',
    series: 'component-and-total',
    description: "jobs waiting for a worker (waiting and prioritized, a paused queue's included) when the window ends",
  },
  ActivationStatus: {
    namespace: namespaces.operations,
    unit: 'None',
    series: 'component-and-total',
    description: 'per component 1 when support mode runs its queue (the component is active) and 0 when not; without dimensions 1 when support mode is active (every component), 0 when inactive or partial',
  },
  ComponentHealthy: {
    namespace: namespaces.operations,
    unit: 'None',
    series: 'component-and-total',
    description: 'per component 1 when its health (the rules of GET /health/bedrock-support) is healthy, else 0; without dimensions 1 when every component is',
  },
  AuditScore: {
    namespace: namespaces.operations,
    unit: 'Percent',
    series: 'total',
    description: "the score (0-100) of the latest infrastructure audit's report; not sent before the first audit",
  },
  OpenGaps: {
    namespace: namespaces.operations,
    unit: 'Count',
    series: 'total',
    description: 'gaps not resolved or dismissed when the window ends',
  },
  RemediationsVerified: {
    namespace: namespaces.operations,
    unit: 'Count',
    series: 'total',
    description: 'remediation requests verified in the window',
  },
  RemediationsFailed: {
    namespace: namespaces.operations,
    unit: 'Count',
    series: 'total',
    description: 'remediation requests that failed in the window',
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricName = keyof typeof metricCatalog;
export const metricNames = Object.keys(metricCatalog) as MetricName[];

/** CloudWatch's statistic set: what `SampleCount` values summed to, and their least and greatest. */
export interface StatisticSet {
  sampleCount: number;
  sum: number;
  minimum: number;
  maximum: number;
}

/** How a datum carries its value: one value, a statistic set, or a distribution of values and how often each occurred. */
export type DatumValue = { value: number } | { statistics: StatisticSet } | { values: number[]; counts: number[] };

/** One datum as the publisher sends it: the adapter turns it into CloudWatch's `MetricDatum`. */
export type MetricDatum = {
  namespace: Namespace;
  name: MetricName;
  unit: MetricUnit;
  /** The `Component` dimension; null for the series without dimensions. */
  component: string | null;
  timestamp: Date;
} & DatumValue;

/** Most distinct values CloudWatch takes in one datum's `Values` (its API limit). */
export const maxValuesPerDatum = 150;
