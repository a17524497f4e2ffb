/**
 * The audit report as one HTML file that reads offline: inline CSS, no script, nothing fetched
 * (no URL in any attribute, system fonts). Every string from the report is escaped, and a
 * Content-Security-Policy that allows nothing but the inline style backs that up.
 */
import { reportView, type Block, type ReportView, type Tone } from './export-view.js';
import type { AuditReport } from './report.js';

/** Text and attribute values: the five characters that can end one or start markup. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const toneClass = (tone: Tone | undefined) => (tone === undefined ? '' : ` class="tone-${tone}"`);

const style = `
:root { color-scheme: light; --ok: #1a7f37; --info: #0969da; --warn: #9a6700; --bad: #cf222e; --critical: #82071e; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1f2328; background: #fff; }
main { max-width: 1200px; margin: 0 auto; padding: 24px; }
h1 { font-size: 1.6em; margin: 0 0 16px; overflow-wrap: break-word; }
h2 { font-size: 1.3em; margin: 32px 0 8px; border-bottom: 1px solid #d0d7de; padding-bottom: 4px; }
h3 { font-size: 1.1em; margin: 20px 0 8px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: break-word; }
/* A long value that cannot wrap (a URL) scrolls its table, not the page. */
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; white-space: nowrap; }
td { white-space: pre-wrap; overflow-wrap: break-word; }
tbody tr:nth-child(even) { background: #fafbfc; }
blockquote { margin: 0; padding: 8px 16px; border-left: 4px solid #d0d7de; white-space: pre-wrap; }
.tone-ok { color: var(--ok); font-weight: 600; }
.tone-info { color: var(--info); }
.tone-warn { color: var(--warn); font-weight: 600; }
.tone-bad { color: var(--bad); font-weight: 600; }
.tone-critical { color: #fff; background: var(--critical); font-weight: 700; }
h3.tone-critical { display: inline-block; padding: 2px 8px; border-radius: 4px; }
@media print { main { max-width: none; padding: 0; } .scroll { overflow: visible; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
`;

function render(block: Block): string {
  switch (block.kind) {
    case 'heading':
      return `<h${block.level}${toneClass(block.tone)}>${escapeHtml(block.text)}</h${block.level}>`;
    case 'facts':
      return `<dl class="facts">\n${block.items.map((f) => `<dt>${escapeHtml(f.label)}</dt><dd${toneClass(f.tone)}>${escapeHtml(f.value)}</dd>`).join('\n')}\n</dl>`;
    case 'table': {
      const head = `<thead><tr>${block.columns.map((c) => `<th scope="col">${escapeHtml(c)}</th>`).join('')}</tr></thead>`;
      const body = block.rows.map((r) => `<tr>${r.map((c) => `<td${toneClass(c.tone)}>${escapeHtml(c.text)}</td>`).join('')}</tr>`).join('\n');
      return `<div class="scroll"><table id="${escapeHtml(block.name)}">\n${head}\n<tbody>\n${body}\n</tbody>\n</table></div>`;
    }
    case 'paragraph':
      return `<p>${escapeHtml(block.text)}</p>`;
    case 'quote':
      return `<blockquote>${escapeHtml(block.text)}</blockquote>`;
  }
}

export function reportHtml(report: AuditReport): string {
  return viewHtml(reportView(report));
}

/** Any report view as one self-contained HTML file (the compliance report, the daily check and the weekly review use it too). */
export function viewHtml(view: ReportView): string {
  const title = escapeHtml(view.title);
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${title}</title>`,
    `<style>${style}</style>`,
    '</head>',
    '<body>',
    '<main>',
    `<h1>${title}</h1>`,
    ...view.blocks.map(render),
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
