/**
 * The runbook's two CloudWatch dashboards, built from the metric catalog: every metric widget
 * shows metrics the publisher sends (namespace, name and `Component` dimension as sent), and text
 * widgets name the API routes for what CloudWatch metrics cannot show (findings, insights, costs
 * per model). Pure: the bodies for a region are the same every time.
 */
import { recordBeforeChange } from '../audit-trail/ports.js';
import type { AuditEventInput } from '../audit-trail/chain.js';
import { queueNames } from '../queue-names.js';
import { componentDimension, metricCatalog, type MetricName } from './metrics.js';
import { CloudWatchRequestError, CloudWatchThrottledError, type CloudWatchApi } from './ports.js';

export const dashboardNames = ['Bedrock-Support-Overview', 'Bedrock-Support-Operations'] as const;
export type DashboardName = (typeof dashboardNames)[number];

/** One entry of a metric widget's `metrics`: `[namespace, name, dimension, value, options]`, or a math expression. */
export type MetricEntry = (string | Record<string, unknown>)[] | [{ expression: string; label: string; id: string }];

export interface Widget {
  type: 'metric' | 'text';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

export interface DashboardBody {
  start: string;
  periodOverride: 'inherit' | 'auto';
  widgets: Widget[];
}

export interface DashboardOptions {
  /** The region of the metrics (`AWS_REGION`). */
  region: string;
  /** The address the API is reached at (`BSM_PUBLIC_URL`): text widgets link it; without it they name the routes. */
  publicUrl?: string | undefined;
}

const period = 300;
const api = '/admin/bedrock-support';

/** `[namespace, name, Component, component, options]` as the publisher sends it; `component` null for the series without dimensions. */
function metric(name: MetricName, component: string | null, options: Record<string, unknown> = {}): MetricEntry {
  const def = metricCatalog[name];
  return [def.namespace, name, ...(component === null ? [] : [componentDimension, component]), { label: component ?? 'all components', ...options }];
}

function expression(id: string, expr: string, label: string): MetricEntry {
  return [{ expression: expr, label, id }];
}

type Placed = Omit<Widget, 'x' | 'y'>;

/** Places widgets left to right on CloudWatch's 24-column grid, a new row when one is full. */
function layout(widgets: Placed[]): Widget[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return widgets.map((w) => {
    if (x + w.width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const placed = { ...w, x, y };
    x += w.width;
    rowHeight = Math.max(rowHeight, w.height);
    return placed;
  });
}

export function dashboardBodies(options: DashboardOptions): Record<DashboardName, DashboardBody> {
  const base = options.publicUrl?.replace(/\/+$/, '');
  const link = (path: string, label = `GET ${path}`) => (base === undefined ? `\`${label}\`` : `[${label}](${base}${path})`);
  const text = (markdown: string, width = 24, height = 2): Placed => ({ type: 'text', width, height, properties: { markdown } });
  const chart = (title: string, metrics: MetricEntry[], extra: Record<string, unknown> = {}, width = 12, height = 6): Placed => ({
    type: 'metric',
    width,
    height,
    properties: { title, region: options.region, view: 'timeSeries', stacked: false, period, stat: 'Average', metrics, ...extra },
  });
  const perComponent = (name: MetricName, opts: Record<string, unknown> = {}) => queueNames.map((c) => metric(name, c, opts));
  const rate = (title: string, numerator: 'SuccessCount' | 'ErrorCount'): Placed => {
    const entries = ([...queueNames, null] as const).flatMap((c, i) => [
      metric('SuccessCount', c, { id: `s${i}`, visible: false, stat: 'Sum' }),
      metric('ErrorCount', c, { id: `e${i}`, visible: false, stat: 'Sum' }),
      expression(`r${i}`, `100 * ${numerator === 'SuccessCount' ? 's' : 'e'}${i} / (s${i} + e${i})`, c ?? 'all components'),
    ]);
    return chart(title, entries, { yAxis: { left: { min: 0, max: 100, label: '%' } } });
  };

  const overview = layout([
    text(
      `# Bedrock Support Mode: overview\nSupport mode, component health, operation success, performance and error trends, from the metrics the service publishes every minute. The state behind them: ${link(`${api}/status`)}, ${link('/health/bedrock-support/detailed')}.`,
    ),
    chart('Support mode activation status (1 active, 0 not)', [metric('ActivationStatus', null, { label: 'support mode active' }), ...perComponent('ActivationStatus')], {
      view: 'singleValue',
      stat: 'Minimum',
    }),
    chart('Component health matrix (1 healthy, 0 not)', [metric('ComponentHealthy', null, { label: 'every component' }), ...perComponent('ComponentHealthy')], {
      view: 'singleValue',
      stat: 'Minimum',
    }),
    rate('Operation success rates (% of finished jobs)', 'SuccessCount'),
    chart('Performance: operation latency (ms)', [...perComponent('OperationLatency'), metric('OperationLatency', null, { label: 'all components, p95', stat: 'p95' })], {
      yAxis: { left: { min: 0, label: 'ms' } },
    }),
    chart(
      'Performance: CPU and memory (%), queue depth',
      [metric('CPUUtilization', null, { label: 'CPU %' }), metric('MemoryUtilization', null, { label: 'memory %' }), ...perComponent('QueueDepth', { stat: 'Maximum', yAxis: 'right' })],
      { yAxis: { left: { min: 0, max: 100, label: '%' }, right: { min: 0, label: 'jobs waiting' } } },
    ),
    chart('Error rate trends (failed jobs)', perComponent('ErrorCount', { stat: 'Sum' }), { stacked: true, stat: 'Sum' }),
    rate('Error rate trends (% of finished jobs)', 'ErrorCount'),
  ]);

  const operations = layout([
    text(
      `# Bedrock Support Mode: operations\nAudits, meta-monitoring, implementation support, routing and cost. What metrics do not carry (findings, insights, activities, costs per model) is in the API: ${link(`${api}/audit/latest`)}, ${link(`${api}/meta-monitor/insights`)}, ${link(`${api}/implementation/activities`)}, ${link(`${api}/metrics/routing`)}, ${link(`${api}/costs`)}.`,
    ),
    chart(
      'Infrastructure audit results',
      [
        metric('AuditScore', null, { label: 'latest audit score' }),
        metric('OpenGaps', null, { label: 'open gaps', stat: 'Maximum' }),
        metric('SuccessCount', 'infrastructure-auditor', { label: 'auditor jobs completed', stat: 'Sum' }),
        metric('ErrorCount', 'infrastructure-auditor', { label: 'auditor jobs failed', stat: 'Sum' }),
      ],
      { view: 'singleValue' },
      18,
      4,
    ),
    text(`Findings and trend: ${link(`${api}/audit/latest`)}, ${link(`${api}/audits/last-24h`)}; gaps: ${link(`${api}/implementation/gaps`)}.`, 6, 4),
    chart(
      'Meta-monitoring insights: analyses',
      [
        metric('SuccessCount', 'meta-monitor', { label: 'meta-monitor jobs completed', stat: 'Sum' }),
        metric('ErrorCount', 'meta-monitor', { label: 'meta-monitor jobs failed', stat: 'Sum' }),
        metric('OperationLatency', 'meta-monitor', { label: 'analysis duration (ms)', yAxis: 'right' }),
      ],
      { yAxis: { left: { min: 0, label: 'jobs' }, right: { min: 0, label: 'ms' } } },
      18,
    ),
    text(`Insights, recommendations, performance: ${link(`${api}/meta-monitor/insights`)}, ${link(`${api}/meta-monitor/recommendations`)}, ${link(`${api}/meta-monitor/performance`)}.`, 6, 6),
    chart(
      'Implementation support activities',
      [
        metric('RemediationsVerified', null, { label: 'remediations verified', stat: 'Sum' }),
        metric('RemediationsFailed', null, { label: 'remediations failed', stat: 'Sum' }),
        metric('SuccessCount', 'implementation-support', { label: 'implementation jobs completed', stat: 'Sum' }),
        metric('ErrorCount', 'implementation-support', { label: 'implementation jobs failed', stat: 'Sum' }),
      ],
      { stat: 'Sum' },
      18,
    ),
    text(`Suggested, approved, applied and verified remediations: ${link(`${api}/implementation/activities`)}; waiting for approval: ${link(`${api}/implementation/approvals`)}.`, 6, 6),
    chart('Routing decision analytics: served by the primary path within budget (%)', [metric('RoutingEfficiency', null), ...perComponent('RoutingEfficiency')], { yAxis: { left: { min: 0, max: 100, label: '%' } } }, 18),
    text(`Per path and operation, fallbacks, latencies: ${link(`${api}/metrics/routing`)}, ${link(`${api}/routing/efficiency`)}.`, 6, 6),
    chart('Cost tracking: LLM spend (USD)', [...perComponent('LlmCost', { stat: 'Sum' }), metric('LlmCost', null, { stat: 'Sum' })], { stat: 'Sum', stacked: false }, 18),
    text(`Per day, component and model, budgets and alerts: ${link(`${api}/costs`)}.`, 6, 6),
  ]);

  const body = (widgets: Widget[]): DashboardBody => ({ start: '-PT6H', periodOverride: 'inherit', widgets });
  return { 'Bedrock-Support-Overview': body(overview), 'Bedrock-Support-Operations': body(operations) };
}

export interface DashboardDeps {
  api: Pick<CloudWatchApi, 'putDashboard'>;
  audit: { append(input: AuditEventInput): Promise<unknown> };
}

export interface DashboardOutcome {
  name: DashboardName;
  widgets: number;
  /** CloudWatch's warnings about the body (none when it took it as it is). */
  validationMessages: string[];
}

/**
 * Creates or updates both dashboards. The request is in the audit trail before anything is sent
 * (`cloudwatch.dashboards`), or nothing is sent.
 * @throws CloudWatchRequestError naming the dashboard CloudWatch refused and those already updated.
 */
export async function applyDashboards(deps: DashboardDeps, actor: { by: string; requestId?: string }, options: DashboardOptions): Promise<DashboardOutcome[]> {
  const bodies = dashboardBodies(options);
  await recordBeforeChange(deps.audit, {
    actor: actor.by,
    action: 'cloudwatch.dashboards',
    target: dashboardNames.join(','),
    details: { dashboards: [...dashboardNames], region: options.region, ...(actor.requestId === undefined ? {} : { requestId: actor.requestId }) },
  });
  const done: DashboardOutcome[] = [];
  for (const name of dashboardNames) {
    try {
      const answer = await deps.api.putDashboard(name, JSON.stringify(bodies[name]));
      done.push({ name, widgets: bodies[name].widgets.length, validationMessages: answer.validationMessages });
    } catch (err) {
      if (!(err instanceof CloudWatchRequestError)) {
        throw err;
      }
      const updated = done.length === 0 ? 'none updated' : `${done.map((d) => d.name).join(', ')} updated`;
      const Failure = err instanceof CloudWatchThrottledError ? CloudWatchThrottledError : CloudWatchRequestError;
      throw new Failure(`PutDashboard ${name} failed (${updated}): ${err.message}`, err.code, err.httpStatus, { cause: err });
    }
  }
  return done;
}
