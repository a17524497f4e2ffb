/**
 * The audit report's export formats, as `GET …/audit/{id}/export?format=` serves them: each
 * format is a whole file (body, content type, file name), made from the stored report alone.
 */
import { findingsCsv } from './export-csv.js';
import { reportHtml } from './export-html.js';
import { reportMarkdown } from './export-markdown.js';
import type { AuditReport } from './report.js';

/** The formats `?format=` accepts. */
export const exportFormats = ['json', 'markdown', 'html', 'csv'] as const;
export type ExportFormat = (typeof exportFormats)[number];

/** A report as a file to download. */
export interface ExportedReport {
  body: string;
  /** With its charset: every body is UTF-8. */
  contentType: string;
  /** The audit id, with any character outside `A-Z a-z 0-9 . _ -` made `_`, and the format's extension. */
  fileName: string;
}

/** A file name from the audit id: ids are `audit-…`, but the report schema does not promise it, and this name goes into a header. */
function fileStem(auditId: string): string {
  return auditId.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '') || 'audit';
}

/**
 * The report as a file: `json` (the report itself, pretty), `markdown` (to read: facts, score,
 * trend, targets, gaps by severity, recommendations, narrative), `html` (the same, as one file
 * that reads offline) or `csv` (one row per finding, see `export-csv.ts`).
 */
export function exportReport(report: AuditReport, format: ExportFormat): ExportedReport {
  const stem = fileStem(report.auditId);
  switch (format) {
    case 'json':
      return { body: `${JSON.stringify(report, null, 2)}\n`, contentType: 'application/json; charset=utf-8', fileName: `${stem}.json` };
    case 'markdown':
      return { body: reportMarkdown(report), contentType: 'text/markdown; charset=utf-8', fileName: `${stem}.md` };
    case 'html':
      return { body: reportHtml(report), contentType: 'text/html; charset=utf-8', fileName: `${stem}.html` };
    case 'csv':
      return { body: findingsCsv(report), contentType: 'text/csv; charset=utf-8', fileName: `${stem}-findings.csv` };
  }
}
