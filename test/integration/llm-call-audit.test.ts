import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { AuditEvent } from '../../src/domain/audit-trail/chain.js';
import { targetSchema } from '../../src/domain/audit/inventory.js';
import { createLogger } from '../../src/observability/logger.js';
import { createLlm } from '../../src/runtime/llm.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from '../helpers/redis.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';

const question = 'Why is the queue of jane.doe@example.com stuck? marker-zq81-question';
const answerText = 'The answer text marker-ka52-answer';

async function llmEntries(t: TestApp): Promise<AuditEvent[]> {
  return (await t.auditTrail.range()).flatMap((e) => (e.event?.action === 'llm.call' ? [e.event] : []));
}

describe('every LLM call is an audit-trail entry', () => {
  let bedrock: BedrockFake;
  let t: TestApp;

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    stubAwsEnv(bedrock.url);
    t = await makeTestApp('llm-call-audit', { env: { BEDROCK_ENABLED: 'true' } });
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
  });

  beforeEach(() => {
    bedrock.reset();
    bedrock.setDefault({ kind: 'ok', text: answerText, usage: { inputTokens: 120, outputTokens: 30 } });
  });

  afterAll(async () => {
    await t.close();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  it('an /assist call leaves one entry with path, model, region, tokens, outcome and latency, and no text of the question or the answer', async () => {
    const before = (await llmEntries(t)).length;
    const r = await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question, operation: 'emergency' } });
    expect(r.status).toBe(200);
    const answer = (await r.json()) as { decisionId: string; answer: string };
    expect(answer.answer).toBe(answerText);
    const entries = await llmEntries(t);
    expect(entries).toHaveLength(before + 1);
    const entry = entries.at(-1);
    expect(entry).toMatchObject({
      actor: 'bedrock-support',
      action: 'llm.call',
      target: answer.decisionId,
      details: {
        kind: 'routed',
        task: 'assist',
        path: 'direct',
        region: 'eu-central-1',
        model: 'anthropic.claude-3-sonnet-20240229-v1:0',
        outcome: 'success',
        inputTokens: 120,
        outputTokens: 30,
        attempts: [{ path: 'direct', region: 'eu-central-1', result: 'success' }],
      },
    });
    expect(entry?.details?.latencyMs).toEqual(expect.any(Number));
    expect(entry?.details?.costUsd).toBeGreaterThan(0);
    const stored = (await t.auditTrail.range()).map((e) => e.json).join('\n');
    for (const text of ['marker-zq81-question', 'jane.doe@example.com', 'marker-ka52-answer', 'stuck']) {
      expect(stored).not.toContain(text);
    }
  });

  it("the auditor's LLM probe leaves one entry for its ping, and a failed ping one with outcome error", async () => {
    const before = (await llmEntries(t)).length;
    // The auditor's prober, as the audit job runs it on an `llm` target of the inventory.
    const target = targetSchema.parse({ id: 'bedrock', kind: 'llm', component: 'bedrock-support', criticality: 'high', path: 'direct' });
    const probe = () => t.adapters.jobDeps.audit.prober.probe(target, { signal: new AbortController().signal, timeoutMs: 10_000 });
    expect((await probe()).reach.reachable).toBe(true);
    bedrock.setDefault({ kind: 'error', status: 500 });
    expect((await probe()).reach.reachable).toBe(false);
    const entries = (await llmEntries(t)).slice(before);
    expect(entries.map((e) => [e.actor, e.details?.task, e.details?.path, e.details?.region, e.details?.outcome])).toEqual([
      ['infrastructure-auditor', 'reachability-ping', 'direct', 'eu-central-1', 'success'],
      ['infrastructure-auditor', 'reachability-ping', 'direct', 'eu-central-1', 'error'],
    ]);
    expect(entries[0]?.details).toMatchObject({ kind: 'direct', model: 'anthropic.claude-3-sonnet-20240229-v1:0', inputTokens: 120, outputTokens: 30 });
  });
});

describe('an LLM call whose entry the trail does not take', () => {
  const redis = new Redis(testRedisUrl);
  const prefix = uniquePrefix('llm-call-audit-down');
  let bedrock: BedrockFake;

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    stubAwsEnv(bedrock.url);
    bedrock.setDefault({ kind: 'ok', text: 'fine', usage: { inputTokens: 10, outputTokens: 2 } });
  });

  afterAll(async () => {
    await bedrock.close();
    await deleteKeys(redis, prefix);
    await redis.quit();
    vi.unstubAllEnvs();
  });

  it('still answers (a call is not a change), keeps its decision, and logs the missing entry at error level', async () => {
    const lines: { level: number | string; msg: string; callId?: string }[] = [];
    const logger = createLogger('info', {}, { write: (l: string) => lines.push(JSON.parse(l) as { level: number; msg: string }) });
    const config = loadConfig({ BEDROCK_ENABLED: 'true', LOG_LEVEL: 'silent' });
    const trail = { append: () => Promise.reject(new Error('trail unavailable')) };
    const llm = createLlm(config, redis, prefix, logger, Date.now, undefined, trail);
    try {
      const a = await llm.router.ask({ component: 'bedrock-support', operation: 'emergency', task: 'test', system: 's', prompt: 'p' });
      expect(a.text).toBe('fine');
      expect((await llm.router.recentDecisions(1))[0]?.id).toBe(a.decisionId);
      expect(lines.filter((l) => l.msg === 'LLM call made but not written to the audit trail').map((l) => l.callId)).toEqual([a.decisionId]);
    } finally {
      await llm.close();
    }
  });
});
