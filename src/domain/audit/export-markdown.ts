/**
 * The audit report as Markdown (CommonMark with GitHub tables), readable as plain text and
 * rendered. The report's strings come partly from the probed systems, so each one is escaped:
 * it shows as what it is and cannot make a link, a tag, or a new table cell or row.
 */
import { reportView, type Block, type ReportView } from './export-view.js';
import type { AuditReport } from './report.js';

/**
 * Inline text: a backslash before each character that could start markup a reader did not
 * write (`|` would split a table cell, `<` open an HTML tag, `[` a link, `` ` `` `*` emphasis or
 * code, `&` an entity), and every line break as `<br>`, which keeps a table row on one line.
 * `_` is left alone: inside words it is no emphasis, and ids and gap types are full of it.
 */
export function markdownInline(text: string): string {
  return text.replace(/[\\`*[\]<>&|]/g, '\\$&').replace(/\r\n|\r|\n/g, '<br>');
}

function render(block: Block): string[] {
  switch (block.kind) {
    case 'heading':
      return [`${'#'.repeat(block.level)} ${markdownInline(block.text)}`];
    case 'facts':
      return block.items.map((f) => `- **${markdownInline(f.label)}:** ${markdownInline(f.value)}`);
    case 'table': {
      const row = (cells: string[]) => `| ${cells.map(markdownInline).join(' | ')} |`;
      return [row(block.columns), `|${block.columns.map(() => ' --- |').join('')}`, ...block.rows.map((r) => row(r.map((c) => c.text)))];
    }
    case 'paragraph':
      return [markdownInline(block.text)];
    case 'quote':
      return block.text.split(/\r\n|\r|\n/).map((line) => (line === '' ? '>' : `> ${markdownInline(line)}`));
  }
}

export function reportMarkdown(report: AuditReport): string {
  return viewMarkdown(reportView(report));
}

/** Any report view as Markdown (the compliance report, the daily check and the weekly review use it too). */
export function viewMarkdown(view: ReportView): string {
  return `${[`# ${markdownInline(view.title)}`, ...view.blocks.map((b) => render(b).join('\n'))].join('\n\n')}\n`;
}
