/**
 * An audit's findings as CSV, one row per finding, for a spreadsheet or a ticket import.
 * A finding is an unmet expectation of a target (`unmet_check`), a probe that could not run
 * (`probe_error`: no expectation was checked, so it would otherwise not show), or a gap the
 * audit reports (`gap`). A check row names the gap it makes, so the two join on `gap_id`.
 */
import type { AuditReport, ReportGap, TargetResult } from './report.js';

/** The columns, in order: the header row. */
export const findingColumns = [
  'audit_id',
  'finding',
  'target_id',
  'kind',
  'component',
  'criticality',
  'target_status',
  'check',
  'title',
  'gap_id',
  'gap_type',
  'severity',
  'gap_status',
  'change',
  'expected',
  'observed',
  'count',
  'first_seen',
  'last_seen',
] as const;
export type FindingColumn = (typeof findingColumns)[number];

/** What a row is about: see the module's comment. */
export type FindingKind = 'unmet_check' | 'probe_error' | 'gap';

/** One finding; absent columns are empty cells. */
export type FindingRow = Partial<Record<FindingColumn, string | number>> & { finding: FindingKind };

function targetColumns(report: AuditReport, t: TargetResult): FindingRow {
  return { finding: 'unmet_check', audit_id: report.auditId, target_id: t.id, kind: t.kind, component: t.component, criticality: t.criticality, target_status: t.status };
}

/** The gap an unmet check made: an audit gap's subject is the target, its check the observation's. */
function gapOf(report: AuditReport, t: TargetResult, check: string, type: ReportGap['type']): ReportGap | undefined {
  return report.gaps.find((g) => g.subject === t.id && g.check === check && g.type === type);
}

/** The findings in report order: each target's unmet checks (and probe error), then the gaps. */
export function findingRows(report: AuditReport): FindingRow[] {
  const rows: FindingRow[] = [];
  for (const t of report.targets) {
    if (t.status === 'error') {
      const why = t.error ?? (t.reach.reachable ? '' : `${t.reach.cause}: ${t.reach.detail}`);
      rows.push({ ...targetColumns(report, t), finding: 'probe_error', title: 'The probe could not run', observed: why });
    }
    for (const o of t.observations.filter((x) => !x.met)) {
      const gap = gapOf(report, t, o.check, o.gapType);
      rows.push({
        ...targetColumns(report, t),
        check: o.check,
        title: o.title,
        gap_id: gap?.id,
        gap_type: o.gapType,
        severity: gap?.severity,
        expected: o.expected,
        observed: o.observed,
      });
    }
  }
  for (const g of report.gaps) {
    const t = report.targets.find((x) => x.id === g.subject);
    rows.push({
      finding: 'gap',
      audit_id: report.auditId,
      target_id: g.subject,
      kind: t?.kind,
      component: t?.component ?? g.components.join('; '),
      criticality: t?.criticality,
      target_status: t?.status,
      check: g.check,
      title: g.title,
      gap_id: g.id,
      gap_type: g.type,
      severity: g.severity,
      gap_status: g.status,
      change: g.change,
      expected: g.evidence.expected,
      observed: g.evidence.observed,
      count: g.count,
      first_seen: g.firstSeenAt,
      last_seen: g.lastSeenAt,
    });
  }
  return rows;
}

/**
 * One cell. Against CSV formula injection (OWASP): a spreadsheet runs a cell that starts with
 * `=`, `+`, `-` or `@` as a formula, and a leading tab or CR can hide such a start, so such a
 * cell gets a leading apostrophe, which spreadsheets show as text. The values come from the
 * probed systems (an HTTP body, a DNS answer): the file must not run what they say. The cost:
 * a cell such as `-3` reads `'-3`. Then RFC 4180: a cell with a comma, a quote, CR or LF is
 * quoted, its quotes doubled.
 */
export function csvCell(value: string | number | undefined): string {
  const text = value === undefined ? '' : String(value);
  const inert = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return /[",\r\n]/.test(inert) ? `"${inert.replaceAll('"', '""')}"` : inert;
}

/** The findings as RFC 4180 CSV: a header row, CRLF after every record (the last one too), UTF-8 without a byte-order mark. */
export function findingsCsv(report: AuditReport): string {
  const records = [findingColumns.map((c) => csvCell(c)), ...findingRows(report).map((row) => findingColumns.map((c) => csvCell(row[c])))];
  return records.map((cells) => `${cells.join(',')}\r\n`).join('');
}
