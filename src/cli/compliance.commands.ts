/** Compliance and the audit trail: `compliance status`, `compliance report`, `trail verify`. */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin, CommandError } from './http.js';
import { fields, table, type Style } from './output.js';

/** The offline verification of an archive (`runtime/trail-cli.ts`), handed in by main.ts; resolves to its exit code. */
export type OfflineTrailVerify = (args: string[]) => Promise<number>;

interface GdprStatus {
  measuredAt: string;
  status: 'compliant' | 'violation';
  checks: { id: string; ok: boolean; detail: string }[];
}

interface Residency {
  measuredAt: string;
  entries: { data: string; where: string; region: string | null; basis: string }[];
}

interface PiiStatus {
  window: string;
  totals?: Record<string, number>;
  [key: string]: unknown;
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

const piiWindows: Record<string, string> = { daily: '24h', weekly: '7d' };

function reportMarkdown(r: { generatedAt: string; period: string; gdpr: GdprStatus; residency: Residency; pii: PiiStatus; auditTrail: TrailVerification }): string {
  const esc = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  return [
    `# Compliance report (${r.period})`,
    '',
    `- **Generated:** ${r.generatedAt}`,
    `- **GDPR status:** ${r.gdpr.status}`,
    `- **Audit trail:** ${r.auditTrail.ok ? 'verifies' : `FAILS: ${r.auditTrail.problemCount} problem(s)`}, ${r.auditTrail.entries} entries`,
    '',
    '## Checks',
    '',
    '| Check | OK | Detail |',
    '| --- | --- | --- |',
    ...r.gdpr.checks.map((c) => `| ${c.id} | ${c.ok ? 'yes' : 'no'} | ${esc(c.detail)} |`),
    '',
    '## Data residency',
    '',
    '| Data | Where | Region | Basis |',
    '| --- | --- | --- | --- |',
    ...r.residency.entries.map((e) => `| ${esc(e.data)} | ${esc(e.where)} | ${e.region ?? '-'} | ${esc(e.basis)} |`),
    '',
    `## PII detections (${r.pii.window})`,
    '',
    '```json',
    JSON.stringify(r.pii, null, 2),
    '```',
    '',
  ].join('\n');
}

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
        "a compliance report from the service's measured answers: GDPR status, data residency, PII detections over the period and the audit trail's verification (GET …/compliance/gdpr/status, …/gdpr/residency, …/pii/status, …/audit-trail/verify); exit 1 on a violation or a trail that does not verify",
      )
      .addOption(new Option('--period <period>', 'the PII window').choices(['daily', 'weekly']).default('weekly'))
      .addOption(new Option('--format <format>', 'the file format').choices(['json', 'markdown']).default('json'))
      .option('--output <file>', 'write the report to a file (default: stdout)')
      .action(
        act(async (o: { period: string; format: string; output?: string }, cmd: Command) => {
          const client = await ctx.client(cmd);
          const [gdpr, residency, pii, auditTrail] = await Promise.all([
            client.get<GdprStatus>(`${admin}/compliance/gdpr/status`),
            client.get<Residency>(`${admin}/compliance/gdpr/residency`),
            client.get<PiiStatus>(`${admin}/compliance/pii/status`, { query: { window: piiWindows[o.period] } }),
            client.get<TrailVerification>(`${admin}/audit-trail/verify`),
          ]);
          const report = { generatedAt: new Date().toISOString(), period: o.period, gdpr: gdpr.body, residency: residency.body, pii: { ...pii.body, window: piiWindows[o.period] ?? '7d' }, auditTrail: auditTrail.body };
          const text = o.format === 'markdown' ? reportMarkdown(report) : `${JSON.stringify(report, null, 2)}\n`;
          const code = report.gdpr.status === 'compliant' && report.auditTrail.ok ? exitCodes.ok : exitCodes.failed;
          if (o.output === undefined) {
            ctx.print(text);
            return code;
          }
          await writeFile(o.output, text).catch((err: NodeJS.ErrnoException) => {
            throw new CommandError(`cannot write ${o.output}: ${err.code ?? err.message}`);
          });
          const summary = { output: o.output, format: o.format, gdpr: report.gdpr.status, auditTrailOk: report.auditTrail.ok };
          ctx.emit(cmd, summary, () => `wrote the ${o.period} compliance report (${o.format}) to ${o.output}: GDPR ${ctx.style.status(report.gdpr.status)}, audit trail ${report.auditTrail.ok ? ctx.style.status('ok') : ctx.style.status('fail')}\n`);
          return code;
        }),
      ),
    'bsm compliance report --period weekly --format markdown --output compliance.md',
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
