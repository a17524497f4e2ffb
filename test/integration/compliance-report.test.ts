import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { complianceCheckResultSchema } from '../../src/domain/compliance/daily-check.js';
import type { ComplianceReport } from '../../src/domain/compliance/report.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { eventually } from '../helpers/fleet.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';

const base = '/admin/bedrock-support/compliance';
const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** The JSON export's rule: the bytes after the first `,"report":`, up to the body's last `}`. */
function jsonContentHash(body: Buffer): string {
  const marker = Buffer.from(',"report":');
  const start = body.indexOf(marker) + marker.length;
  return sha256(body.subarray(start, body.lastIndexOf('}')));
}

/** The Markdown/HTML rule, with the command the README gives an auditor. */
function textContentHash(body: Buffer): string {
  return execFileSync('sh', ['-c', "sed '1,/^-->$/d' | sha256sum"], { input: body }).toString().split(' ')[0] ?? '';
}

async function waitForReport(t: TestApp, id: string): Promise<ComplianceReport> {
  return eventually(async () => {
    const r = await t.call('GET', `${base}/report/${id}`, { role: 'viewer' });
    return r.status === 200 ? ((await r.json()) as ComplianceReport) : null;
  }, 30_000);
}

async function requestReport(t: TestApp, body?: unknown): Promise<{ reportId: string; period: string; includeDetails: boolean; format: string }> {
  const r = await t.call('POST', `${base}/report`, { role: 'operator', ...(body === undefined ? {} : { body }) });
  expect(r.status).toBe(202);
  return (await r.json()) as { reportId: string; period: string; includeDetails: boolean; format: string };
}

describe('compliance reports on a compliant install', () => {
  let bedrock: BedrockFake;
  let t: TestApp;
  let report: ComplianceReport;

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    bedrock.setDefault({ kind: 'ok', text: 'fine', usage: { inputTokens: 200, outputTokens: 40 } });
    stubAwsEnv(bedrock.url);
    t = await makeTestApp('compliance-report', { workers: ['compliance'], env: { BEDROCK_ENABLED: 'true' } });
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
    for (const question of ['Is ops@example.com paged?', 'What about +49 30 12345678?']) {
      expect((await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question, operation: 'emergency' } })).status).toBe(200);
    }
    // The runbook's command: the body exactly as written there.
    const r = await t.call('POST', `${base}/report`, {
      role: 'operator',
      headers: { 'content-type': 'application/json' },
      rawBody: '{\n    "period": "weekly",\n    "include_details": true,\n    "format": "json"\n  }',
    });
    expect(r.status).toBe(202);
    const accepted = (await r.json()) as { reportId: string; resultUrl: string; exportUrl: string };
    expect(accepted.resultUrl).toBe(`${base}/report/${accepted.reportId}`);
    report = await waitForReport(t, accepted.reportId);
  });

  afterAll(async () => {
    await t.close();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  it('holds every GDPR check, measured, and no violation', () => {
    expect(report).toMatchObject({ status: 'compliant', includeDetails: true, format: 'json', requestedBy: 'operator-key', violations: [], period: { name: 'weekly' } });
    expect(Date.parse(report.period.to) - Date.parse(report.period.from)).toBe(7 * 24 * 3_600_000);
    expect(report.checks.map((c) => [c.id, c.ok])).toEqual([
      ['llm.residency', true],
      ['pii.redaction', true],
      ['retention', true],
      ['audit-trail.integrity', true],
      ['archive.location', true],
    ]);
    expect(report.checks.every((c) => c.measured !== undefined)).toBe(true);
  });

  it('counts the PII detections, verifies the trail, and gives LLM usage by path and region with tokens and cost', () => {
    expect(report.pii.detections).toMatchObject({ EMAIL: 1, PHONE: 1 });
    expect(report.pii.selfTest.ok).toBe(true);
    expect(report.auditTrail).toMatchObject({ ok: true, problemCount: 0, firstProblem: null });
    expect(report.auditTrail.entries).toBeGreaterThanOrEqual(6);
    expect(report.llm.byPath).toEqual([
      {
        path: 'direct',
        region: 'eu-central-1',
        requests: 2,
        inputTokens: 400,
        outputTokens: 80,
        costUsd: expect.closeTo(2 * ((200 / 1000) * 0.003 + (40 / 1000) * 0.015), 6) as number,
        outcomes: { success: 2 },
        models: [expect.objectContaining({ model: 'anthropic.claude-3-sonnet-20240229-v1:0', requests: 2 })],
      },
    ]);
    expect(report.llm.spend).toMatchObject({ calls: 2, inputTokens: 400, outputTokens: 80 });
    // No daily check ran in the period: the report says so and what to do.
    expect(report.dailyChecks.runs).toBe(0);
    expect(report.recommendations.map((r) => r.topic)).toEqual(['daily-check']);
  });

  it('exports the newest report as JSON with its SHA-256 in the header and the metadata, recomputable from the bytes, and the same as in the audit trail', async () => {
    const r = await t.call('GET', `${base}/export`, { role: 'viewer' });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('application/json');
    const bytes = Buffer.from(await r.arrayBuffer());
    const body = JSON.parse(bytes.toString('utf8')) as { metadata: { sha256: string; reportId: string; hashed: string }; report: ComplianceReport };
    expect(body.report).toEqual(report);
    expect(body.metadata.reportId).toBe(report.id);
    expect(body.metadata.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.headers.get('x-content-sha256')).toBe(body.metadata.sha256);
    expect(jsonContentHash(bytes)).toBe(body.metadata.sha256);
    const entry = (await t.auditTrail.range()).find((e) => e.event?.action === 'compliance.report.create' && e.event.target === report.id)?.event;
    expect(entry?.details?.jsonContentSha256).toBe(body.metadata.sha256);
    // One changed byte of the content and the hash no longer matches.
    const tampered = Buffer.from(bytes.toString('utf8').replace('"status": "compliant"', '"status": "compliamt"'));
    expect(jsonContentHash(tampered)).not.toBe(body.metadata.sha256);
  });

  it('exports Markdown and HTML by id, each hash recomputed with sed and sha256sum, stable across exports', async () => {
    for (const format of ['markdown', 'html'] as const) {
      const r = await t.call('GET', `${base}/export?id=${report.id}&format=${format}`, { role: 'viewer' });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toContain(format === 'markdown' ? 'text/markdown' : 'text/html');
      const bytes = Buffer.from(await r.arrayBuffer());
      const text = bytes.toString('utf8');
      const hash = r.headers.get('x-content-sha256');
      expect(text).toContain(`sha256: ${hash}`);
      expect(textContentHash(bytes)).toBe(hash);
      expect(text).toContain('llm.residency');
      expect(text).toContain('eu-central-1');
      const again = await t.call('GET', `${base}/export?id=${report.id}&format=${format}`, { role: 'viewer' });
      expect(again.headers.get('x-content-sha256')).toBe(hash);
    }
  });

  it('a bare POST makes a weekly summary in JSON, without the measured values', async () => {
    const accepted = await requestReport(t);
    expect(accepted).toMatchObject({ period: 'weekly', includeDetails: false, format: 'json' });
    const summary = await waitForReport(t, accepted.reportId);
    expect(summary.checks.every((c) => c.measured === undefined)).toBe(true);
    expect(summary.llm.byPath[0]?.models).toBeUndefined();
    expect(summary.pii.byDay).toBeUndefined();
    // Now the newest: the export without id gives it.
    const r = await t.call('GET', `${base}/export`, { role: 'viewer' });
    expect(((await r.json()) as { report: ComplianceReport }).report.id).toBe(accepted.reportId);
  });

  it('a daily report asked for in Markdown is exported in Markdown by default', async () => {
    const accepted = await requestReport(t, { period: 'daily', format: 'markdown' });
    const daily = await waitForReport(t, accepted.reportId);
    expect(Date.parse(daily.period.to) - Date.parse(daily.period.from)).toBe(24 * 3_600_000);
    const r = await t.call('GET', `${base}/export?id=${accepted.reportId}`, { role: 'viewer' });
    expect(r.headers.get('content-type')).toContain('text/markdown');
    expect(textContentHash(Buffer.from(await r.arrayBuffer()))).toBe(r.headers.get('x-content-sha256'));
  });

  it('answers 400 naming the field for a bad period, include_details or format, and writes nothing', async () => {
    const before = await t.auditTrail.length();
    for (const [field, value] of [
      ['period', 'yearly'],
      ['include_details', 'yes'],
      ['format', 'pdf'],
      ['unknown', 1],
    ] as const) {
      const r = await t.call('POST', `${base}/report`, { role: 'operator', body: { [field]: value } });
      expect(r.status).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message).toContain(field);
    }
    expect((await t.call('GET', `${base}/export?format=pdf`, { role: 'viewer' })).status).toBe(400);
    expect(await t.auditTrail.length()).toBe(before);
  });

  it('answers 404 for an unknown id', async () => {
    expect((await t.call('GET', `${base}/export?id=compliance-report-nope`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${base}/export?id=audit-123`, { role: 'viewer' })).status).toBe(404);
    expect((await t.call('GET', `${base}/report/compliance-report-nope`, { role: 'viewer' })).status).toBe(404);
  });
});

describe('a compliance report of a period with a violation', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('compliance-report-violation', { workers: ['compliance'], env: { AWS_REGION: 'us-east-1' } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('has nothing to export before the first report', async () => {
    const r = await t.call('GET', `${base}/export`, { role: 'viewer' });
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: { message: string } }).error.message).toContain('POST');
  });

  it('names the violation, now and from the daily check of the period, with a recommendation, in every format', async () => {
    await t.fleet.add('compliance', 'compliance-check', {}, { jobId: 'daily-check-in-period', priority: 'medium' });
    await eventually(() => t.adapters.reports.get('compliance-check', 'daily-check-in-period', complianceCheckResultSchema));
    const accepted = await requestReport(t, { period: 'daily', include_details: true });
    const report = await waitForReport(t, accepted.reportId);
    expect(report.status).toBe('violation');
    expect(report.dailyChecks).toMatchObject({ runs: 1, nonCompliant: 1 });
    expect(report.violations.map((v) => [v.check, v.severity, v.source])).toEqual([
      ['llm.residency', 'critical', 'now'],
      ['gdpr.residency', 'critical', 'daily-check'],
    ]);
    expect(report.violations[0]?.detail).toContain('us-east-1');
    expect(report.recommendations.find((r) => r.topic === 'llm.residency')?.priority).toBe('high');
    for (const format of ['json', 'markdown', 'html'] as const) {
      const r = await t.call('GET', `${base}/export?format=${format}`, { role: 'viewer' });
      const text = await r.text();
      expect(text).toContain('llm.residency');
      expect(text).toContain('us-east-1');
      expect(text).toContain(format === 'json' ? '"status": "violation"' : 'violation');
    }
  });
});
