import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Role } from '../../src/api/auth.js';
import { verifyChain } from '../../src/domain/audit-trail/chain.js';
import { dailyCheckJob } from '../../src/jobs/bedrock-support/daily-check.job.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';

type Json = Record<string, unknown>;

describe('the feature-flag registry', () => {
  let t: TestApp;
  let bedrock: BedrockFake;

  const call = async (method: string, path: string, options: { role?: Role; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}) => {
    const r = await t.call(method, path, options);
    return { status: r.status, body: (await r.json()) as Json };
  };
  const flagEntries = async () => (await t.auditTrail.range()).flatMap((e) => (e.event?.action === 'feature-flag.set' ? [e.event] : []));

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    stubAwsEnv(bedrock.url);
    bedrock.setDefault({ kind: 'ok', text: 'a model wrote this', usage: { inputTokens: 10, outputTokens: 5 } });
    t = await makeTestApp('feature-flags', { env: { BEDROCK_ENABLED: 'true' } });
  });

  afterAll(async () => {
    await t.close();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  it('lists every flag with its value, default, who may change it, and whether anything acts on it yet', async () => {
    const { status, body } = await call('GET', '/admin/feature-flags', { role: 'viewer' });
    expect(status).toBe(200);
    const flags = body.flags as Json[];
    expect(flags.map((f) => [f.name, f.enabled, f.default, f.permission, f.inEffect])).toEqual([
      ['bedrock-support', false, false, 'operate', true],
      ['auto-remediation', false, false, 'administer', true],
      ['auto-emergency-shutdown', false, false, 'administer', true],
      ['llm-narratives', true, true, 'operate', true],
      ['cloudwatch-publishing', false, false, 'administer', true],
    ]);
    for (const f of flags) {
      // A flag nothing acts on says why; one that is acted on says by what.
      expect(f.inEffect ? [typeof f.enforcedBy, f.notInEffectBecause] : [f.enforcedBy, typeof f.notInEffectBecause], String(f.name)).toEqual(f.inEffect ? ['string', null] : [null, 'string']);
    }
    expect(flags.find((f) => f.name === 'auto-remediation')).toMatchObject({ changeableBy: ['admin'], updatedAt: null, updatedBy: null, reason: null });
    expect(flags.find((f) => f.name === 'llm-narratives')).toMatchObject({ changeableBy: ['operator', 'admin'] });
    // The alert evaluation reads it every minute (test/integration/alerts.test.ts shuts the fleet down through it).
    expect(flags.find((f) => f.name === 'auto-emergency-shutdown')).toMatchObject({ enforcedBy: expect.stringContaining('alert evaluation') as unknown, notInEffectBecause: null });
  });

  it('GET bedrock-support keeps its answer; another flag answers in the registry\'s shape; an unknown one is a 404 naming it', async () => {
    expect(await call('GET', '/admin/feature-flags/bedrock-support', { role: 'viewer' })).toEqual({
      status: 200,
      body: { name: 'bedrock-support', enabled: false, updatedAt: null, updatedBy: null, reason: null, supportModeVersion: 0 },
    });
    const one = await call('GET', '/admin/feature-flags/cloudwatch-publishing', { role: 'viewer' });
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({
      name: 'cloudwatch-publishing',
      enabled: false,
      inEffect: true,
      enforcedBy: expect.stringContaining('cloudwatch-publish job') as unknown,
      notInEffectBecause: null,
      description: expect.stringContaining('CLOUDWATCH_ENABLED=true') as unknown,
    });
    const unknown = await call('GET', '/admin/feature-flags/auto-pilot', { role: 'viewer' });
    expect(unknown).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: 'unknown feature flag "auto-pilot": known flags are bedrock-support, auto-remediation, auto-emergency-shutdown, llm-narratives, cloudwatch-publishing', details: null } },
    });
    expect((await call('POST', '/admin/feature-flags/auto-pilot/enable', { role: 'operator' })).status).toBe(404);
  });

  it('a bare POST sets the flag (changed: true), again changes nothing (changed: false); both are in the audit trail', async () => {
    const off = await call('POST', '/admin/feature-flags/llm-narratives/disable', { role: 'operator' });
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ name: 'llm-narratives', enabled: false, default: true, changed: true, updatedBy: 'operator-key', reason: null });
    expect(Date.parse(off.body.updatedAt as string)).not.toBeNaN();
    const again = await call('POST', '/admin/feature-flags/llm-narratives/disable', { role: 'admin' });
    expect(again.body).toMatchObject({ enabled: false, changed: false, updatedBy: 'operator-key' });
    expect((await call('GET', '/admin/feature-flags/llm-narratives', { role: 'viewer' })).body).toMatchObject({ enabled: false, updatedBy: 'operator-key' });

    const entries = await flagEntries();
    expect(entries.map((e) => [e.actor, e.target, e.details])).toEqual([
      ['operator-key', 'llm-narratives', { flag: 'llm-narratives', from: true, to: false, changed: true, reason: null }],
      ['admin-key', 'llm-narratives', { flag: 'llm-narratives', from: false, to: false, changed: false, reason: null }],
    ]);
  });

  it('the reason is redacted of personal data in the audit trail and in the stored flag', async () => {
    const on = await call('POST', '/admin/feature-flags/llm-narratives/enable', { role: 'operator', body: { reason: 'asked by jane.doe@example.com' } });
    expect(on.body).toMatchObject({ enabled: true, changed: true, reason: 'asked by [EMAIL_1]' });
    expect((await flagEntries()).at(-1)?.details).toEqual({ flag: 'llm-narratives', from: false, to: true, changed: true, reason: 'asked by [EMAIL_1]' });
    expect(JSON.stringify(await t.auditTrail.range())).not.toContain('jane.doe');
    expect(await t.client.hget(`${t.prefix}:feature-flags`, 'llm-narratives')).not.toContain('jane.doe');
    const trail = await t.auditTrail.range();
    expect(verifyChain(trail.map((e) => ({ json: e.json, hash: e.hash })), await t.auditTrail.anchor())).toMatchObject({ ok: true });
  });

  it('changing a flag needs its permission: operate for llm-narratives, administer (admin) for auto-remediation', async () => {
    for (const role of ['viewer', 'approver', 'ingest'] as const) {
      expect((await call('POST', '/admin/feature-flags/llm-narratives/disable', { role })).status, role).toBe(403);
    }
    const denied = await call('POST', '/admin/feature-flags/auto-remediation/enable', { role: 'operator' });
    expect(denied).toEqual({ status: 403, body: { error: { code: 'forbidden', message: 'role operator may not change auto-remediation; needs admin', details: null } } });
    const before = (await flagEntries()).length;
    expect((await call('GET', '/admin/feature-flags/auto-remediation', { role: 'operator' })).body).toMatchObject({ enabled: false });
    expect((await flagEntries()).length).toBe(before);

    const allowed = await call('POST', '/admin/feature-flags/auto-remediation/enable', { role: 'admin', body: { reason: 'trial' } });
    expect(allowed.body).toMatchObject({ name: 'auto-remediation', enabled: true, changed: true, inEffect: true, reason: 'trial' });
    await call('POST', '/admin/feature-flags/auto-remediation/disable', { role: 'admin' });
  });

  it('a body with an unknown field is a 400 and changes nothing', async () => {
    const before = await t.auditTrail.length();
    const r = await call('POST', '/admin/feature-flags/llm-narratives/disable', { role: 'operator', body: { reason: 'x', force: true } });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: { message: 'force is not a known field' } });
    expect((await call('GET', '/admin/feature-flags/llm-narratives', { role: 'viewer' })).body).toMatchObject({ enabled: true });
    expect(await t.auditTrail.length()).toBe(before);
  });

  it('concurrent changes are recorded in the order they happened: each entry starts from the one before, the last is the stored value', async () => {
    const start = (await flagEntries()).length;
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) => call('POST', `/admin/feature-flags/auto-emergency-shutdown/${i % 2 === 0 ? 'enable' : 'disable'}`, { role: 'admin' })),
    );
    expect(results.map((r) => r.status)).toEqual(Array.from({ length: 16 }, () => 200));
    const entries = (await flagEntries()).slice(start).map((e) => e.details as { from: boolean; to: boolean; changed: boolean });
    expect(entries).toHaveLength(16);
    let value = false;
    for (const e of entries) {
      expect(e).toEqual({ flag: 'auto-emergency-shutdown', from: value, to: e.to, changed: e.to !== value, reason: null });
      value = e.to;
    }
    expect((await call('GET', '/admin/feature-flags/auto-emergency-shutdown', { role: 'viewer' })).body).toMatchObject({ enabled: value });
    expect(results.filter((r) => r.body.changed === true)).toHaveLength(entries.filter((e) => e.changed).length);
  });

  it('a change whose audit entry cannot be written does not stand', async () => {
    const head = `${t.prefix}:audit-trail:head`;
    const saved = await t.client.hgetall(head);
    // A head of the wrong type: every append fails (WRONGTYPE) until it is put back.
    await t.client.del(head);
    await t.client.set(head, 'not a hash');
    try {
      const r = await call('POST', '/admin/feature-flags/cloudwatch-publishing/enable', { role: 'admin' });
      expect(r.status).toBe(500);
    } finally {
      await t.client.del(head);
      await t.client.hset(head, saved);
    }
    expect((await call('GET', '/admin/feature-flags/cloudwatch-publishing', { role: 'viewer' })).body).toMatchObject({ enabled: false, updatedAt: null });
    expect(await t.client.hexists(`${t.prefix}:feature-flags`, 'cloudwatch-publishing')).toBe(0);
  });

  it('llm-narratives off: job narratives come from the local writer, no model is called and no routing decision recorded', async () => {
    const runDailyCheck = () =>
      dailyCheckJob.handler(
        { name: 'daily-check', data: {}, timestamp: Date.now(), attemptsMade: 0, updateProgress: () => Promise.resolve() },
        { signal: new AbortController().signal, log: t.logger },
        t.adapters.jobDeps,
      );
    await call('POST', '/admin/feature-flags/llm-narratives/disable', { role: 'operator' });
    bedrock.reset();
    const decisionsBefore = (await t.llm.router.recentDecisions(100)).length;
    const off = await runDailyCheck();
    expect(off.narrative).toMatchObject({ path: 'local', model: 'local-template-v1', reason: 'llm_narratives_off', costUsd: 0 });
    expect(off.narrative.text.split('\n').slice(0, 2)).toEqual([
      '[local provider: template summary, no language model]',
      'Why no language model: the llm-narratives feature flag is off (POST /admin/feature-flags/llm-narratives/enable turns it back on).',
    ]);
    expect(bedrock.requests).toHaveLength(0);
    expect(await t.llm.router.recentDecisions(100)).toHaveLength(decisionsBefore);

    await call('POST', '/admin/feature-flags/llm-narratives/enable', { role: 'operator' });
    const on = await runDailyCheck();
    expect(on.narrative).toMatchObject({ path: 'direct', text: 'a model wrote this' });
    expect(bedrock.requests).toHaveLength(1);
  });
});
