/**
 * Compliance and the audit trail: `compliance status` (the GDPR checks measured now),
 * `compliance report` (the service's compliance report: queued, followed, exported with its
 * SHA-256), `trail verify`.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin, CommandError } from './http.js';
import { fields, ms, table, type Style } from './output.js';
import { follow, timeoutMs } from './wait.js';

/** The offline verification of an archive (`runtime/trail-cli.ts`), handed in by main.ts; resolves to its exit code. */
export type OfflineTrailVerify = (args: string[]) => Promise<number>;

interface GdprStatus {
  measuredAt: string;
  status: 'compliant' | 'violation';
  checks: { id: string; ok: boolean; detail: string }[];
}

/** `GET …/audit-trail/verify`, the fields the CLI shows. */
export interface TrailVerification {
  ok: boolean;
  verifiedAt: string;
  entries: number;
  firstSeq: number | null;
  lastSeq: number | null;
  head: { seq: number; hash: string } | null;
  checkpoint: { number?: number; seq?: number; agrees?: boolean } | null;
  checkpointsChecked: number;
  firstProblem: { part: string; code: string; seq: number | null; streamId: string | null; detail: string } | null;
  problemCount: number;
  durationMs: number;
}

function renderGdpr(s: GdprStatus, style: Style): string {
  return `GDPR status ${style.status(s.status)} (measured ${s.measuredAt})\n\n` + table(['check', 'ok', 'detail'], s.checks.map((c) => [c.id, style.status(c.ok ? 'pass' : 'fail'), c.detail]), style);
}

export function renderTrail(v: TrailVerification, style: Style): string {
  return (
    fields([
      ['Audit trail', v.ok ? style.status('ok') : style.paint('FAIL', 'red')],
      ['Entries', `${v.entries}${v.firstSeq !== null ? `, seq ${v.firstSeq}-${v.lastSeq}` : ''}`],
      ['Head', v.head ? `#${v.head.seq} ${v.head.hash.slice(0, 16)}…` : null],
      ['Checkpoints', `${v.checkpointsChecked} checked`],
      ['Problems', v.problemCount],
      ['First problem', v.firstProblem ? `${v.firstProblem.part} ${v.firstProblem.code} at seq ${v.firstProblem.seq ?? '-'} (${v.firstProblem.streamId ?? '-'}): ${v.firstProblem.detail}` : null],
      ['Verified', `${v.verifiedAt} in ${v.durationMs} ms`],
    ])
  );
}

const reportPeriods = ['daily', 'weekly', 'monthly'] as const;
const reportFormats = ['json', 'markdown', 'html'] as const;

/** `POST …/compliance/report`: 202. */
interface ReportAccepted {
  reportId: string;
  state: 'queued';
  period: string;
  includeDetails: boolean;
  format: string;
  resultUrl: string;
  exportUrl: string;
}

/** `GET …/compliance/report/{id}` while queued or running: 202. */
interface ReportPending {
  reportId: string;
  state: 'queued' | 'running';
  progress: { percent: number };
}

interface Usage {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** `GET …/compliance/report/{id}` when done: 200, the fields the CLI shows. */
export interface ComplianceReportAnswer {
  id: string;
  generatedAt: string;
  period: { name: string; from: string; to: string };
  includeDetails: boolean;
  format: string;
  requestedBy: string;
  status: 'compliant' | 'violation';
  checks: { id: string; ok: boolean; detail: string }[];
  violations: { check: string; severity: string; detail: string; source: string; at: string }[];
  dailyChecks: { runs: number; nonCompliant: number; unreadable: number };
  pii: { totalDetections: number; detections: Record<string, number>; selfTest: { ok: boolean; detail: string } };
  auditTrail: { ok: boolean; entries: number; problemCount: number; firstProblem: string | null; durationMs: number };
  llm: { byPath: (Usage & { path: string; region: string | null })[]; totals: Usage };
  recommendations: { priority: string; topic: string; text: string }[];
}

function renderReport(r: ComplianceReportAnswer, style: Style): string {
  let text = fields([
    ['Compliance report', r.id],
    ['Period', `${r.period.name}: ${r.period.from} to ${r.period.to}`],
    ['Status', style.status(r.status)],
    ['Generated', `${r.generatedAt} for ${r.requestedBy}`],
    ['Daily checks', `${r.dailyChecks.runs} ran, ${r.dailyChecks.nonCompliant} found a problem${r.dailyChecks.unreadable > 0 ? `, ${r.dailyChecks.unreadable} unreadable` : ''}`],
    ['PII detections', `${r.pii.totalDetections}; redaction self-test ${r.pii.selfTest.ok ? style.status('pass') : style.status('fail')}`],
    ['Audit trail', `${r.auditTrail.ok ? style.status('ok') : style.paint('FAIL', 'red')}: ${r.auditTrail.entries} entries, ${r.auditTrail.problemCount} problem(s) (${ms(r.auditTrail.durationMs)})${r.auditTrail.firstProblem ? `; first: ${r.auditTrail.firstProblem}` : ''}`],
    ['LLM requests', `${r.llm.totals.requests}, ${r.llm.totals.inputTokens} in / ${r.llm.totals.outputTokens} out tokens, $${r.llm.totals.costUsd}`],
  ]);
  text += '\n' + table(['check', 'ok', 'detail'], r.checks.map((c) => [c.id, style.status(c.ok ? 'pass' : 'fail'), c.detail]), style);
  if (r.violations.length > 0) {
    text += '\n' + table(['violation', 'severity', 'source', 'at', 'detail'], r.violations.map((v) => [v.check, style.status(v.severity), v.source, v.at, v.detail]), style);
  }
  if (r.llm.byPath.length > 0) {
    text += '\n' + table(['path', 'region', 'requests', 'tokens in', 'tokens out', 'cost USD'], r.llm.byPath.map((p) => [p.path, p.region ?? '-', p.requests, p.inputTokens, p.outputTokens, p.costUsd]), style);
  }
  if (r.recommendations.length > 0) {
    text += '\nRecommendations:\n' + r.recommendations.map((rec) => `  [${rec.priority}] ${rec.topic}: ${rec.text}`).join('\n') + '\n';
  }
  return text;
}

/**
 * The bytes of an export that its SHA-256 covers (README "Compliance reports"): JSON, the
 * "report" value as written (after the first `,"report":`, before the last `}`); Markdown and
 * HTML, everything after the line `-->` that closes the metadata comment. `null` when the body
 * has no such part.
 */
export function hashedPart(body: Buffer, format: string): Buffer | null {
  if (format === 'json') {
    const marker = Buffer.from(',"report":');
    const start = body.indexOf(marker);
    const end = body.lastIndexOf('}');
    return start < 0 || end < start + marker.length ? null : body.subarray(start + marker.length, end);
  }
  const closing = Buffer.from('\n-->\n');
  const at = body.indexOf(closing);
  return at < 0 ? null : body.subarray(at + closing.length);
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export function registerCompliance(program: Command, ctx: Context, act: Act, offlineTrailVerify: OfflineTrailVerify): void {
  const compliance = example(program.command('compliance').description('GDPR compliance: the measured status, or a report of it'), 'bsm compliance status', 'bsm compliance report --period weekly --format markdown --output compliance.md');

  example(
    compliance
      .command('status')
      .description('the GDPR checks, each measured now (GET …/compliance/gdpr/status); exit 1 on a violation')
      .action(
        act(async (_o: object, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<GdprStatus>(`${admin}/compliance/gdpr/status`);
          ctx.emit(cmd, body, () => renderGdpr(body, ctx.style));
          return body.status === 'compliant' ? exitCodes.ok : exitCodes.failed;
        }),
      ),
    'bsm compliance status',
  );

  example(
    compliance
      .command('report')
      .description(
        "make a compliance report on the service's compliance workers (POST …/compliance/report): every GDPR check measured then, the violations, the daily checks, PII detections, the audit trail verified in full, LLM usage by path and region, recommendations. With --wait, follow it and print it (exit 1 when it finds a violation); with --output, write its export (GET …/compliance/export) and print the SHA-256 of its content, checked against X-Content-SHA256",
      )
      .addOption(new Option('--period <period>', 'daily (24 h), weekly (7 days; the default) or monthly (30 days), ending when the report is made').choices(reportPeriods))
      .option('--details', "each check's measured values, PII by day and LLM usage by model")
      .addOption(new Option('--format <format>', "the export's format (the service's default: json)").choices(reportFormats))
      .option('--reason <text>', 'why (kept in the audit trail, redacted)')
      .option('--output <file>', 'write the export to this file (- for stdout); waits for the report')
      .option('--wait', 'follow the report until it is made (a progress bar on a TTY)')
      .option('--timeout <seconds>', 'give up waiting after this long', '600')
      .action(
        act(async (o: { period?: string; details?: boolean; format?: string; reason?: string; output?: string; wait?: boolean; timeout: string }, cmd: Command) => {
          const limit = timeoutMs(o.timeout);
          const client = await ctx.client(cmd);
          const body = { ...(o.period ? { period: o.period } : {}), ...(o.details === true ? { include_details: true } : {}), ...(o.format ? { format: o.format } : {}), ...(o.reason ? { reason: o.reason } : {}) };
          const { body: queued } = await client.post<ReportAccepted>(`${admin}/compliance/report`, Object.keys(body).length > 0 ? { body } : {});
          if (o.wait !== true && o.output === undefined) {
            ctx.emit(
              cmd,
              queued,
              () =>
                `compliance report ${queued.reportId} ${ctx.style.status(queued.state)}: ${queued.period}, ${queued.format}${queued.includeDetails ? ', with details' : ''}\n` +
                `follow it: bsm compliance report --wait, or GET ${queued.resultUrl}; export it: GET ${queued.exportUrl}\n`,
            );
            return exitCodes.ok;
          }
          const report = await follow(
            `compliance report ${queued.reportId}`,
            ctx.io,
            async () => {
              // 200: made; 202: queued or running; 409: the job failed (its error.message, exit 1).
              const answer = await client.get<ComplianceReportAnswer | ReportPending>(`${admin}/compliance/report/${encodeURIComponent(queued.reportId)}`);
              if (answer.status === 200) {
                return { done: answer.body as ComplianceReportAnswer };
              }
              const pending = answer.body as ReportPending;
              return { percent: pending.progress.percent, state: pending.state };
            },
            { timeoutMs: limit },
          );
          const code = report.status === 'compliant' ? exitCodes.ok : exitCodes.failed;
          if (o.output === undefined) {
            ctx.emit(cmd, report, () => renderReport(report, ctx.style));
            return code;
          }
          const format = o.format ?? queued.format;
          const exported = await client.bytes(`${admin}/compliance/export`, { query: { id: queued.reportId, format } });
          const claimed = exported.headers.get('x-content-sha256');
          const part = hashedPart(exported.body, format);
          const hash = part === null ? null : sha256(part);
          if (claimed === null || hash !== claimed) {
            throw new CommandError(`the ${format} export of ${queued.reportId} does not match its X-Content-SHA256 (${claimed ?? 'absent'}; its content hashes to ${hash ?? 'nothing: no content part found'}): not written`);
          }
          const summary = { reportId: queued.reportId, status: report.status, period: report.period.name, format, output: o.output, bytes: exported.body.length, sha256: hash, fileSha256: sha256(exported.body) };
          if (o.output === '-') {
            ctx.io.stdout.write(exported.body);
            ctx.io.stderr.write(`compliance report ${queued.reportId}: ${report.status}; SHA-256 of its content ${hash} (= X-Content-SHA256)\n`);
            return code;
          }
          await writeFile(o.output, exported.body).catch((err: NodeJS.ErrnoException) => {
            throw new CommandError(`cannot write ${o.output}: ${err.code ?? err.message}`);
          });
          ctx.emit(
            cmd,
            summary,
            () =>
              `wrote compliance report ${queued.reportId} (${report.period.name}, ${format}, ${ctx.style.status(report.status)}) to ${o.output} (${summary.bytes} bytes)\n` +
              `  SHA-256 of its content: ${hash} (= X-Content-SHA256)\n` +
              `  SHA-256 of the file:    ${summary.fileSha256}\n`,
          );
          return code;
        }),
      ),
    'bsm compliance report --wait',
    'bsm compliance report --period weekly --details --format markdown --output compliance.md',
    'bsm compliance report --period monthly --format html --output - > compliance.html',
  );

  const trail = example(program.command('trail').description('the audit trail'), 'bsm trail verify');
  example(
    trail
      .command('verify')
      .description(
        "verify the audit trail: online through the service (GET …/audit-trail/verify: completeness, hashes, links, signed checkpoints), or offline with --archive (no service, no Redis: the archive's segments, manifests and checkpoints); exit 1 when it does not verify",
      )
      .option('--archive <dir>', 'verify this archive directory (or file:// URL) offline instead')
      .option('--public-key <file>', 'offline: a PEM public key to trust (repeatable; default the archive\'s own keys/)', (value: string, previous: string[] = []) => [...previous, value])
      .action(
        act(async (o: { archive?: string; publicKey?: string[] }, cmd: Command) => {
          if (o.archive !== undefined || o.publicKey !== undefined) {
            return offlineTrailVerify(['verify', ...(o.archive !== undefined ? ['--archive', o.archive] : []), ...(o.publicKey ?? []).flatMap((k) => ['--public-key', k])]);
          }
          const { body } = await (await ctx.client(cmd)).get<TrailVerification>(`${admin}/audit-trail/verify`);
          ctx.emit(cmd, body, () => renderTrail(body, ctx.style));
          return body.ok ? exitCodes.ok : exitCodes.failed;
        }),
      ),
    'bsm trail verify',
    'bsm trail verify --archive data/archive --public-key audit-public-key.pem',
  );
}
