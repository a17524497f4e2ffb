import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { TrailVerificationReport } from '../../src/domain/audit-trail/service.js';
import { piiSelfTest } from '../../src/domain/compliance/gdpr-status.js';
import { buildComplianceReport, complianceReportSchema, type ComplianceReportInput } from '../../src/domain/compliance/report.js';
import { exportComplianceReport } from '../../src/domain/compliance/report-export.js';
import { regionsOf } from '../../src/domain/llm/call-audit.js';
import type { RoutingDecision } from '../../src/domain/llm/ports.js';
import { checkResidency } from '../../src/domain/llm/residency.js';

const at = new Date('2026-11-29T07:00:00.000Z');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

const verification: TrailVerificationReport = {
  scope: 'all',
  ok: true,
  verifiedAt: at.toISOString(),
  entries: 10,
  firstSeq: 1,
  lastSeq: 10,
  anchor: { seq: 0, hash: '0'.repeat(64) },
  head: { seq: 10, hash: 'a'.repeat(64) },
  checkpoint: null,
  checkpointsChecked: 0,
  firstProblem: null,
  problems: [],
  problemCount: 0,
  durationMs: 3,
  entriesPerSecond: 3333,
};

function decision(over: Partial<RoutingDecision>): RoutingDecision {
  return {
    id: 'd',
    at: at.getTime() - 1000,
    component: 'bedrock-support',
    operation: 'standard',
    task: 'assist',
    primary: 'direct',
    fallback: 'mcp',
    path: 'direct',
    reason: 'primary',
    fallbackUsed: false,
    latencyMs: 100,
    budgetMs: 5000,
    withinBudget: true,
    inputTokens: 100,
    outputTokens: 10,
    tokensEstimated: false,
    costUsd: 0.001,
    priceKnown: true,
    model: 'm1',
    outcome: 'success',
    attempts: [],
    promptChars: 10,
    promptExcerpt: 'x',
    redactions: {},
    injectionMarkers: [],
    ...over,
  };
}

function input(over: Partial<ComplianceReportInput> = {}): ComplianceReportInput {
  return {
    id: 'compliance-report-1',
    period: 'weekly',
    includeDetails: true,
    format: 'json',
    requestedBy: 'ops',
    gdpr: { residency: [{ path: 'direct', verdict: checkResidency('eu-central-1', { allowNonEu: false, extraAllowed: [] }) }], selfTest: piiSelfTest(), retention: [], archiveUrl: 'file:///tmp/a' },
    verification,
    dailyChecks: { results: [], unreadable: 0 },
    pii: { days: [{ day: '2026-11-29', counts: { EMAIL: 2 } }, { day: '2026-11-28', counts: { EMAIL: 1, IPV4: 4 } }], firstDay: '2026-11-22' },
    decisions: [decision({}), decision({ model: 'm2', costUsd: 0.002 }), decision({ path: null, outcome: 'error', model: null, inputTokens: 0, outputTokens: 0, costUsd: 0 }), decision({ path: 'local', model: 'local', costUsd: 0 })],
    regionOf: regionsOf({ region: 'eu-central-1' }),
    spend: { days: ['2026-11-29'], calls: 2, inputTokens: 200, outputTokens: 20, costUsd: 0.003, unpricedCalls: 1 },
    ...over,
  };
}

describe('the compliance report', () => {
  it('adds up PII and LLM usage by path and region, and derives recommendations from the findings', () => {
    const r = complianceReportSchema.parse(buildComplianceReport(input(), at));
    expect(r.period).toEqual({ name: 'weekly', from: '2026-11-22T07:00:00.000Z', to: at.toISOString() });
    expect(r.pii).toMatchObject({ detections: { EMAIL: 3, IPV4: 4 }, totalDetections: 7 });
    expect(r.llm.byPath.map((p) => [p.path, p.region, p.requests, p.inputTokens, p.costUsd, p.outcomes])).toEqual([
      ['direct', 'eu-central-1', 2, 200, 0.003, { success: 2 }],
      ['local', null, 1, 100, 0, { success: 1 }],
      ['none', null, 1, 0, 0, { error: 1 }],
    ]);
    expect(r.llm.byPath[0]?.models?.map((m) => m.model)).toEqual(['m1', 'm2']);
    expect(r.llm.totals).toEqual({ requests: 4, inputTokens: 300, outputTokens: 30, costUsd: 0.003 });
    expect(r.status).toBe('compliant');
    expect(r.recommendations.map((x) => x.topic)).toEqual(['daily-check', 'llm.cost', 'llm.availability']);
  });

  it('names each violation with its severity, now and from the daily checks of the period', () => {
    const r = buildComplianceReport(
      input({
        gdpr: { ...input().gdpr, residency: [{ path: 'direct', verdict: checkResidency('us-east-1', { allowNonEu: false, extraAllowed: [] }) }], archiveUrl: 's3://bucket/x' },
        verification: { ...verification, ok: false, problemCount: 2, firstProblem: { part: 'integrity', code: 'hash_mismatch', seq: 4, streamId: '1-0', checkpoint: null, detail: 'content changed' } },
        dailyChecks: {
          results: [{ at: '2026-11-28T06:00:01.000Z', body: { checkedAt: '2026-11-28T06:00:00.000Z', status: 'non_compliant', items: [{ id: 'gdpr.retention', status: 'fail', detail: 'kept 3000 h' }, { id: 'audit-trail.integrity', status: 'pass', detail: 'ok' }] } }],
          unreadable: 0,
        },
        decisions: [],
      }),
      at,
    );
    expect(r.status).toBe('violation');
    expect(r.violations.map((v) => [v.check, v.severity, v.source])).toEqual([
      ['llm.residency', 'critical', 'now'],
      ['audit-trail.integrity', 'critical', 'now'],
      ['archive.location', 'high', 'now'],
      ['gdpr.retention', 'high', 'daily-check'],
    ]);
    expect(r.auditTrail.firstProblem).toBe('2 problem(s), first at seq 4 hash_mismatch: content changed');
    expect(r.recommendations.filter((x) => x.priority === 'high').map((x) => x.topic)).toEqual(['llm.residency', 'audit-trail.integrity']);
    expect(r.dailyChecks).toEqual({ runs: 1, nonCompliant: 1, unreadable: 0 });
  });

  it('without details leaves out the measured values, PII by day and usage by model', () => {
    const r = buildComplianceReport(input({ includeDetails: false }), at);
    expect(r.checks.every((c) => !('measured' in c))).toBe(true);
    expect(r.pii.byDay).toBeUndefined();
    expect(r.llm.byPath.every((p) => p.models === undefined)).toBe(true);
  });
});

describe('the export hash', () => {
  // Strings that would break a careless rule: the JSON marker and the comment's closing line inside the content.
  const hostile = buildComplianceReport(input({ requestedBy: 'x,"report":{"a":1}}\n-->\n</pre><script>' }), at);

  it('json: recomputed over the bytes between the first `,"report":` and the last `}`, whatever the content holds', () => {
    const e = exportComplianceReport(hostile, 'json');
    const body = Buffer.from(e.body);
    const marker = Buffer.from(',"report":');
    const content = body.subarray(body.indexOf(marker) + marker.length, body.lastIndexOf('}'));
    expect(sha256(content)).toBe(e.sha256);
    const parsed = JSON.parse(e.body) as { metadata: { sha256: string }; report: unknown };
    expect(parsed.metadata.sha256).toBe(e.sha256);
    expect(parsed.report).toEqual(JSON.parse(JSON.stringify(hostile)));
  });

  it('markdown and html: recomputed over the bytes after the first line `-->`; the content cannot hold such a line', () => {
    for (const format of ['markdown', 'html'] as const) {
      const e = exportComplianceReport(hostile, format);
      const lines = e.body.split('\n');
      const end = lines.indexOf('-->');
      expect(lines.slice(end + 1).includes('-->'), format).toBe(false);
      expect(sha256(lines.slice(end + 1).join('\n')), format).toBe(e.sha256);
      expect(e.body).toContain(`sha256: ${e.sha256}`);
      expect(e.body).not.toContain('<script>');
      // The same report gives the same bytes; a changed one another hash.
      expect(exportComplianceReport(hostile, format).sha256).toBe(e.sha256);
      expect(exportComplianceReport({ ...hostile, status: 'violation' }, format).sha256).not.toBe(e.sha256);
    }
  });
});
