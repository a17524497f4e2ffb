import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { Redactor } from '../../domain/compliance/pii.js';
import { gapStatuses } from '../../domain/gaps/gap.js';
import { isOpenGap } from '../../domain/gaps/lifecycle.js';
import { analysisBodySchema, analysisFocuses, analysisPartSchema, analysisSources, ExecutionAnalyzer, type AnalysisBody, type AnalyzedExecution, type QueueLimits } from '../../domain/meta-monitor/analysis.js';
import type { MetaMonitorSettings } from '../../domain/meta-monitor/config.js';
import { gapSightingsOf } from '../../domain/meta-monitor/gap-sightings.js';
import { fleetExecutionOf } from '../../domain/meta-monitor/analyze-executions.js';
import { routingRecommendations } from '../../domain/meta-monitor/routing-advice.js';
import { clusterIdOf, TemplateMiner } from '../../domain/meta-monitor/template-miner.js';
import { executionNarrativeRequest, narrativeSchema } from '../../domain/narratives.js';
import { publicIdOf } from '../../domain/public-ids.js';
import { queueNames } from '../../domain/queue-names.js';
import { defineJob, type JobContext, type JobHandle } from '../define.js';
import type { JobDeps } from '../deps.js';
import { narrate } from '../narrative.js';

export const timeframes = { 'last-1h': 3_600_000, 'last-24h': 86_400_000, 'last-7d': 7 * 86_400_000 } as const;
export type Timeframe = keyof typeof timeframes;
const timeframeNames = Object.keys(timeframes) as [Timeframe, ...Timeframe[]];

/** Analysis ids are `analysis-…`: a triggered analysis's job id is its id; a scheduled run's is written with dots. */
export const analysisIdPrefix = 'analysis';

const performanceSchema = z.object({
  /** Records read from both windows. */
  records: z.number(),
  durationMs: z.number(),
  recordsPerSecond: z.number().nullable(),
  /** Highest heap in use seen during the pass (sampled every 10,000 records and at the end). */
  peakHeapBytes: z.number(),
  peakRssBytes: z.number(),
  /** Child jobs the window was split into (a BullMQ flow, `BSM_ANALYSIS_PARTS`); 1 for a single pass. */
  parts: z.number().default(1),
});

export const analysisResultSchema = analysisBodySchema.extend({
  analysisId: z.string(),
  timeframe: z.enum(timeframeNames).nullable(),
  startedAt: z.string(),
  finishedAt: z.string(),
  trigger: z.object({ by: z.string(), priority: z.string() }),
  performance: performanceSchema,
  /**
   * What the analysis did to the shared gap store (gap ids): null for an analysis that does not
   * speak for the present (a `from`/`to` window in the past, or a focus that leaves findings out).
   */
  gaps: z.object({ opened: z.array(z.string()), reopened: z.array(z.string()), recurring: z.array(z.string()), resolved: z.array(z.string()) }).nullable(),
  /** Fleet source: queues of which only the newest finished jobs could be read. */
  truncatedQueues: z.array(z.string()),
  narrative: narrativeSchema,
});
export type AnalysisResult = z.infer<typeof analysisResultSchema>;

/** The longest window an analysis reads: the execution store keeps records for two weeks by default. */
export const maxWindowMs = 31 * 86_400_000;

const payloadSchema = z
  .object({
    timeframe: z.enum(timeframeNames).optional(),
    from: z.iso.datetime({ offset: true }).optional(),
    to: z.iso.datetime({ offset: true }).optional(),
    focus: z.enum(analysisFocuses).default('all'),
    source: z.enum(analysisSources).default('agent'),
    requestedBy: z.string().max(200).default('scheduler'),
    priority: z.string().max(20).default('low'),
  })
  .refine((p) => !(p.timeframe && (p.from || p.to)), { message: 'give a timeframe or from/to, not both', path: ['timeframe'] })
  .refine((p) => (p.from === undefined) === (p.to === undefined), { message: 'from and to go together', path: ['from'] })
  .refine((p) => !p.from || !p.to || (Date.parse(p.from) < Date.parse(p.to) && Date.parse(p.to) - Date.parse(p.from) <= maxWindowMs), {
    message: `from must be before to, at most ${maxWindowMs / 86_400_000} days apart`,
    path: ['to'],
  });
export type AnalysisPayload = z.input<typeof payloadSchema>;

/** The window an analysis covers: its timeframe up to now, or from/to. */
export function windowOf(p: { timeframe?: Timeframe | undefined; from?: string | undefined; to?: string | undefined }, now: Date): { from: Date; to: Date } {
  if (p.from && p.to) {
    return { from: new Date(p.from), to: new Date(p.to) };
  }
  return { from: new Date(now.getTime() - timeframes[p.timeframe ?? 'last-1h']), to: now };
}

/**
 * A pass over records: counts them, and every 10,000 reads the heap and RSS (keeping the highest)
 * and gives the job's cancellation a chance. Samples once when made.
 */
class PassMeter {
  heap = 0;
  rss = 0;
  records = 0;
  constructor(private readonly signal: AbortSignal) {
    this.sample();
  }
  sample(): void {
    const m = process.memoryUsage();
    this.heap = Math.max(this.heap, m.heapUsed);
    this.rss = Math.max(this.rss, m.rss);
  }
  readonly tick = (): void => {
    this.records += 1;
    if (this.records % 10_000 === 0) {
      this.sample();
      this.signal.throwIfAborted();
    }
  };
}

async function feedAgent(deps: JobDeps, from: Date, to: Date, add: (e: AnalyzedExecution) => void, ctx: JobContext, tick: () => void): Promise<void> {
  for await (const r of deps.metaMonitor.executions.window(from, to)) {
    add({
      id: r.executionId,
      timestamp: r.timestamp,
      operation: r.operation,
      status: r.status,
      latencyMs: r.latencyMs,
      ...(r.error?.type !== undefined ? { errorType: r.error.type } : {}),
      ...(r.error?.message !== undefined ? { errorMessage: r.error.message } : {}),
    });
    tick();
  }
  ctx.signal.throwIfAborted();
}

/**
 * Records the analysis's findings in the gap store: the sightings, and as its scope the subjects
 * of this source's open meta-monitor gaps, so a problem no longer seen is resolved by this
 * analysis (the 1,000 most recently seen of them). A window with too few executions to judge
 * resolves nothing.
 */
/** The statuses of a gap an analysis may still resolve. */
const openStatuses = gapStatuses.filter(isOpenGap);

async function recordGaps(deps: JobDeps, analysisId: string, body: AnalysisBody, settings: MetaMonitorSettings, at: Date): Promise<AnalysisResult['gaps']> {
  const sightings = gapSightingsOf(body, settings);
  const prefix = `${body.source}:`;
  const open = body.executions >= settings.minExecutions ? (await deps.gaps.list({ source: 'meta-monitor', status: openStatuses, limit: 1_000 })).filter((g) => g.subject.startsWith(prefix)).map((g) => g.subject) : [];
  const scope = [...new Set([...open, ...sightings.map((s) => s.subject)])];
  const observed = await deps.gaps.observe({ source: 'meta-monitor', runId: analysisId, at, scope }, sightings);
  const ids = (gaps: readonly { id: string }[]) => gaps.map((g) => g.id);
  return { opened: ids(observed.opened), reopened: ids(observed.reopened), recurring: ids(observed.recurring), resolved: ids(observed.resolved) };
}

/**
 * The meta-monitor's analysis of a window (and the window of equal length before it, for
 * degradation): from the agent's execution records (the default) or the fleet's own finished
 * jobs. Streams the records; see `domain/meta-monitor/analysis.ts`.
 */
/** A slice `i` of `parts` of a window: equal lengths, whole milliseconds, no gap and no overlap. */
export function sliceOf(w: { from: Date; to: Date }, i: number, parts: number): { from: Date; to: Date } {
  const length = w.to.getTime() - w.from.getTime();
  return { from: new Date(w.from.getTime() + Math.floor((length * i) / parts)), to: new Date(w.from.getTime() + Math.floor((length * (i + 1)) / parts)) };
}

const partPayloadSchema = z.object({
  /** The parent's job id (its analysis). */
  parentId: z.string().max(200),
  part: z.number().int().min(0),
  parts: z.number().int().min(1).max(64),
  focus: z.enum(analysisFocuses).default('all'),
  /** When the parent started, and its whole windows: what the parent's result is stated with. */
  startedAt: z.iso.datetime({ offset: true }),
  window: z.object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }) }),
  previousWindow: z.object({ from: z.iso.datetime({ offset: true }), to: z.iso.datetime({ offset: true }) }),
});

const partResultSchema = z.object({
  part: z.number(),
  startedAt: z.string(),
  window: z.object({ from: z.string(), to: z.string() }),
  previousWindow: z.object({ from: z.string(), to: z.string() }),
  records: z.number(),
  durationMs: z.number(),
  peakHeapBytes: z.number(),
  peakRssBytes: z.number(),
  summary: analysisPartSchema,
});

/** The analysis job's share of progress the children make: 10 % once they are added, up to 90 % as they finish. */
const childProgress = (done: number, of: number) => Math.round(10 + (80 * done) / Math.max(of, 1));

/**
 * One part of a split analysis (see {@link analyzeExecutionsJob}): the agent's executions of
 * slice `part` of the window and of the window before, streamed once, returned as a mergeable
 * summary (counts, sketches, failure-cluster tallies with their first failure text). A child of
 * the analysis job in a BullMQ flow; its failure fails the analysis.
 */
export const analyzeExecutionsPartJob = defineJob({
  queue: 'meta-monitor',
  name: 'analyze-executions-part',
  description: "one time slice of a split analysis of the agent's executions (a child job of analyze-executions when BSM_ANALYSIS_PARTS > 1): a mergeable summary",
  payload: partPayloadSchema,
  result: partResultSchema,
  stored: false,
  handler: async (job, ctx, deps) => {
    const started = performance.now();
    const window = { from: new Date(job.data.window.from), to: new Date(job.data.window.to) };
    const previous = { from: new Date(job.data.previousWindow.from), to: new Date(job.data.previousWindow.to) };
    const config = await deps.metaMonitor.settings();
    const analyzer = new ExecutionAnalyzer({ source: 'agent', focus: job.data.focus, settings: config.settings, clusterer: new TemplateMiner(), clusterIdOf });
    const memory = new PassMeter(ctx.signal);
    const tick = memory.tick;
    const before = sliceOf(previous, job.data.part, job.data.parts);
    const slice = sliceOf(window, job.data.part, job.data.parts);
    await feedAgent(deps, before.from, before.to, (e) => analyzer.addPrevious(e), ctx, tick);
    await feedAgent(deps, slice.from, slice.to, (e) => analyzer.add(e), ctx, tick);
    memory.sample();
    const summary = analyzer.part();
    await ctx.flow?.parentProgress(childProgress);
    return {
      part: job.data.part,
      startedAt: job.data.startedAt,
      window: job.data.window,
      previousWindow: job.data.previousWindow,
      records: memory.records,
      durationMs: Math.round(performance.now() - started),
      peakHeapBytes: memory.heap,
      peakRssBytes: memory.rss,
      summary,
    };
  },
});

/**
 * The analysis as a flow of `parts` child jobs (one time slice each), merged here. The first run
 * adds the children and is suspended; the second, once they all completed, merges their
 * summaries in slice order. Times and windows are the first run's, carried by the children.
 */
async function analyzeInParts(job: JobHandle<z.output<typeof payloadSchema>>, ctx: JobContext, deps: JobDeps, parts: number, flow: NonNullable<JobContext['flow']>): Promise<AnalysisResult> {
  const now = deps.clock();
  const window = windowOf(job.data, now);
  const length = window.to.getTime() - window.from.getTime();
  const id = (job.id ?? `local.${now.getTime()}`).replaceAll(':', '.');
  const iso = (w: { from: Date; to: Date }) => ({ from: w.from.toISOString(), to: w.to.toISOString() });
  const children = Array.from({ length: parts }, (_, part) => ({
    name: analyzeExecutionsPartJob.name,
    id: `${id}.part-${part}`,
    data: {
      parentId: id,
      part,
      parts,
      focus: job.data.focus,
      startedAt: now.toISOString(),
      window: iso(window),
      previousWindow: iso({ from: new Date(window.from.getTime() - length), to: window.from }),
    } satisfies z.input<typeof partPayloadSchema>,
  }));
  // Suspends this job (throws) until every child completed; then their values, in slice order.
  const values = (await flow.children(children, { progressWhileWaiting: childProgress(0, parts) })).map((v, i) => {
    const parsed = partResultSchema.safeParse(v);
    if (!parsed.success) {
      throw new Error(`part ${i} of analysis ${id} returned no summary: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    return parsed.data;
  });
  ctx.signal.throwIfAborted();
  const first = values[0] as (typeof values)[number];
  const startedAt = new Date(first.startedAt);
  const merged = { from: new Date(first.window.from), to: new Date(first.window.to) };
  const previous = { from: new Date(first.previousWindow.from), to: new Date(first.previousWindow.to) };
  const config = await deps.metaMonitor.settings();
  const analyzer = new ExecutionAnalyzer({ source: 'agent', focus: job.data.focus, settings: config.settings, clusterer: new TemplateMiner(), clusterIdOf });
  const memory = new PassMeter(ctx.signal);
  for (const v of values) {
    analyzer.mergePart(v.summary);
  }
  memory.sample();
  const body = analyzer.result(merged, previous);
  const records = values.reduce((n, v) => n + v.records, 0);
  return finish(job, ctx, deps, {
    body,
    startedAt,
    window: merged,
    settings: config.settings,
    records,
    durationMs: Math.max(0, deps.clock().getTime() - startedAt.getTime()),
    peakHeapBytes: Math.max(memory.heap, ...values.map((v) => v.peakHeapBytes)),
    peakRssBytes: Math.max(memory.rss, ...values.map((v) => v.peakRssBytes)),
    truncatedQueues: [],
    parts,
  });
}

/** What the single pass and the merge of parts hand on to be finished alike. */
interface Analysed {
  body: AnalysisBody;
  startedAt: Date;
  window: { from: Date; to: Date };
  settings: MetaMonitorSettings;
  records: number;
  durationMs: number;
  peakHeapBytes: number;
  peakRssBytes: number;
  truncatedQueues: string[];
  parts: number;
}

/** Routing advice, the gap store, the narrative: the same for a single pass and a merge of parts. */
async function finish(job: JobHandle<z.output<typeof payloadSchema>>, ctx: JobContext, deps: JobDeps, a: Analysed): Promise<AnalysisResult> {
  const { body, startedAt, window } = a;
  const length = window.to.getTime() - window.from.getTime();
  // The router's figures and the gap store speak of the present: only an analysis of the window up to now feeds them.
  const current = Math.abs(startedAt.getTime() - window.to.getTime()) < 60_000;
  if (job.data.source === 'fleet' && current) {
    body.recommendations.push(...routingRecommendations(await deps.metaMonitor.routing(length)));
  }
  const analysisId = publicIdOf(analysisIdPrefix, job.id ?? `local.${startedAt.getTime()}`);
  const gaps = current && job.data.focus === 'all' ? await recordGaps(deps, analysisId, body, a.settings, startedAt) : null;
  const narrative = await narrate(deps, 'meta-monitor', executionNarrativeRequest(body), ctx);
  await job.updateProgress(100);
  return {
    ...body,
    analysisId,
    timeframe: job.data.from ? null : (job.data.timeframe ?? 'last-1h'),
    startedAt: startedAt.toISOString(),
    finishedAt: deps.clock().toISOString(),
    trigger: { by: job.data.requestedBy, priority: job.data.priority },
    performance: {
      records: a.records,
      durationMs: a.durationMs,
      recordsPerSecond: a.durationMs > 0 ? Math.round((a.records / a.durationMs) * 1000) : null,
      peakHeapBytes: a.peakHeapBytes,
      peakRssBytes: a.peakRssBytes,
      parts: a.parts,
    },
    gaps,
    truncatedQueues: a.truncatedQueues,
    narrative,
  };
}

/**
 * The meta-monitor's analysis of a window (and the window of equal length before it, for
 * degradation): from the agent's execution records (the default) or the fleet's own finished
 * jobs. Streams the records; see `domain/meta-monitor/analysis.ts`. With `BSM_ANALYSIS_PARTS` > 1
 * an analysis of the agent's records is a BullMQ flow: this job the parent, one
 * {@link analyzeExecutionsPartJob} per time slice, their summaries merged here.
 */
export const analyzeExecutionsJob = defineJob({
  queue: 'meta-monitor',
  name: 'analyze-executions',
  description: "success rate, latency percentiles, bottlenecks, failure clusters, degradation and recommendations over the agent's executions (or the fleet's own jobs) in a window",
  payload: payloadSchema,
  result: analysisResultSchema,
  stored: true,
  schedule: { id: 'meta-monitor-analysis', setting: 'BSM_SCHEDULE_META_MONITOR', data: { timeframe: 'last-1h', focus: 'all', source: 'agent' }, priority: 'low', description: 'Meta-monitor execution analysis' },
  handler: async (job, ctx, deps) => {
    const parts = deps.metaMonitor.analysisParts ?? 1;
    if (parts > 1 && job.data.source === 'agent' && ctx.flow) {
      return analyzeInParts(job, ctx, deps, parts, ctx.flow);
    }
    const startedAt = deps.clock();
    const started = performance.now();
    const window = windowOf(job.data, startedAt);
    const length = window.to.getTime() - window.from.getTime();
    const previous = { from: new Date(window.from.getTime() - length), to: window.from };
    const config = await deps.metaMonitor.settings();
    const analyzer = new ExecutionAnalyzer({ source: job.data.source, focus: job.data.focus, settings: config.settings, clusterer: new TemplateMiner(), clusterIdOf });
    const memory = new PassMeter(ctx.signal);
    const tick = memory.tick;
    const truncatedQueues: string[] = [];
    const queueLimits = new Map<string, QueueLimits>();
    if (job.data.source === 'agent') {
      await feedAgent(deps, previous.from, previous.to, (e) => analyzer.addPrevious(e), ctx, tick);
      await job.updateProgress(30);
      await feedAgent(deps, window.from, window.to, (e) => analyzer.add(e), ctx, tick);
    } else {
      // Job failure reasons are our handlers' own messages, redacted anyway before anything keeps them.
      const redactor = new Redactor();
      for (const [i, q] of queueNames.entries()) {
        ctx.signal.throwIfAborted();
        const read = await deps.fleet.finishedJobs(q, previous.from);
        if (read.truncated) {
          truncatedQueues.push(q);
        }
        for (const r of read.records) {
          const e = fleetExecutionOf(r);
          if (!e || e.timestamp >= window.to.getTime()) {
            continue;
          }
          if (e.errorMessage !== undefined) {
            e.errorMessage = redactor.redact(e.errorMessage);
          }
          if (e.timestamp < window.from.getTime()) {
            analyzer.addPrevious(e);
          } else {
            analyzer.add(e);
          }
          tick();
        }
        queueLimits.set(q, await deps.metaMonitor.queueLimits(q));
        await job.updateProgress(Math.round(((i + 1) / queueNames.length) * 80));
      }
    }
    const body = analyzer.result(window, previous, queueLimits);
    memory.sample();
    return finish(job, ctx, deps, {
      body,
      startedAt,
      window,
      settings: config.settings,
      records: memory.records,
      durationMs: Math.round(performance.now() - started),
      peakHeapBytes: memory.heap,
      peakRssBytes: memory.rss,
      truncatedQueues,
      parts: 1,
    });
  },
});
