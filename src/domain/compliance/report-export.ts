/**
 * The compliance report as an auditor downloads it (`GET …/compliance/export`), in JSON, Markdown
 * or HTML, with the SHA-256 of its content in the body's metadata and in a response header.
 *
 * What is hashed, exactly (so it can be recomputed from the file alone, with standard tools):
 * - `json`: the body is `{"metadata":{…},"report":<content>}` plus a newline. The hash is over the
 *   UTF-8 bytes of `<content>` as written: from the byte after the first `,"report":` to the byte
 *   before the body's last `}`. (`,"report":` cannot occur earlier: the metadata has no such key,
 *   and inside a JSON string a quote is always escaped.)
 * - `markdown` and `html`: the body opens with an HTML comment holding the metadata, closed by a
 *   line that is exactly `-->`. The hash is over the UTF-8 bytes after that line (after its
 *   newline) to the end of the body: `sed '1,/^-->$/d' report.md | sha256sum`.
 * The content is rendered from the stored report alone, so every export of one report in one
 * format has the same bytes and the same hash.
 */
import { createHash } from 'node:crypto';
import { viewHtml } from '../audit/export-html.js';
import { viewMarkdown } from '../audit/export-markdown.js';
import type { Block, Cell, ReportView, Tone } from '../audit/export-view.js';
import type { ComplianceReport, ReportFormat } from './report.js';

/** A compliance report as a file to download. */
export interface ExportedComplianceReport {
  body: string;
  contentType: string;
  fileName: string;
  /** SHA-256 (hex) of the content part of the body (see the module comment). */
  sha256: string;
  /** Which bytes `sha256` covers, as the body's metadata says it. */
  hashed: string;
}

/** The header that carries the content's SHA-256 (hex). */
export const contentHashHeader = 'X-Content-SHA256';

export const hashedJson = 'SHA-256 over the UTF-8 bytes of the "report" value exactly as written in this body: from the byte after the first `,"report":` to the byte before the last `}`';
export const hashedText = 'SHA-256 over the UTF-8 bytes after the line "-->" that closes this comment, to the end of the file';

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const statusTone = (ok: boolean): Tone => (ok ? 'ok' : 'bad');
const money = (usd: number) => `$${usd.toFixed(6)}`;
const counts = (record: Record<string, number>) =>
  Object.entries(record)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`)
    .join(', ') || 'none';
const cells = (...texts: (string | number | Cell)[]): Cell[] => texts.map((t) => (typeof t === 'object' ? t : { text: String(t) }));

/** What a reader sees of the report, as blocks the audit exports' renderers write. */
export function complianceView(r: ComplianceReport): ReportView {
  const blocks: Block[] = [
    {
      kind: 'facts',
      items: [
        { label: 'Status', value: r.status, tone: r.status === 'compliant' ? 'ok' : 'bad' },
        { label: 'Period', value: `${r.period.name}: ${r.period.from} to ${r.period.to}` },
        { label: 'Generated', value: r.generatedAt },
        { label: 'Requested by', value: r.requestedBy },
        { label: 'Details', value: r.includeDetails ? 'included' : 'summary only' },
      ],
    },
    { kind: 'heading', level: 2, text: 'GDPR checks (measured when the report was made)' },
    {
      kind: 'table',
      name: 'checks',
      columns: r.includeDetails ? ['Check', 'Result', 'Detail', 'Measured'] : ['Check', 'Result', 'Detail'],
      rows: r.checks.map((c) =>
        cells(c.id, { text: c.ok ? 'pass' : 'FAIL', tone: statusTone(c.ok) }, c.detail, ...(r.includeDetails ? [JSON.stringify(c.measured ?? {})] : [])),
      ),
    },
    { kind: 'heading', level: 2, text: 'Violations' },
    r.violations.length === 0
      ? { kind: 'paragraph', text: 'None: every check passed, now and in the daily checks of the period.' }
      : {
          kind: 'table',
          name: 'violations',
          columns: ['Check', 'Severity', 'Found', 'At', 'Detail'],
          rows: r.violations.map((v) => cells(v.check, { text: v.severity, tone: v.severity === 'critical' ? 'critical' : 'bad' }, v.source === 'now' ? 'now' : 'daily check', v.at, v.detail)),
        },
    { kind: 'heading', level: 2, text: 'Daily compliance checks in the period' },
    {
      kind: 'facts',
      items: [
        { label: 'Runs', value: String(r.dailyChecks.runs), tone: r.dailyChecks.runs === 0 ? 'warn' : 'ok' },
        { label: 'Non-compliant', value: String(r.dailyChecks.nonCompliant), tone: r.dailyChecks.nonCompliant === 0 ? 'ok' : 'bad' },
        ...(r.dailyChecks.unreadable > 0 ? [{ label: 'Unreadable (older shape)', value: String(r.dailyChecks.unreadable), tone: 'warn' as const }] : []),
      ],
    },
    { kind: 'heading', level: 2, text: 'PII detections' },
    {
      kind: 'facts',
      items: [
        { label: 'Covers', value: `${r.pii.from} to ${r.pii.to} (${r.pii.detail})` },
        { label: 'Detections', value: `${r.pii.totalDetections}: ${counts(r.pii.detections)}` },
        { label: 'Redaction self-test', value: r.pii.selfTest.detail, tone: statusTone(r.pii.selfTest.ok) },
      ],
    },
    ...(r.pii.byDay ? [{ kind: 'table' as const, name: 'pii-by-day', columns: ['Day', 'Detections'], rows: r.pii.byDay.map((d) => cells(d.day, counts(d.counts))) }] : []),
    { kind: 'heading', level: 2, text: 'Audit trail verification' },
    {
      kind: 'facts',
      items: [
        { label: 'Result', value: r.auditTrail.ok ? 'verified' : `FAILED: ${r.auditTrail.firstProblem ?? ''}`, tone: statusTone(r.auditTrail.ok) },
        { label: 'Entries', value: `${r.auditTrail.entries} (seq ${r.auditTrail.firstSeq ?? '-'} to ${r.auditTrail.lastSeq ?? '-'})` },
        { label: 'Checkpoints checked', value: String(r.auditTrail.checkpointsChecked) },
        { label: 'Verified at', value: `${r.auditTrail.verifiedAt} in ${r.auditTrail.durationMs} ms (${r.auditTrail.entriesPerSecond} entries/s)` },
      ],
    },
    { kind: 'heading', level: 2, text: 'LLM usage by path and region' },
    {
      kind: 'table',
      name: 'llm-usage',
      columns: ['Path', 'Region', 'Requests', 'Input tokens', 'Output tokens', 'Cost', 'Outcomes'],
      rows: [
        ...r.llm.byPath.map((p) => cells(p.path, p.region ?? '-', p.requests, p.inputTokens, p.outputTokens, money(p.costUsd), counts(p.outcomes))),
        cells('total', '', r.llm.totals.requests, r.llm.totals.inputTokens, r.llm.totals.outputTokens, money(r.llm.totals.costUsd), ''),
      ],
    },
    ...(r.includeDetails
      ? [
          {
            kind: 'table' as const,
            name: 'llm-models',
            columns: ['Path', 'Model', 'Requests', 'Input tokens', 'Output tokens', 'Cost'],
            rows: r.llm.byPath.flatMap((p) => (p.models ?? []).map((m) => cells(p.path, m.model, m.requests, m.inputTokens, m.outputTokens, money(m.costUsd)))),
          },
        ]
      : []),
    {
      kind: 'facts',
      items: [
        { label: 'Spend recorded', value: `${r.llm.spend.calls} calls, ${r.llm.spend.inputTokens} input and ${r.llm.spend.outputTokens} output tokens, ${money(r.llm.spend.costUsd)} (UTC days ${r.llm.spend.days.at(-1) ?? '-'} to ${r.llm.spend.days[0] ?? '-'})` },
        ...(r.llm.spend.unpricedCalls > 0 ? [{ label: 'Unpriced calls', value: String(r.llm.spend.unpricedCalls), tone: 'warn' as const }] : []),
      ],
    },
    { kind: 'paragraph', text: r.llm.detail },
    { kind: 'heading', level: 2, text: 'Recommendations' },
    r.recommendations.length === 0
      ? { kind: 'paragraph', text: 'None: nothing in the findings calls for action.' }
      : {
          kind: 'table',
          name: 'recommendations',
          columns: ['Priority', 'Topic', 'Recommendation'],
          rows: r.recommendations.map((x) => cells({ text: x.priority, tone: x.priority === 'high' ? 'bad' : x.priority === 'medium' ? 'warn' : 'info' }, x.topic, x.text)),
        },
  ];
  return { title: `Compliance report ${r.id}`, blocks };
}

/** A report id as part of a file name (ids are `compliance-report-…`; anything else becomes `_`). */
function fileStem(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'compliance-report';
}

/** The metadata comment of the Markdown and HTML exports. Its values are ids, times and hex: none can hold a line `-->`. */
function metadataComment(r: ComplianceReport, format: ReportFormat, hash: string): string {
  return [
    '<!--',
    `compliance-report: ${fileStem(r.id)}`,
    `period: ${r.period.name} ${r.period.from} ${r.period.to}`,
    `generated: ${r.generatedAt}`,
    `format: ${format}`,
    'algorithm: SHA-256',
    `sha256: ${hash}`,
    `hashed: ${hashedText}`,
    '-->',
    '',
  ].join('\n');
}

/** The report as a file in `format`, with the SHA-256 of its content (see the module comment for the bytes). */
export function exportComplianceReport(report: ComplianceReport, format: ReportFormat): ExportedComplianceReport {
  const stem = fileStem(report.id);
  switch (format) {
    case 'json': {
      const content = JSON.stringify(report, null, 2);
      const hash = sha256(content);
      const metadata = { reportId: report.id, period: report.period, generatedAt: report.generatedAt, format, algorithm: 'SHA-256', sha256: hash, hashed: hashedJson };
      return { body: `{"metadata":${JSON.stringify(metadata)},"report":${content}}\n`, contentType: 'application/json; charset=utf-8', fileName: `${stem}.json`, sha256: hash, hashed: hashedJson };
    }
    case 'markdown':
    case 'html': {
      const content = format === 'markdown' ? viewMarkdown(complianceView(report)) : viewHtml(complianceView(report));
      const hash = sha256(content);
      return {
        body: `${metadataComment(report, format, hash)}${content}`,
        contentType: format === 'markdown' ? 'text/markdown; charset=utf-8' : 'text/html; charset=utf-8',
        fileName: `${stem}.${format === 'markdown' ? 'md' : 'html'}`,
        sha256: hash,
        hashed: hashedText,
      };
    }
  }
}
