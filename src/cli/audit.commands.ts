/** The infrastructure auditor: `audit trigger`, `audit show`, `audit export`. */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin, CliUsageError, CommandError } from './http.js';
import { fields, ms, table, type Style } from './output.js';
import { follow, timeoutMs } from './wait.js';

interface TriggerAnswer {
  auditId: string;
  type: string;
  priority: string;
  state: string;
  targets: number;
}

/** `GET …/audit/status/{id}`. */
export interface AuditStatusAnswer {
  auditId: string;
  state: 'queued' | 'running' | 'completed' | 'failed';
  type: string | null;
  progress: { percent: number };
  durationMs: number | null;
  error: string | null;
  summary: { status: string; score: number; gaps: number } | null;
}

interface AuditReport {
  auditId: string;
  type: string;
  status: string;
  score: number;
  startedAt: string;
  durationMs: number;
  trigger: { by: string; reason: string | null; priority: string };
  summary: { targets: number; pass: number; fail: number; error: number; gaps: number };
  trend: { previousAuditId: string | null; scoreDelta: number | null; newGaps: number; resolvedGaps: number };
  targets: { id: string; kind: string; component: string; criticality: string; status: string; durationMs: number; observations: { check: string; met: boolean }[] }[];
  gaps: { id: string; severity: string; type: string; title: string; status: string; count: number }[];
  recommendations: { priority: string; gapId: string; text: string }[];
}

function renderReport(r: AuditReport, style: Style): string {
  let text = fields([
    ['Audit', r.auditId],
    ['Type', r.type],
    ['Status', style.status(r.status)],
    ['Score', `${r.score}/100${r.trend.scoreDelta !== null ? ` (${r.trend.scoreDelta >= 0 ? '+' : ''}${r.trend.scoreDelta} since ${r.trend.previousAuditId ?? '-'})` : ''}`],
    ['When', `${r.startedAt} (${ms(r.durationMs)})`],
    ['Triggered by', `${r.trigger.by}, ${r.trigger.priority} priority${r.trigger.reason ? `: ${r.trigger.reason}` : ''}`],
    ['Targets', `${r.summary.targets}: ${r.summary.pass} passed, ${r.summary.fail} failed, ${r.summary.error} could not be probed`],
    ['Gaps', `${r.summary.gaps} (${r.trend.newGaps} new, ${r.trend.resolvedGaps} resolved)`],
  ]);
  text +=
    '\n' +
    table(
      ['target', 'kind', 'criticality', 'status', 'time', 'unmet checks'],
      r.targets.map((t) => [t.id, t.kind, t.criticality, style.status(t.status), ms(t.durationMs), t.observations.filter((o) => !o.met).map((o) => o.check).join(', ')]),
      style,
    );
  if (r.gaps.length > 0) {
    text += '\n' + table(['gap', 'severity', 'type', 'status', 'seen', 'title'], r.gaps.map((g) => [g.id, style.status(g.severity), g.type, g.status, g.count, g.title]), style);
  }
  if (r.recommendations.length > 0) {
    text += '\nRecommendations:\n' + r.recommendations.map((rec) => `  [${rec.priority}] ${rec.gapId}: ${rec.text}`).join('\n') + '\n';
  }
  return text;
}

const auditTypes = ['comprehensive', 'incremental', 'targeted'] as const;
const priorities = ['high', 'medium', 'low'] as const;
const exportFormats = ['json', 'markdown', 'html', 'csv'] as const;

export function registerAudit(program: Command, ctx: Context, act: Act): void {
  const audit = example(program.command('audit').description('the infrastructure auditor: trigger an audit, read a report, export it'), 'bsm audit trigger --wait', 'bsm audit show');

  example(
    audit
      .command('trigger')
      .description('queue an audit (POST …/audit/trigger); with --wait, follow it to the end and print its id, status, score and gap count')
      .addOption(new Option('--type <type>', 'comprehensive (default), incremental, or targeted (with --targets)').choices(auditTypes))
      .option('--targets <ids>', 'comma-separated target ids (makes the audit targeted)')
      .addOption(new Option('--priority <priority>', 'job priority').choices(priorities))
      .option('--reason <text>', 'why (kept in the audit trail, redacted)')
      .option('--wait', 'follow the audit until it finishes (a progress bar on a TTY)')
      .option('--timeout <seconds>', 'give up waiting after this long', '600')
      .action(
        act(async (o: { type?: string; targets?: string; priority?: string; reason?: string; wait?: boolean; timeout: string }, cmd: Command) => {
          const limit = timeoutMs(o.timeout);
          const targets = o.targets
            ?.split(',')
            .map((t) => t.trim())
            .filter(Boolean);
          if (o.targets !== undefined && (targets ?? []).length === 0) {
            throw new CliUsageError('--targets needs at least one target id');
          }
          const client = await ctx.client(cmd);
          const body = { ...(o.type ? { type: o.type } : {}), ...(targets ? { targets } : {}), ...(o.priority ? { priority: o.priority } : {}), ...(o.reason ? { reason: o.reason } : {}) };
          const { body: queued } = await client.post<TriggerAnswer>(`${admin}/audit/trigger`, Object.keys(body).length > 0 ? { body } : {});
          if (o.wait !== true) {
            ctx.emit(cmd, queued, () => `audit ${queued.auditId} ${ctx.style.status(queued.state)}: ${queued.type}, ${queued.targets} target(s), ${queued.priority} priority\nfollow it: bsm audit trigger --wait, or bsm audit show ${queued.auditId}\n`);
            return exitCodes.ok;
          }
          const final = await follow(
            `audit ${queued.auditId}`,
            ctx.io,
            async () => {
              const { body: s } = await client.get<AuditStatusAnswer>(`${admin}/audit/status/${encodeURIComponent(queued.auditId)}`);
              return s.state === 'completed' || s.state === 'failed' ? { done: s } : { percent: s.progress.percent, state: s.state };
            },
            { timeoutMs: limit },
          );
          ctx.emit(cmd, final, () =>
            final.state === 'completed' && final.summary
              ? `audit ${final.auditId} ${ctx.style.status('completed')} in ${ms(final.durationMs)}: ${ctx.style.status(final.summary.status)}, score ${final.summary.score}, ${final.summary.gaps} gap(s)\n`
              : `audit ${final.auditId} ${ctx.style.status('failed')}: ${final.error ?? 'no reason given'}\n`,
          );
          return final.state === 'completed' ? exitCodes.ok : exitCodes.failed;
        }),
      ),
    'bsm audit trigger --wait',
    'bsm audit trigger --type targeted --targets api-health --priority high --reason "Pre-deployment validation"',
  );

  example(
    audit
      .command('show')
      .description('an audit report: the latest (GET …/audit/latest), or one by id (GET …/audit/{id}/details); --last-24h lists the audits of the last day')
      .argument('[id]', 'the audit id (audit-…)')
      .option('--last-24h', 'list the audits of the last 24 hours instead (GET …/audits/last-24h)')
      .action(
        act(async (id: string | undefined, o: { last24h?: boolean }, cmd: Command) => {
          const client = await ctx.client(cmd);
          if (o.last24h === true) {
            if (id !== undefined) {
              throw new CliUsageError('--last-24h lists audits: give no id with it');
            }
            const { body } = await client.get<{ since: string; count: number; totals: { gaps: number; newGaps: number; resolvedGaps: number }; audits: { auditId: string; type: string; status: string; score: number; startedAt: string; durationMs: number; gaps: number; newGaps: number; resolvedGaps: number; trigger: { by: string } }[] }>(`${admin}/audits/last-24h`);
            ctx.emit(cmd, body, () =>
              `${body.count} audit(s) since ${body.since}: ${body.totals.gaps} gap(s), ${body.totals.newGaps} new, ${body.totals.resolvedGaps} resolved\n` +
              (body.count > 0
                ? '\n' + table(['audit', 'type', 'status', 'score', 'started', 'gaps', 'new', 'resolved', 'by'], body.audits.map((a) => [a.auditId, a.type, ctx.style.status(a.status), a.score, a.startedAt, a.gaps, a.newGaps, a.resolvedGaps, a.trigger.by]), ctx.style)
                : ''),
            );
            return exitCodes.ok;
          }
          const { body } = await client.get<AuditReport>(id === undefined ? `${admin}/audit/latest` : `${admin}/audit/${encodeURIComponent(id)}/details`);
          ctx.emit(cmd, body, () => renderReport(body, ctx.style));
          return exitCodes.ok;
        }),
      ),
    'bsm audit show',
    'bsm audit show audit-75395e59-bfe7-407d-9e7e-2535d206f055 --json',
    'bsm audit show --last-24h',
  );

  example(
    audit
      .command('export')
      .description("write an audit's report as a file (GET …/audit/{id}/export?format=); the latest audit when no id is given")
      .argument('[id]', 'the audit id (default: the latest)')
      .addOption(new Option('--format <format>', 'the file format').choices(exportFormats).default('json'))
      .requiredOption('--output <file>', 'where to write it (- for stdout)')
      .action(
        act(async (id: string | undefined, o: { format: string; output: string }, cmd: Command) => {
          const client = await ctx.client(cmd);
          let auditId = id;
          if (auditId === undefined) {
            const latest = await client.get<{ auditId: string }>(`${admin}/audit/latest`);
            auditId = latest.body.auditId;
          }
          const { body, headers } = await client.text(`${admin}/audit/${encodeURIComponent(auditId)}/export`, { query: { format: o.format } });
          if (o.output === '-') {
            ctx.print(body);
            return exitCodes.ok;
          }
          await writeFile(o.output, body).catch((err: NodeJS.ErrnoException) => {
            throw new CommandError(`cannot write ${o.output}: ${err.code ?? err.message}`);
          });
          const summary = { auditId, format: o.format, output: o.output, bytes: Buffer.byteLength(body), contentType: headers.get('content-type') };
          ctx.emit(cmd, summary, () => `wrote audit ${auditId} as ${o.format} to ${o.output} (${summary.bytes} bytes)\n`);
          return exitCodes.ok;
        }),
      ),
    'bsm audit export --format html --output audit.html',
    'bsm audit export audit-… --format csv --output -',
  );
}
