/** The meta-monitor: `analyze`, `insights`, `recommendations`, `optimize`. */
import { Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin, CliUsageError } from './http.js';
import { fields, ms, pct, table } from './output.js';
import { follow, timeoutMs } from './wait.js';

interface AnalysisAccepted {
  analysisId: string;
  state: string;
  window: { from: string; to: string };
  focus: string;
  source: string;
  priority: string;
}

interface Analysis {
  source: string;
  focus: string;
  window: { from: string; to: string };
  executions: number;
  successRate: number | null;
  latencyMs: { p50: number | null; p95: number | null; p99: number | null };
  bottlenecks: unknown[];
  clusters: unknown[];
  clustersTotal: number;
  degradations: unknown[];
  healthScore: { score: number | null };
  recommendations: unknown[];
}

/** `GET …/meta-monitor/insights`. */
export interface InsightsAnswer {
  analysisId: string;
  window: { from: string; to: string };
  healthScore: number | null;
  insights: { type: string; id: string; level: string | null; at: string; summary: string }[];
}

interface RecommendationsAnswer {
  analysisId: string;
  recommendations: { id: string; rule: string; title: string; subject: string; expectedImpact: string; executable: boolean; optimization: { id?: string; appliedAt?: string } | null }[];
}

interface OptimizeAnswer {
  recommendationId: string;
  dryRun: boolean;
  plan: { changes?: { target: string; from: unknown; to: unknown }[]; description?: string } | null;
  optimization: { id?: string } | null;
  application: { status?: string; id?: string } | null;
}

function renderAnalysis(id: string, a: Analysis): string {
  return fields([
    ['Analysis', id],
    ['Source', `${a.source}, focus ${a.focus}`],
    ['Window', `${a.window.from} to ${a.window.to}`],
    ['Executions', a.executions],
    ['Success rate', pct(a.successRate)],
    ['Latency', `p50 ${ms(a.latencyMs.p50)}, p95 ${ms(a.latencyMs.p95)}, p99 ${ms(a.latencyMs.p99)}`],
    ['Health score', a.healthScore.score],
    ['Insights', `${a.clustersTotal} failure cluster(s), ${a.bottlenecks.length} bottleneck(s), ${a.degradations.length} degradation(s)`],
    ['Recommendations', a.recommendations.length],
  ]);
}

export function registerMetaMonitor(program: Command, ctx: Context, act: Act): void {
  example(
    program
      .command('analyze')
      .description("start an analysis of executions (POST …/meta-monitor/analyze); with --wait, follow it and print its figures")
      .addOption(new Option('--timeframe <timeframe>', 'the window (default last-1h)').choices(['last-1h', 'last-24h', 'last-7d']))
      .addOption(new Option('--focus <focus>', 'what to look at').choices(['performance', 'failures', 'all']))
      .addOption(new Option('--source <source>', "agent: the agent's executions (default); fleet: this service's own jobs").choices(['agent', 'fleet']))
      .addOption(new Option('--priority <priority>', 'job priority').choices(['high', 'medium', 'low']))
      .option('--wait', 'follow the analysis until it finishes (a progress bar on a TTY)')
      .option('--timeout <seconds>', 'give up waiting after this long', '600')
      .action(
        act(async (o: { timeframe?: string; focus?: string; source?: string; priority?: string; wait?: boolean; timeout: string }, cmd: Command) => {
          const limit = timeoutMs(o.timeout);
          const client = await ctx.client(cmd);
          const body = Object.fromEntries(Object.entries({ timeframe: o.timeframe, focus: o.focus, source: o.source, priority: o.priority }).filter(([, v]) => v !== undefined));
          const { body: queued } = await client.post<AnalysisAccepted>(`${admin}/meta-monitor/analyze`, Object.keys(body).length > 0 ? { body } : {});
          if (o.wait !== true) {
            ctx.emit(cmd, queued, () => `analysis ${queued.analysisId} ${ctx.style.status(queued.state)}: ${queued.source}, focus ${queued.focus}, ${queued.window.from} to ${queued.window.to}\n`);
            return exitCodes.ok;
          }
          const path = `${admin}/meta-monitor/results/${encodeURIComponent(queued.analysisId)}`;
          // 202 while queued or running (with progress), 200 with the analysis, 409 with the reason it failed.
          const analysis = await follow(
            `analysis ${queued.analysisId}`,
            ctx.io,
            async () => {
              const { status, body: answer } = await client.get<Analysis | { state: string; progress: { percent: number } }>(path);
              return status === 200 ? { done: answer as Analysis } : { percent: (answer as { progress: { percent: number } }).progress.percent, state: (answer as { state: string }).state };
            },
            { timeoutMs: limit },
          );
          ctx.emit(cmd, { analysisId: queued.analysisId, ...analysis }, () => renderAnalysis(queued.analysisId, analysis));
          return exitCodes.ok;
        }),
      ),
    'bsm analyze --timeframe last-24h --focus performance --wait',
    'bsm analyze --source fleet --wait --json',
  );

  example(
    program
      .command('insights')
      .description('failure clusters, bottlenecks and degradations of the latest analysis (GET …/meta-monitor/insights)')
      .action(
        act(async (_o: object, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<InsightsAnswer>(`${admin}/meta-monitor/insights`);
          ctx.emit(cmd, body, () => {
            const head = `analysis ${body.analysisId}, ${body.window.from} to ${body.window.to}, health score ${body.healthScore ?? '-'}: ${body.insights.length} insight(s)\n`;
            return body.insights.length === 0 ? head : `${head}\n${table(['type', 'level', 'id', 'at', 'summary'], body.insights.map((i) => [i.type, i.level ? ctx.style.status(i.level) : null, i.id, i.at, i.summary]), ctx.style)}`;
          });
          return exitCodes.ok;
        }),
      ),
    'bsm insights',
  );

  example(
    program
      .command('recommendations')
      .description("the latest analysis's recommendations, each with whether it can be applied and was (GET …/meta-monitor/recommendations)")
      .action(
        act(async (_o: object, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<RecommendationsAnswer>(`${admin}/meta-monitor/recommendations`);
          ctx.emit(cmd, body, () => {
            const head = `analysis ${body.analysisId}: ${body.recommendations.length} recommendation(s)\n`;
            return body.recommendations.length === 0
              ? head
              : `${head}\n${table(['id', 'rule', 'subject', 'applicable', 'applied', 'title'], body.recommendations.map((r) => [r.id, r.rule, r.subject, r.executable, r.optimization ? 'yes' : 'no', r.title]), ctx.style)}`;
          });
          return exitCodes.ok;
        }),
      ),
    'bsm recommendations --json',
  );

  example(
    program
      .command('optimize')
      .description('apply a recommendation (POST …/meta-monitor/optimize): a dry run that says what would change, or with --apply the change itself (needs the approve permission)')
      .argument('<id>', 'the recommendation id (opt-…)')
      .option('--apply', 'apply it (default: dry run)')
      .option('--approved-by <name>', "your key's name, required to apply (default with the local admin token file: admin)")
      .action(
        act(async (id: string, o: { apply?: boolean; approvedBy?: string }, cmd: Command) => {
          const client = await ctx.client(cmd);
          const approvedBy = o.approvedBy ?? (client.connection.tokenSource === 'admin-token-file' ? 'admin' : undefined);
          if (o.apply === true && approvedBy === undefined) {
            throw new CliUsageError('--apply needs --approved-by NAME: the name of the key you call with (the approval is recorded under it)');
          }
          const { body } = await client.post<OptimizeAnswer>(`${admin}/meta-monitor/optimize`, {
            body: { recommendation_id: id, apply: o.apply === true, ...(o.apply === true ? { approved_by: approvedBy } : {}) },
          });
          ctx.emit(cmd, body, () =>
            body.dryRun
              ? `dry run of ${body.recommendationId}${body.optimization ? ' (already applied)' : ''}:\n${(body.plan?.changes ?? []).map((c) => `  ${c.target}: ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`).join('\n') || '  no change'}\napply it: bsm optimize ${body.recommendationId} --apply\n`
              : `applied ${body.recommendationId}: ${body.application?.status ?? 'done'} (${body.optimization?.id ?? body.application?.id ?? '-'})\n`,
          );
          return exitCodes.ok;
        }),
      ),
    'bsm optimize opt-1a2b3c4d5e6f7a8b',
    'bsm optimize opt-1a2b3c4d5e6f7a8b --apply --approved-by alice',
  );
}
