import { randomUUID } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { Redactor } from '../domain/compliance/pii.js';
import { analysisFocuses, analysisSources, recommendationSchema, type Recommendation } from '../domain/meta-monitor/analysis.js';
import { metaMonitorSettingsSchema, type MetaMonitorConfigVersion } from '../domain/meta-monitor/config.js';
import { optimizationSchema, type Optimization } from '../domain/meta-monitor/optimizations.js';
import { analysisIdPrefix, analysisResultSchema, maxWindowMs, timeframes, type AnalysisResult, type Timeframe } from '../jobs/meta-monitor/analyze-executions.job.js';
import { assertPermission } from './auth.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { jobResult } from './job-results.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, isoTime, jsonBody, jsonResponse, noQuery, notFound, protectedErrors } from './openapi.js';
import { describeIssue } from './validation.js';

const queue = 'meta-monitor';
const jobName = 'analyze-executions';
const base = '/admin/bedrock-support/meta-monitor';

export const AnalyzeBody = z
  .object({
    timeframe: z.enum(Object.keys(timeframes) as [Timeframe, ...Timeframe[]]).optional().openapi({ description: '`last-1h` when neither a timeframe nor from/to is given' }),
    from: z.iso.datetime({ offset: true }).optional().openapi({ description: 'Start of a window given by its ends (with `to`)' }),
    to: z.iso.datetime({ offset: true }).optional(),
    focus: z.enum(analysisFocuses).default('all'),
    priority: z.enum(['high', 'medium', 'low']).default('medium'),
    source: z.enum(analysisSources).default('agent').openapi({ description: "`agent`: the executions agents posted; `fleet`: this service's own finished jobs" }),
  })
  .strict()
  .openapi('AnalyzeBody');

const Accepted = z
  .object({ analysisId: z.string().openapi({ example: 'analysis-3f1c…' }), state: z.literal('queued'), window: z.object({ from: isoTime, to: isoTime }), focus: z.string(), source: z.string(), priority: z.string(), resultUrl: z.string() })
  .openapi('AnalysisAccepted');

const Pending = z
  .object({ analysisId: z.string(), state: z.enum(['queued', 'running']), progress: z.object({ percent: z.number() }) })
  .openapi('AnalysisPending');

const Insight = z
  .object({
    type: z.enum(['failure_cluster', 'bottleneck', 'degradation']),
    id: z.string(),
    level: z.enum(['P1', 'P2']).nullable(),
    at: isoTime.openapi({ description: "A cluster's last sighting; for bottlenecks and degradations the end of the analysed window" }),
    summary: z.string(),
    detail: z.unknown(),
  })
  .openapi('MetaMonitorInsight');

const RecommendationView = recommendationSchema
  .extend({
    executable: z.boolean(),
    optimization: optimizationSchema.nullable().openapi({ description: 'The optimization applying it, once applied' }),
  })
  .openapi('MetaMonitorRecommendation');

const OptimizeBody = z
  .object({
    recommendation_id: z.string().trim().min(1).max(100).openapi({ example: 'opt-1a2b3c4d5e6f7a8b' }),
    approved_by: z.string().trim().min(1).max(200).optional().openapi({ description: "The approver's key name: must be the caller's own. Required to apply" }),
    apply: z.boolean().default(false).openapi({ description: 'false (the default): a dry run that says what would change' }),
  })
  .strict()
  .openapi('OptimizeBody');

const RevertBody = z.object({ reason: z.string().trim().max(500).optional().openapi({ example: 'Throttling gone after the quota raise' }) }).strict().openapi('RevertBody');

const ConfigView = z.object({ version: count, setBy: z.string(), setAt: isoTime.nullable().openapi({ description: 'Null while the defaults are in force' }), settings: z.unknown() }).openapi('MetaMonitorConfig');

const IdParam = z.object({ id: z.string().openapi({ example: 'analysis-3f1c…' }) });
export const LatestQuery = { query: z.object({ source: z.enum(analysisSources).optional().openapi({ description: 'Only analyses of this source' }) }).strict() };

const configView = (v: MetaMonitorConfigVersion) => ({ version: v.version, setBy: v.setBy, setAt: v.setAt, settings: v.settings });

function insightsOf(a: AnalysisResult): z.infer<typeof Insight>[] {
  const end = a.window.to;
  const out: z.infer<typeof Insight>[] = [
    ...a.clusters.map((c) => ({ type: 'failure_cluster' as const, id: c.id, level: null, at: c.lastSeen, summary: `${c.count} failures (${Math.round(c.share * 1000) / 10} %): ${c.template}`, detail: c })),
    ...a.bottlenecks.map((b) => ({ type: 'bottleneck' as const, id: `${b.kind}:${b.operation}`, level: null, at: end, summary: `${b.operation}: ${b.evidence}`, detail: b })),
    ...a.degradations.map((d) => ({
      type: 'degradation' as const,
      id: `${d.scope}:${d.metric}`,
      level: d.level,
      at: end,
      summary: `${d.scope} ${d.metric === 'latency_p95' ? 'p95 latency' : 'error rate'} ${d.previous} → ${d.current}${d.changePercent === null ? '' : ` (+${d.changePercent} %)`}`,
      detail: d,
    })),
  ];
  return out.sort((x, y) => y.at.localeCompare(x.at));
}

/** `/admin/bedrock-support/meta-monitor/…`: analyses, insights, recommendations, optimizations, settings (runbook "Meta-Monitoring Operations"). */
export function metaMonitorAnalysisRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();
  const reports = deps.reports;
  /** Recent analyses, newest first. Results stored by an earlier version (another shape) are left out, and logged. */
  const recent = async (limit: number) => {
    const { reports: found, unreadable } = await reports.listMatching(jobName, analysisResultSchema, { limit });
    if (unreadable > 0) {
      deps.logger.warn({ unreadable, kind: jobName }, 'stored analyses of an earlier shape were left out');
    }
    return found;
  };

  const latest = async (source?: (typeof analysisSources)[number]): Promise<AnalysisResult> => {
    const matches = (r: { body: AnalysisResult }) => source === undefined || r.body.source === source;
    // The newest is the answer nearly always: more are read only when it is of another source or shape.
    const found = (await recent(1)).find(matches) ?? (await recent(50)).find(matches);
    if (!found) {
      throw new ApiError(404, 'not_found', `no ${source ? `${source} ` : ''}analysis yet: start one with POST ${base}/analyze`);
    }
    return found.body;
  };

  /** The recommendation with this id in the latest analyses (ids are stable across them), with the analysis that made it. */
  const findRecommendation = async (id: string): Promise<{ recommendation: Recommendation; analysisId: string }> => {
    for (const r of await recent(20)) {
      const recommendation = r.body.recommendations.find((x) => x.id === id);
      if (recommendation) {
        return { recommendation, analysisId: r.body.analysisId };
      }
    }
    throw new ApiError(404, 'not_found', `unknown recommendation "${id}": GET ${base}/recommendations lists the current ones`);
  };

  app.openapi(
    createRoute({
      method: 'post',
      path: '/meta-monitor/analyze',
      summary: 'Start an analysis of the executions in a window; 202 with its id. Every field is optional: a bare POST analyses the agent\'s last hour',
      ...guard('operate'),
      request: { body: jsonBody(AnalyzeBody, false) },
      responses: { 202: jsonResponse(Accepted, 'Queued'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const input = AnalyzeBody.parse(c.req.valid('json') ?? {});
      if (input.timeframe && (input.from || input.to)) {
        throw new ApiError(400, 'invalid_request', 'timeframe: give a timeframe or from/to, not both', { field: 'timeframe' });
      }
      if ((input.from === undefined) !== (input.to === undefined)) {
        throw new ApiError(400, 'invalid_request', `${input.from ? 'to' : 'from'}: from and to go together`, { field: input.from ? 'to' : 'from' });
      }
      if (input.from && input.to) {
        const span = Date.parse(input.to) - Date.parse(input.from);
        if (!(span > 0 && span <= maxWindowMs)) {
          throw new ApiError(400, 'invalid_request', `to: must be after from, at most ${maxWindowMs / 86_400_000} days after it`, { field: 'to' });
        }
      }
      const now = deps.clock();
      const window = input.from && input.to ? { from: new Date(input.from), to: new Date(input.to) } : { from: new Date(now.getTime() - timeframes[input.timeframe ?? 'last-1h']), to: now };
      const analysisId = `${analysisIdPrefix}-${randomUUID()}`;
      const principal = c.get('principal');
      // A timeframe is fixed to its window now, so the analysis covers what was asked for whenever it runs.
      const payload = { from: window.from.toISOString(), to: window.to.toISOString(), focus: input.focus, source: input.source, requestedBy: principal.name, priority: input.priority };
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'meta-monitor.analyze',
        target: analysisId,
        details: { ...payload, timeframe: input.timeframe ?? null, requestId: c.get('requestId') },
      });
      await deps.fleet.add(queue, jobName, payload, { jobId: analysisId, priority: input.priority });
      return c.json({ analysisId, state: 'queued' as const, window: { from: payload.from, to: payload.to }, focus: input.focus, source: input.source, priority: input.priority, resultUrl: `${base}/results/${analysisId}` }, 202);
    },
  );

  const latestRoute = (path: string, summary: string) =>
    createRoute({ method: 'get', path, summary, ...guard('read'), request: LatestQuery, responses: { 200: jsonResponse(analysisResultSchema, 'The analysis'), ...protectedErrors, ...notFound } });
  app.openapi(latestRoute('/meta-monitor/analyze', 'The latest analysis (as results/latest: the runbook reads it with GET)'), async (c) => c.json(await latest(c.req.valid('query').source), 200));
  app.openapi(latestRoute('/meta-monitor/results/latest', 'The latest analysis'), async (c) => c.json(await latest(c.req.valid('query').source), 200));

  app.openapi(
    createRoute({
      method: 'get',
      path: '/meta-monitor/results/{id}',
      summary: 'An analysis by id: 200 with the result, 202 while it is queued or running',
      ...guard('read'),
      request: { params: IdParam, ...noQuery },
      responses: { 200: jsonResponse(analysisResultSchema, 'The analysis'), 202: jsonResponse(Pending, 'Not finished yet'), ...protectedErrors, ...notFound, 409: bodyErrors[409] },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const found = await jobResult(deps, { queue, jobName, prefix: analysisIdPrefix, what: 'analysis', schema: analysisResultSchema }, id);
      return found.done ? c.json(found.body, 200) : c.json({ analysisId: id, state: found.state, progress: found.progress }, 202);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/meta-monitor/insights',
      summary: 'Failure clusters, bottlenecks and degradations of the latest analysis, newest first',
      ...guard('read'),
      request: LatestQuery,
      responses: {
        200: jsonResponse(z.object({ analysisId: z.string(), window: z.object({ from: isoTime, to: isoTime }), healthScore: z.number().nullable(), insights: z.array(Insight) }).openapi('MetaMonitorInsights'), 'Insights'),
        ...protectedErrors,
        ...notFound,
      },
    }),
    async (c) => {
      const a = await latest(c.req.valid('query').source);
      return c.json({ analysisId: a.analysisId, window: a.window, healthScore: a.healthScore.score, insights: insightsOf(a) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/meta-monitor/recommendations',
      summary: 'The recommendations of the latest analysis, each with its evidence, expected impact, the action that carries it out (if one does) and whether it is applied',
      ...guard('read'),
      request: LatestQuery,
      responses: { 200: jsonResponse(z.object({ analysisId: z.string(), recommendations: z.array(RecommendationView) }).openapi('MetaMonitorRecommendations'), 'Recommendations'), ...protectedErrors, ...notFound },
    }),
    async (c) => {
      const a = await latest(c.req.valid('query').source);
      const applied = new Map((await deps.metaMonitor.optimizations.list()).map((o) => [o.id, o]));
      const recommendations = a.recommendations.map((r) => ({ ...r, executable: r.action !== null, optimization: applied.get(r.id) ?? null }));
      return c.json({ analysisId: a.analysisId, recommendations }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/meta-monitor/optimize',
      summary: 'Apply a recommendation (approvers; `approved_by` must be your own key name), or with `apply: false` (the default) say exactly what it would change',
      ...guard('read'),
      request: { body: jsonBody(OptimizeBody, false) },
      responses: { 200: jsonResponse(z.object({ recommendationId: z.string(), dryRun: z.boolean(), plan: z.unknown().nullable(), optimization: optimizationSchema.nullable(), application: z.unknown().nullable() }).openapi('OptimizeResult'), 'Done'), ...protectedErrors, ...bodyErrors, ...notFound },
    }),
    async (c) => {
      const raw: unknown = c.req.valid('json') ?? {};
      const parsed = OptimizeBody.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const d = issue ? describeIssue(issue, raw) : { path: '(body)', message: 'invalid body' };
        throw new ApiError(400, 'invalid_request', d.message, { field: d.path });
      }
      const input = parsed.data;
      const principal = c.get('principal');
      if (input.apply) {
        assertPermission(principal, 'approve', 'apply an optimization');
        if (input.approved_by === undefined) {
          throw new ApiError(400, 'invalid_request', 'approved_by: applying names its approver: your own key name', { field: 'approved_by' });
        }
        if (input.approved_by !== principal.name) {
          throw new ApiError(403, 'forbidden', `approved_by: you are "${principal.name}"; an optimization is approved by the caller, not on behalf of someone else`, { field: 'approved_by' });
        }
      }
      const { recommendation, analysisId } = await findRecommendation(input.recommendation_id);
      if (recommendation.action === null) {
        throw new ApiError(409, 'conflict', `recommendation ${recommendation.id} is advice with no action to apply: ${recommendation.title}`);
      }
      const spec = deps.actions.parse(recommendation.action);
      const existing = await deps.metaMonitor.optimizations.get(recommendation.id);
      if (!input.apply) {
        const plan = await deps.actions.dryRun(spec);
        return c.json({ recommendationId: recommendation.id, dryRun: true, plan, optimization: existing, application: null }, 200);
      }
      if (existing?.state === 'applied') {
        throw new ApiError(409, 'conflict', `recommendation ${recommendation.id} is applied already (${existing.actionId} by ${existing.appliedBy}): revert it with POST ${base}/optimizations/${recommendation.id}/revert`);
      }
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'meta-monitor.optimize',
        target: recommendation.id,
        details: { analysisId, approvedBy: input.approved_by ?? null, action: recommendation.action, requestId: c.get('requestId') },
      });
      const application = await deps.actions.apply(spec, { actor: principal.name, cause: recommendation.id });
      const optimization: Optimization = {
        id: recommendation.id,
        analysisId,
        title: recommendation.title,
        actionId: application.id,
        action: recommendation.action,
        state: 'applied',
        appliedBy: principal.name,
        appliedAt: deps.clock().toISOString(),
        revertedBy: null,
        revertedAt: null,
      };
      await deps.metaMonitor.optimizations.put(optimization);
      return c.json({ recommendationId: recommendation.id, dryRun: false, plan: null, optimization, application }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/meta-monitor/optimizations/{id}/revert',
      summary: 'Revert an applied optimization: the action is rolled back to the state before it (approvers)',
      ...guard('approve'),
      request: { params: z.object({ id: z.string().openapi({ example: 'opt-1a2b3c4d5e6f7a8b' }) }), ...noQuery, body: jsonBody(RevertBody, false) },
      responses: { 200: jsonResponse(z.object({ optimization: optimizationSchema, application: z.unknown() }).openapi('RevertResult'), 'Reverted'), ...protectedErrors, ...notFound, ...bodyErrors },
    }),
    async (c) => {
      const id = c.req.valid('param').id;
      const optimization = await deps.metaMonitor.optimizations.get(id);
      if (!optimization) {
        throw new ApiError(404, 'not_found', `unknown optimization "${id}": GET ${base}/optimizations lists the applied ones`);
      }
      if (optimization.state === 'reverted') {
        throw new ApiError(409, 'conflict', `optimization ${id} was reverted already by ${optimization.revertedBy ?? '?'} at ${optimization.revertedAt ?? '?'}`);
      }
      const principal = c.get('principal');
      const input = RevertBody.parse(c.req.valid('json') ?? {});
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'meta-monitor.revert',
        target: id,
        details: { actionId: optimization.actionId, reason: input.reason === undefined ? null : new Redactor().redact(input.reason), requestId: c.get('requestId') },
      });
      const application = await deps.actions.rollback(optimization.actionId, { actor: principal.name, cause: id });
      const reverted: Optimization = { ...optimization, state: 'reverted', revertedBy: principal.name, revertedAt: deps.clock().toISOString() };
      await deps.metaMonitor.optimizations.put(reverted);
      return c.json({ optimization: reverted, application }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/meta-monitor/optimizations',
      summary: 'Optimizations applied, newest first, with whether they were reverted',
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(z.object({ optimizations: z.array(optimizationSchema) }).openapi('Optimizations'), 'Optimizations'), ...protectedErrors },
    }),
    async (c) => c.json({ optimizations: await deps.metaMonitor.optimizations.list() }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/meta-monitor/performance',
      summary: "The analyzer's own timings over its recent analyses: records, duration, records per second, peak memory",
      ...guard('read'),
      request: noQuery,
      responses: {
        200: jsonResponse(
          z
            .object({
              analyses: count,
              recordsPerSecond: z.object({ mean: z.number().nullable(), min: z.number().nullable() }),
              durationMs: z.object({ mean: z.number().nullable(), max: z.number().nullable() }),
              peakHeapBytes: z.number().nullable(),
              peakRssBytes: z.number().nullable(),
              recent: z.array(z.object({ analysisId: z.string(), source: z.string(), finishedAt: isoTime, records: count, durationMs: z.number(), recordsPerSecond: z.number().nullable(), peakHeapBytes: z.number(), peakRssBytes: z.number(), parts: count.openapi({ description: 'Child jobs the analysis was split into (BSM_ANALYSIS_PARTS); 1 for a single pass' }) })),
            })
            .openapi('MetaMonitorPerformance'),
          'Timings',
        ),
        ...protectedErrors,
      },
    }),
    async (c) => {
      const timings = (await recent(20)).map((r) => ({ analysisId: r.body.analysisId, source: r.body.source, finishedAt: r.body.finishedAt, ...r.body.performance }));
      const rates = timings.map((r) => r.recordsPerSecond).filter((n): n is number => n !== null);
      const durations = timings.map((r) => r.durationMs);
      const mean = (xs: number[]) => (xs.length === 0 ? null : Math.round(xs.reduce((a, b) => a + b, 0) / xs.length));
      const extreme = (xs: number[], f: (...v: number[]) => number) => (xs.length === 0 ? null : f(...xs));
      return c.json(
        {
          analyses: timings.length,
          recordsPerSecond: { mean: mean(rates), min: extreme(rates, Math.min) },
          durationMs: { mean: mean(durations), max: extreme(durations, Math.max) },
          peakHeapBytes: extreme(timings.map((r) => r.peakHeapBytes), Math.max),
          peakRssBytes: extreme(timings.map((r) => r.peakRssBytes), Math.max),
          recent: timings,
        },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/meta-monitor/config',
      summary: "The analysis settings in force: latency budgets per operation, degradation levels, bottleneck and cluster thresholds",
      ...guard('read'),
      request: noQuery,
      responses: { 200: jsonResponse(ConfigView, 'The settings'), ...protectedErrors },
    }),
    async (c) => c.json(configView(await deps.metaMonitor.config.current()), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/meta-monitor/config',
      summary: 'Replace the analysis settings (admins; validated, audited, versioned; fields left out take their defaults). `If-Match: <version>` refuses the change when someone changed them since',
      ...guard('administer'),
      request: { body: jsonBody(z.unknown().openapi({ description: 'Settings (see the README): latencyBudgetsMs, defaultLatencyBudgetMs, minExecutions, bottleneckTimeShare, queueWaitBudgetMs, degradation, clusters' })) },
      responses: { 200: jsonResponse(ConfigView, 'The new version'), ...protectedErrors, ...bodyErrors },
    }),
    async (c) => {
      const raw: unknown = c.req.valid('json');
      const parsed = metaMonitorSettingsSchema.safeParse(raw);
      if (!parsed.success) {
        const issues = parsed.error.issues.map((i) => describeIssue(i, raw));
        const first = issues[0] ?? { path: '(body)', message: 'invalid settings' };
        throw new ApiError(400, 'invalid_request', first.message, { field: first.path, issues });
      }
      const ifMatch = c.req.header('if-match');
      const before = await deps.metaMonitor.config.current();
      const expected = ifMatch === undefined ? before.version : Number(ifMatch.replaceAll('"', ''));
      if (!Number.isSafeInteger(expected) || expected < 0) {
        throw new ApiError(400, 'invalid_request', 'If-Match: a settings version number', { field: 'If-Match' });
      }
      if (expected !== before.version) {
        throw new ApiError(409, 'conflict', `the settings are at version ${before.version}, not ${expected}: read them again (GET ${base}/config) and retry`);
      }
      const principal = c.get('principal');
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'meta-monitor.config.replace',
        target: 'meta-monitor-config',
        details: { fromVersion: before.version, settings: parsed.data, requestId: c.get('requestId') },
      });
      const written = await deps.metaMonitor.config.replace(parsed.data, principal.name, expected);
      if (written === null) {
        throw new ApiError(409, 'conflict', `the settings changed since version ${expected}: read them again (GET ${base}/config) and retry`);
      }
      return c.json(configView({ ...written, version: written.version }), 200);
    },
  );

  return app;
}
