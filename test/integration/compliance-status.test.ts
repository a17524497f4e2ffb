import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { testRedisUrl } from '../helpers/redis.js';

const base = '/admin/bedrock-support/compliance';

interface Check {
  id: string;
  ok: boolean;
  detail: string;
  measured: Record<string, unknown>;
}

async function json(r: Response): Promise<Record<string, unknown>> {
  return (await r.json()) as Record<string, unknown>;
}

describe('compliance status on a default app', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('compliance-status');
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
  });

  afterAll(async () => {
    await t.close();
  });

  it('is compliant, every check measured: EU residency, the self-test, retention, the trail verified, a local archive', async () => {
    const r = await t.call('GET', `${base}/gdpr/status`, { role: 'viewer' });
    expect(r.status).toBe(200);
    const body = await json(r);
    const checks = body.checks as Check[];
    expect(body.status).toBe('compliant');
    expect(checks.map((c) => [c.id, c.ok])).toEqual([
      ['llm.residency', true],
      ['pii.redaction', true],
      ['retention', true],
      ['audit-trail.integrity', true],
      ['archive.location', true],
    ]);
    // The enable above is in the trail: the oldest entry and the full verification read it.
    const retention = checks.find((c) => c.id === 'retention')?.measured.items as { data: string; oldest: string | null }[];
    expect(retention.find((i) => i.data === 'audit-trail')?.oldest).toEqual(expect.any(String));
    expect(retention.find((i) => i.data === 'executions')?.oldest).toBeNull();
    expect(checks.find((c) => c.id === 'audit-trail.integrity')?.measured).toMatchObject({ scope: 'full', checked: await t.auditTrail.length() });
  });

  it('turns to a violation naming the check when an audit-trail entry is older than BSM_ARCHIVE_AFTER_DAYS plus a day (the clock 32 days on, 30 days allowed)', async () => {
    const old = await makeTestApp('compliance-old-trail', { env: { BSM_ARCHIVE_AFTER_DAYS: '30' }, clock: () => new Date(Date.now() + 32 * 24 * 3_600_000) });
    try {
      await old.auditTrail.append({ action: 'test.entry', actor: 'test' });
      const body = await json(await old.call('GET', `${base}/gdpr/status`, { role: 'viewer' }));
      expect(body.status).toBe('violation');
      expect((body.checks as Check[]).filter((c) => !c.ok).map((c) => c.id)).toEqual(['retention']);
      expect((body.checks as Check[]).find((c) => c.id === 'retention')?.detail).toContain('kept too long: audit-trail');
    } finally {
      await old.close();
    }
  });

  it('measures the oldest execution record stored', async () => {
    const timestamp = Date.now() - 2 * 3_600_000;
    const ingest = await t.call('POST', '/admin/bedrock-support/meta-monitor/executions', {
      role: 'ingest',
      body: [{ executionId: 'gdpr-oldest', timestamp, operation: 'analyze', status: 'success', latencyMs: 12 }],
    });
    expect(ingest.status).toBe(200);
    const body = await json(await t.call('GET', `${base}/gdpr/status`, { role: 'viewer' }));
    const items = (body.checks as Check[]).find((c) => c.id === 'retention')?.measured.items as { data: string; oldest: string | null; ageHours: number | null }[];
    expect(items.find((i) => i.data === 'executions')).toMatchObject({ oldest: new Date(timestamp).toISOString(), ageHours: 2 });
  });

  it('past the bound, verifies the newest entries only and says so', async () => {
    const big = await makeTestApp('compliance-bound', { verifyBound: { fullLimit: 3, tailEntries: 2 } });
    try {
      for (let i = 0; i < 5; i++) {
        await big.auditTrail.append({ action: 'test.entry', actor: 'test' });
      }
      const check = ((await json(await big.call('GET', `${base}/gdpr/status`, { role: 'viewer' }))).checks as Check[]).find((c) => c.id === 'audit-trail.integrity');
      expect(check).toMatchObject({ ok: true, measured: { scope: 'tail', stored: 5, checked: 2 } });
      expect(check?.detail).toContain('the newest 2 verified');
    } finally {
      await big.close();
    }
  });

  it('lists where Redis, the archive and each LLM path are, with how each was found out', async () => {
    const body = await json(await t.call('GET', `${base}/gdpr/residency`, { role: 'viewer' }));
    const entries = body.entries as { data: string; where: string; region: string | null; basis: string }[];
    // The Redis the tests run on (a throwaway one on a free port under npm test), scheme and host only.
    const redis = new URL(testRedisUrl);
    expect(entries[0]).toMatchObject({ where: `${redis.protocol}//${redis.host}`, region: null, basis: expect.stringContaining('loopback') as unknown });
    expect(entries[0]?.where).not.toContain('@');
    expect(entries[1]).toMatchObject({ data: 'archived audit trail', region: null });
    expect(entries.find((e) => e.data.includes('direct path'))).toMatchObject({ region: 'eu-central-1', basis: 'allowed: eu' });
  });

  it('counts an e-mail address asked about through /assist, and runs the self-test', async () => {
    const before = await json(await t.call('GET', `${base}/pii/status?window=24h`, { role: 'viewer' }));
    const ask = await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question: 'why did jane.doe@example.com not get her report?' } });
    expect(ask.status).toBe(200);
    const after = await json(await t.call('GET', `${base}/pii/status?window=24h`, { role: 'viewer' }));
    const count = (b: Record<string, unknown>) => (b.detections as Record<string, number>).EMAIL ?? 0;
    expect(count(after)).toBe(count(before) + 1);
    expect(after.selfTest).toMatchObject({ ok: true, failed: [] });
    expect(after.covers).toMatchObject({ detail: expect.stringContaining('UTC day') as unknown });
  });

  it('refuses a window it does not know, naming `window`', async () => {
    const r = await t.call('GET', `${base}/pii/status?window=2d`, { role: 'viewer' });
    expect(r.status).toBe(400);
    expect(JSON.stringify(await r.json())).toContain('window');
  });
});

describe('compliance status with the direct path outside the EU', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('compliance-us', { env: { AWS_REGION: 'us-east-1', BEDROCK_ENABLED: 'true' } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('is a violation naming the residency check and the region', async () => {
    const body = await json(await t.call('GET', `${base}/gdpr/status`, { role: 'viewer' }));
    expect(body.status).toBe('violation');
    const failed = (body.checks as Check[]).filter((c) => !c.ok);
    expect(failed.map((c) => c.id)).toEqual(['llm.residency']);
    expect(failed[0]?.detail).toContain('us-east-1');
    const residency = await json(await t.call('GET', `${base}/gdpr/residency`, { role: 'viewer' }));
    expect(residency.entries).toContainEqual(expect.objectContaining({ region: 'us-east-1', basis: expect.stringContaining('not allowed') as unknown }));
  });
});
