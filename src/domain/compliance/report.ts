/**
 * The compliance report of the runbook's "Compliance Reporting": every GDPR check measured when
 * the report is made (the same checks as `GET …/compliance/gdpr/status`), the violations, the
 * daily compliance checks of the period, PII detections over the period, the audit trail's full
 * verification, LLM usage over the period by path and region, and recommendations derived from
 * those findings. Pure: the job gathers the measurements and hands them in.
 */
import { z } from 'zod';
import type { TrailVerificationReport } from '../audit-trail/service.js';
import type { RegionOf } from '../llm/call-audit.js';
import type { RoutingDecision } from '../llm/ports.js';
import { euRegions } from '../llm/residency.js';
import type { ComplianceCheckResult } from './daily-check.js';
import { buildGdprStatus, gdprCheckSchema, type GdprStatusInput } from './gdpr-status.js';

export const reportPeriods = ['daily', 'weekly', 'monthly'] as const;
export type ReportPeriod = (typeof reportPeriods)[number];
/** How far back each period reaches from the moment the report is made. Monthly is 30 days: the routing decisions are kept that long. */
export const periodHours: Record<ReportPeriod, number> = { daily: 24, weekly: 7 * 24, monthly: 30 * 24 };

export const reportFormats = ['json', 'markdown', 'html'] as const;
export type ReportFormat = (typeof reportFormats)[number];

/** The checks whose failure is critical (they block LLM calls, issue 14); the others are high. */
const criticalChecks = new Set(['llm.residency', 'pii.redaction', 'audit-trail.integrity']);

const usageTotals = z.object({
  requests: z.number().int(),
  inputTokens: z.number().int(),
  outputTokens: z.number().int(),
  costUsd: z.number(),
});

export const complianceReportSchema = z.object({
  id: z.string(),
  generatedAt: z.string(),
  period: z.object({ name: z.enum(reportPeriods), from: z.string(), to: z.string() }),
  includeDetails: z.boolean(),
  /** The format asked for when the report was requested: the export's default. */
  format: z.enum(reportFormats),
  requestedBy: z.string(),
  status: z.enum(['compliant', 'violation']),
  /** Every GDPR check, measured when the report was made; `measured` only with details. */
  checks: z.array(gdprCheckSchema.extend({ measured: gdprCheckSchema.shape.measured.optional() })),
  violations: z.array(z.object({ check: z.string(), severity: z.enum(['critical', 'high']), detail: z.string(), source: z.enum(['now', 'daily-check']), at: z.string() })),
  /** The daily compliance checks that ran in the period (stored results of the `compliance-check` job). */
  dailyChecks: z.object({ runs: z.number().int(), nonCompliant: z.number().int(), unreadable: z.number().int() }),
  pii: z.object({
    from: z.string(),
    to: z.string(),
    detail: z.string(),
    detections: z.record(z.string(), z.number().int()),
    totalDetections: z.number().int(),
    byDay: z.array(z.object({ day: z.string(), counts: z.record(z.string(), z.number().int()) })).optional(),
    selfTest: z.object({ ok: z.boolean(), failed: z.array(z.string()), detail: z.string() }),
  }),
  auditTrail: z.object({
    ok: z.boolean(),
    verifiedAt: z.string(),
    entries: z.number().int(),
    firstSeq: z.number().int().nullable(),
    lastSeq: z.number().int().nullable(),
    checkpointsChecked: z.number().int(),
    problemCount: z.number().int(),
    firstProblem: z.string().nullable(),
    durationMs: z.number(),
    entriesPerSecond: z.number(),
  }),
  llm: z.object({
    /** Routing decisions (one per request) made in the period, grouped by the path that answered and its region. */
    byPath: z.array(
      usageTotals.extend({
        path: z.string(),
        region: z.string().nullable(),
        outcomes: z.record(z.string(), z.number().int()),
        models: z.array(usageTotals.extend({ model: z.string() })).optional(),
      }),
    ),
    totals: usageTotals,
    /** Spend recorded per UTC day (answered remote calls and pings), over the days the period touches. */
    spend: z.object({ days: z.array(z.string()), calls: z.number().int(), inputTokens: z.number().int(), outputTokens: z.number().int(), costUsd: z.number(), unpricedCalls: z.number().int() }),
    detail: z.string(),
  }),
  recommendations: z.array(z.object({ priority: z.enum(['high', 'medium', 'low']), topic: z.string(), text: z.string() })),
});
export type ComplianceReport = z.infer<typeof complianceReportSchema>;

/** What the job measured for one report. */
export interface ComplianceReportInput {
  id: string;
  period: ReportPeriod;
  includeDetails: boolean;
  format: ReportFormat;
  requestedBy: string;
  /** The GDPR status's inputs, measured now (`auditTrail` from `verification`). */
  gdpr: Omit<GdprStatusInput, 'auditTrail'>;
  verification: TrailVerificationReport;
  dailyChecks: { results: { at: string; body: ComplianceCheckResult }[]; unreadable: number };
  pii: { days: { day: string; counts: Record<string, number> }[]; firstDay: string };
  decisions: readonly RoutingDecision[];
  /** Where a path has prompts processed (null: not declared, or the local provider). */
  regionOf: RegionOf;
  spend: { days: string[]; calls: number; inputTokens: number; outputTokens: number; costUsd: number; unpricedCalls: number };
}

const hourMs = 3_600_000;
const round6 = (n: number) => Math.round(n * 1e6) / 1e6;
const sumCounts = (counts: Record<string, number>) => Object.values(counts).reduce((a, b) => a + b, 0);

/** The start of the period that ends at `to`. */
export function periodStart(period: ReportPeriod, to: Date): Date {
  return new Date(to.getTime() - periodHours[period] * hourMs);
}

/** The first UTC day the period touches, and how many days from it to `to` (both included): the PII counter and the spend keep whole UTC days. */
export function periodDays(from: Date, to: Date): { firstDay: Date; days: number } {
  const firstDay = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth(), from.getUTCDate()));
  return { firstDay, days: Math.floor((to.getTime() - firstDay.getTime()) / (24 * hourMs)) + 1 };
}

function verificationLine(v: TrailVerificationReport): string | null {
  const first = v.firstProblem;
  if (!first) {
    return null;
  }
  return `${v.problemCount} problem(s), first ${first.seq === null ? '' : `at seq ${first.seq} `}${first.code}: ${first.detail}`;
}

function llmUsage(input: ComplianceReportInput): ComplianceReport['llm'] {
  type Row = ComplianceReport['llm']['byPath'][number] & { modelRows: Map<string, z.infer<typeof usageTotals> & { model: string }> };
  const rows = new Map<string, Row>();
  const totals = { requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  for (const d of input.decisions) {
    const path = d.path ?? 'none';
    const row: Row = rows.get(path) ?? { path, region: d.path === null ? null : input.regionOf(d.path), requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0, outcomes: {}, modelRows: new Map() };
    for (const target of [row, totals]) {
      target.requests += 1;
      target.inputTokens += d.inputTokens;
      target.outputTokens += d.outputTokens;
      target.costUsd += d.costUsd;
    }
    row.outcomes[d.outcome] = (row.outcomes[d.outcome] ?? 0) + 1;
    const model = d.model ?? '(none)';
    const m = row.modelRows.get(model) ?? { model, requests: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
    m.requests += 1;
    m.inputTokens += d.inputTokens;
    m.outputTokens += d.outputTokens;
    m.costUsd += d.costUsd;
    row.modelRows.set(model, m);
    rows.set(path, row);
  }
  const byPath = [...rows.values()]
    .sort((a, b) => b.requests - a.requests || a.path.localeCompare(b.path))
    .map(({ modelRows, ...row }) => ({
      ...row,
      costUsd: round6(row.costUsd),
      ...(input.includeDetails ? { models: [...modelRows.values()].map((m) => ({ ...m, costUsd: round6(m.costUsd) })).sort((a, b) => b.requests - a.requests || a.model.localeCompare(b.model)) } : {}),
    }));
  return {
    byPath,
    totals: { ...totals, costUsd: round6(totals.costUsd) },
    spend: { ...input.spend, costUsd: round6(input.spend.costUsd) },
    detail:
      'byPath: the routing decisions of the period (one per request, at most 50,000 and 30 days kept), by the path that answered (`none`: no path answered) and the region that path sends prompts to; ' +
      'spend: the spend counters of the UTC days the period touches (every answered remote call and auditor ping)',
  };
}

function recommendationsOf(report: Omit<ComplianceReport, 'recommendations'>): ComplianceReport['recommendations'] {
  const out: ComplianceReport['recommendations'] = [];
  const failed = new Set(report.checks.filter((c) => !c.ok).map((c) => c.id));
  if (failed.has('llm.residency')) {
    out.push({ priority: 'high', topic: 'llm.residency', text: 'Move every LLM path to an EU region (AWS_REGION, MCP_REGION, an "eu." inference profile in BEDROCK_MODEL_ID), or record the decision to leave EU residency (BSM_ALLOW_NON_EU_REGION, BSM_EXTRA_ALLOWED_REGIONS)' });
  }
  if (failed.has('pii.redaction')) {
    out.push({ priority: 'high', topic: 'pii.redaction', text: `Fix the PII redactor before any further LLM call: the self-test did not redact ${report.pii.selfTest.failed.join(', ')}` });
  }
  if (failed.has('audit-trail.integrity')) {
    out.push({
      priority: 'high',
      topic: 'audit-trail.integrity',
      text: `Investigate the audit trail (${report.auditTrail.firstProblem ?? 'verification failed'}): compare with the archive and the signed checkpoints (GET …/audit-trail/verify, bsm trail verify --archive)`,
    });
  }
  if (failed.has('retention')) {
    out.push({ priority: 'medium', topic: 'retention', text: 'Data is kept past its limit: check that the archive and cleanup jobs run (BSM_SCHEDULE_ARCHIVE) and that BullMQ removes finished jobs (BSM_KEEP_COMPLETED_HOURS, BSM_KEEP_FAILED_HOURS)' });
  }
  if (failed.has('archive.location')) {
    out.push({ priority: 'medium', topic: 'archive.location', text: 'Point BSM_ARCHIVE_URL at a local directory or a bucket in an EU region, named in the URL (?region=eu-…)' });
  }
  if (report.dailyChecks.runs === 0) {
    out.push({ priority: 'medium', topic: 'daily-check', text: 'No daily compliance check ran in the period: check BSM_SCHEDULE_COMPLIANCE_CHECK and that a process runs the compliance workers' });
  } else if (report.dailyChecks.nonCompliant > 0) {
    out.push({ priority: 'medium', topic: 'daily-check', text: `${report.dailyChecks.nonCompliant} of ${report.dailyChecks.runs} daily compliance checks in the period found a problem: see the violations from daily checks` });
  }
  const outsideEu = report.llm.byPath.filter((p) => p.region !== null && !(euRegions as readonly string[]).includes(p.region));
  if (outsideEu.length > 0) {
    out.push({
      priority: 'high',
      topic: 'llm.usage',
      text: `Requests in the period were answered outside the EU: ${outsideEu.map((p) => `${p.path} in ${p.region ?? '?'} (${p.requests})`).join(', ')}; confirm each was allowed and review what those prompts carried`,
    });
  }
  if (report.llm.spend.unpricedCalls > 0) {
    out.push({ priority: 'low', topic: 'llm.cost', text: `${report.llm.spend.unpricedCalls} LLM call(s) in the period had no known price: add the model to BSM_LLM_PRICES so cost figures are measured, not defaulted` });
  }
  const failures = report.llm.byPath.reduce((n, p) => n + (p.outcomes.error ?? 0), 0);
  if (failures > 0) {
    out.push({ priority: 'low', topic: 'llm.availability', text: `${failures} LLM request(s) in the period got no answer from any path: check the circuit breakers and the providers (GET …/llm/paths)` });
  }
  return out;
}

/** The report from what the job measured, at `at`. */
export function buildComplianceReport(input: ComplianceReportInput, at: Date): ComplianceReport {
  const from = periodStart(input.period, at);
  const v = input.verification;
  const problem = verificationLine(v);
  const status = buildGdprStatus({ ...input.gdpr, auditTrail: { ok: v.ok, stored: v.entries, scope: 'full', checked: v.entries, problem } }, at);
  const checks = status.checks.map((c) => (input.includeDetails ? c : { id: c.id, ok: c.ok, detail: c.detail }));
  const violations: ComplianceReport['violations'] = status.checks
    .filter((c) => !c.ok)
    .map((c) => ({ check: c.id, severity: criticalChecks.has(c.id) ? 'critical' : 'high', detail: c.detail, source: 'now', at: status.measuredAt }));
  for (const run of input.dailyChecks.results) {
    for (const item of run.body.items.filter((i) => i.status === 'fail')) {
      violations.push({ check: item.id, severity: item.id === 'gdpr.retention' ? 'high' : 'critical', detail: item.detail, source: 'daily-check', at: run.body.checkedAt });
    }
  }
  const detections: Record<string, number> = {};
  for (const { counts } of input.pii.days) {
    for (const [type, n] of Object.entries(counts)) {
      detections[type] = (detections[type] ?? 0) + n;
    }
  }
  const base: Omit<ComplianceReport, 'recommendations'> = {
    id: input.id,
    generatedAt: at.toISOString(),
    period: { name: input.period, from: from.toISOString(), to: at.toISOString() },
    includeDetails: input.includeDetails,
    format: input.format,
    requestedBy: input.requestedBy,
    status: status.status,
    checks,
    violations,
    dailyChecks: { runs: input.dailyChecks.results.length, nonCompliant: input.dailyChecks.results.filter((r) => r.body.status !== 'compliant').length, unreadable: input.dailyChecks.unreadable },
    pii: {
      from: new Date(`${input.pii.firstDay}T00:00:00.000Z`).toISOString(),
      to: at.toISOString(),
      detail: `the PII counter keeps whole UTC days: the ${input.pii.days.length} day(s) the period touches, from ${input.pii.firstDay}`,
      detections,
      totalDetections: sumCounts(detections),
      ...(input.includeDetails ? { byDay: input.pii.days } : {}),
      selfTest: { ok: input.gdpr.selfTest.ok, failed: input.gdpr.selfTest.failed, detail: input.gdpr.selfTest.detail },
    },
    auditTrail: {
      ok: v.ok,
      verifiedAt: v.verifiedAt,
      entries: v.entries,
      firstSeq: v.firstSeq,
      lastSeq: v.lastSeq,
      checkpointsChecked: v.checkpointsChecked,
      problemCount: v.problemCount,
      firstProblem: problem,
      durationMs: v.durationMs,
      entriesPerSecond: v.entriesPerSecond,
    },
    llm: llmUsage(input),
  };
  return { ...base, recommendations: recommendationsOf(base) };
}
