import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { alertIdOf } from '../../src/domain/alerts/alert.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { readStream, rewriteStream } from '../helpers/audit-trail.js';

const base = '/admin/bedrock-support';

interface Status {
  status: string;
  checks: { id: string; ok: boolean; detail: string }[];
}
interface ErrorAnswer {
  error: { code: string; message: string; details: { violations: { check: string; detail: string; source: string }[] } };
}

const ask = (t: TestApp) => t.call('POST', `${base}/assist`, { role: 'operator', body: { question: 'What failed overnight?' } });

/** One alert evaluation through the bedrock-support worker: what fires. */
async function evaluate(t: TestApp): Promise<{ firing: { id: string; rule: string; level: string; detail: string }[]; resolved: string[] }> {
  const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
  const done = await t.fleet.waitForFinish('bedrock-support', job.id ?? '', 20_000);
  expect(done?.failedReason).toBeUndefined();
  return done?.returnvalue as { firing: { id: string; rule: string; level: string; detail: string }[]; resolved: string[] };
}

describe('a critical compliance violation blocks LLM calls', () => {
  describe('an LLM region outside the EU', () => {
    let t: TestApp;
    afterEach(async () => {
      await t.close();
    });

    it('turns the status red and refuses an LLM call naming the violation; in the EU, calls go through', async () => {
      t = await makeTestApp('block-us', { env: { AWS_REGION: 'us-east-1' } });
      expect((await t.call('POST', `${base}/enable`, { body: {} })).status).toBe(200);
      const status = (await (await t.call('GET', `${base}/compliance/gdpr/status`, { role: 'viewer' })).json()) as Status;
      expect(status.status).toBe('violation');
      expect(status.checks.find((c) => c.id === 'llm.residency')).toMatchObject({ ok: false });
      const refused = await ask(t);
      const body = (await refused.json()) as ErrorAnswer;
      expect(refused.status).toBe(503);
      expect(body.error.code).toBe('compliance_violation');
      expect(body.error.message).toMatch(/^LLM calls are refused until the critical compliance violation is fixed: llm\.residency: direct: region us-east-1 is outside the EU allow-list/);
      expect(body.error.details.violations.map((v) => v.check)).toEqual(['llm.residency']);
      // Nothing was sent or recorded as a routing decision.
      expect(await t.llm.decisions.range(0, Date.now() + 1)).toEqual([]);
      await t.close();

      // Fixed: the same install with an EU region answers.
      t = await makeTestApp('block-eu');
      expect((await t.call('POST', `${base}/enable`, { body: {} })).status).toBe(200);
      expect((await ask(t)).status).toBe(200);
    });
  });

  describe('a broken audit trail', () => {
    let t: TestApp;

    beforeAll(async () => {
      t = await makeTestApp('block-chain', { workers: ['bedrock-support'] });
      await t.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    });

    afterAll(async () => {
      await t.close();
    });

    it('is recorded when a verification finds it: calls are refused, a P0 alert fires, and a full verification that passes lifts both', async () => {
      for (let i = 0; i < 5; i++) {
        await t.auditTrail.append({ actor: 'tester', action: 'test.entry', details: { i } });
      }
      expect((await ask(t)).status).toBe(200);

      const key = `${t.prefix}:audit-trail`;
      const original = await readStream(t.client, key);
      const changed = original.map((e) => (e.json.includes('"i":2') ? { ...e, json: e.json.replace('"i":2', '"i":7') } : e));
      expect(changed.filter((e, i) => e.json !== original[i]?.json)).toHaveLength(1);
      await rewriteStream(t.client, key, changed);

      // The status measures it, and from then on every process's router refuses.
      const status = (await (await t.call('GET', `${base}/compliance/gdpr/status`, { role: 'viewer' })).json()) as Status;
      expect(status.checks.find((c) => c.id === 'audit-trail.integrity')).toMatchObject({ ok: false });
      const refused = await ask(t);
      const body = (await refused.json()) as ErrorAnswer;
      expect(refused.status).toBe(503);
      expect(body.error.details.violations).toEqual([expect.objectContaining({ check: 'audit-trail.integrity', source: 'audit-trail verification (all)' })]);
      expect(body.error.message).toContain('audit-trail.integrity: 1 problem(s)');
      expect(body.error.message).toContain('hash_mismatch');

      // The minute's alert evaluation raises the P0.
      const evaluation = await evaluate(t);
      const blocked = evaluation.firing.find((f) => f.rule === 'compliance.llm-blocked');
      expect(blocked).toMatchObject({ id: alertIdOf('compliance.llm-blocked', 'llm'), level: 'P0' });
      expect(blocked?.detail).toContain('audit-trail.integrity');

      // Fixed: the stream as it was (plus what was appended meanwhile is lost with it: put the original back whole).
      const now = await readStream(t.client, key);
      await rewriteStream(t.client, key, [...original, ...now.slice(original.length)]);
      const verified = (await (await t.call('GET', `${base}/audit-trail/verify`, { role: 'viewer' })).json()) as { ok: boolean };
      expect(verified.ok).toBe(true);
      expect((await ask(t)).status).toBe(200);
      const after = await evaluate(t);
      expect(after.firing.find((f) => f.rule === 'compliance.llm-blocked')).toBeUndefined();
      expect(after.resolved).toContain(alertIdOf('compliance.llm-blocked', 'llm'));
    });
  });
});
