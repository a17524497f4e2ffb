import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { untrustedDataInstruction } from '../../src/domain/compliance/prompt-injection.js';
import { createBedrockProvider } from '../../src/providers/bedrock.provider.js';
import { LlmProviderError, LlmThrottledError, type LlmProvider, type LlmRequest } from '../../src/domain/llm/types.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';
import { stubAwsEnv } from '../helpers/aws.js';

const modelId = 'anthropic.claude-3-sonnet-20240229-v1:0';

const request: LlmRequest = {
  operation: 'infrastructure',
  task: 'audit-narrative',
  system: 'You describe infrastructure audits for operators.',
  prompt: 'Summarise the audit.',
  facts: { score: 72, findings: [{ severity: 'high', title: 'Public bucket' }] },
};

describe('Bedrock provider against the Converse fake', () => {
  let fake: BedrockFake;
  let provider: LlmProvider;
  const extraProviders: LlmProvider[] = [];

  beforeAll(async () => {
    stubAwsEnv();
    fake = await startBedrockFake();
    provider = createBedrockProvider({
      region: 'eu-central-1',
      modelId,
      endpoint: fake.url,
      maxTokensByOperation: { infrastructure: 512 },
    });
  });

  afterEach(() => {
    fake.reset();
  });

  afterAll(async () => {
    await provider.close();
    for (const extra of extraProviders) {
      await extra.close();
    }
    await fake.close();
    vi.unstubAllEnvs();
  });

  it('returns the text and usage of a Converse answer, sending system prompt and inference settings over HTTP/2', async () => {
    fake.script({ kind: 'ok', text: 'One high finding: a public bucket.', usage: { inputTokens: 120, outputTokens: 9 } });

    const result = await provider.complete(request, AbortSignal.timeout(5_000));

    expect(result).toEqual({
      text: 'One high finding: a public bucket.',
      model: modelId,
      usage: { inputTokens: 120, outputTokens: 9 },
    });
    expect(fake.requests).toHaveLength(1);
    const sent = fake.requests[0];
    expect(sent?.protocol).toBe('h2');
    expect(sent?.modelId).toBe(modelId);
    expect(sent?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEFORTESTS\/\d{8}\/eu-central-1\/bedrock\//);
    expect(sent?.body).toMatchObject({
      system: [{ text: `You describe infrastructure audits for operators.\n\n${untrustedDataInstruction}` }],
      inferenceConfig: { maxTokens: 512, temperature: 0.2 },
    });
    const userText = (sent?.body as { messages: { role: string; content: { text: string }[] }[] }).messages[0];
    expect(userText?.role).toBe('user');
    expect(userText?.content[0]?.text).toContain('Summarise the audit.');
    expect(userText?.content[0]?.text).toMatch(/<untrusted-data label="facts" nonce="[0-9a-f]+">\n[^]*"title": "Public bucket"[^]*<\/untrusted-data nonce=/);
  });

  it('estimates usage from text length, and says so, when a Converse-compatible server reports none', async () => {
    fake.script({ kind: 'ok', text: '12345678', usage: null });
    const result = await provider.complete(request, AbortSignal.timeout(5_000));
    // ceil(characters / 4) of what was sent: the system prompt and the user turn.
    const sent = fake.requests[0]?.body as { system: { text: string }[]; messages: { content: { text: string }[] }[] };
    const sentChars = (sent.system[0]?.text.length ?? NaN) + (sent.messages[0]?.content[0]?.text.length ?? NaN);
    expect(result.usage).toEqual({ inputTokens: Math.ceil(sentChars / 4), outputTokens: 2, estimated: true });
  });

  it('uses temperature 0 for emergencies and lets the request override temperature and maxTokens', async () => {
    fake.script({ kind: 'ok', text: 'a' }, { kind: 'ok', text: 'b' });

    await provider.complete({ ...request, operation: 'emergency' }, AbortSignal.timeout(5_000));
    await provider.complete({ ...request, operation: 'standard', temperature: 0.7, maxTokens: 64 }, AbortSignal.timeout(5_000));

    expect(fake.requests.map((r) => (r.body as { inferenceConfig: unknown }).inferenceConfig)).toEqual([
      { maxTokens: 1024, temperature: 0 },
      { maxTokens: 64, temperature: 0.7 },
    ]);
  });

  it('finds the endpoint through AWS_ENDPOINT_URL_BEDROCK_RUNTIME when no endpoint is given', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_BEDROCK_RUNTIME', fake.url);
    const fromEnv = createBedrockProvider({ region: 'eu-central-1', modelId: 'amazon.nova-lite-v1:0' });
    extraProviders.push(fromEnv);
    fake.script({ kind: 'ok', text: 'via env' });

    const result = await fromEnv.complete(request, AbortSignal.timeout(5_000));

    expect(result.text).toBe('via env');
    expect(fake.requests[0]?.modelId).toBe('amazon.nova-lite-v1:0');
  });

  it('turns a ThrottlingException into LlmThrottledError after a single attempt', async () => {
    fake.script({ kind: 'throttle' });

    const error = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmThrottledError);
    expect((error as LlmThrottledError).path).toBe('direct');
    expect((error as LlmThrottledError).retryAfterMs).toBeUndefined();
    expect(fake.requests).toHaveLength(1); // the router owns retries, the SDK must not retry
  });

  it('passes Retry-After on as retryAfterMs', async () => {
    fake.throttleFirst(1, 3);

    const error = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmThrottledError);
    expect((error as LlmThrottledError).retryAfterMs).toBe(3_000);
  });

  it('turns a 500 into LlmProviderError with the SDK error as cause, without retrying', async () => {
    fake.script({ kind: 'error', status: 500 });

    const error = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).not.toBeInstanceOf(LlmThrottledError);
    expect((error as LlmProviderError).message).toContain('HTTP 500');
    expect((error as LlmProviderError).cause).toMatchObject({ name: 'InternalServerException' });
    expect(fake.requests).toHaveLength(1);
  });

  it('rejects promptly when the signal aborts a slow answer', async () => {
    fake.script({ kind: 'slow', delayMs: 10_000, then: { kind: 'ok', text: 'too late' } });
    const started = performance.now();

    const error = await provider.complete(request, AbortSignal.timeout(200)).catch((e: unknown) => e);

    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(LlmProviderError);
    expect((error as LlmProviderError).message).toContain('aborted');
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(1_000);
  });

  it('still works after an aborted call', async () => {
    fake.script({ kind: 'slow', delayMs: 10_000, then: { kind: 'ok', text: 'too late' } }, { kind: 'ok', text: 'back to normal' });
    await expect(provider.complete(request, AbortSignal.timeout(200))).rejects.toThrow(/aborted/);

    const result = await provider.complete(request, AbortSignal.timeout(5_000));

    expect(result.text).toBe('back to normal');
  });

  it('answers plain HTTP/1.1 clients on the same port', async () => {
    fake.script({ kind: 'ok', text: 'over http/1.1', usage: { inputTokens: 3, outputTokens: 4 } }, { kind: 'throttle' });
    const url = `${fake.url}/model/${encodeURIComponent(modelId)}/converse`;
    const body = JSON.stringify({ messages: [{ role: 'user', content: [{ text: 'hi' }] }] });

    const ok = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    const throttled = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({
      output: { message: { role: 'assistant', content: [{ text: 'over http/1.1' }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      metrics: { latencyMs: 1 },
    });
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('x-amzn-errortype')).toBe('ThrottlingException');
    expect(await throttled.json()).toEqual({ message: 'Rate exceeded' });
    expect(fake.requests.map((r) => [r.protocol, r.modelId])).toEqual([
      ['http/1.1', modelId],
      ['http/1.1', modelId],
    ]);
  });
});

describe('the Converse fake with a quota (what the Bedrock-quota benchmark runs against)', () => {
  let fake: BedrockFake;
  let provider: LlmProvider;

  beforeAll(async () => {
    stubAwsEnv();
    fake = await startBedrockFake({ quota: { perSecond: 1, burst: 3 } });
    provider = createBedrockProvider({ region: 'eu-central-1', modelId, endpoint: fake.url });
  });

  afterAll(async () => {
    await provider.close();
    await fake.close();
    vi.unstubAllEnvs();
  });

  it('admits a burst, throttles past it as Bedrock does (429 ThrottlingException, no Retry-After), and admits again once it refilled', async () => {
    const settled = await Promise.allSettled(Array.from({ length: 4 }, () => provider.complete(request, AbortSignal.timeout(5_000))));

    expect(settled.filter((s) => s.status === 'fulfilled')).toHaveLength(3);
    const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected').map((s) => s.reason as unknown);
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toBeInstanceOf(LlmThrottledError);
    expect((rejected[0] as LlmThrottledError).retryAfterMs).toBeUndefined();
    expect(fake.requests.map((r) => r.status).sort()).toEqual([200, 200, 200, 429]);

    await new Promise((resolve) => setTimeout(resolve, 1_100));
    await expect(provider.complete(request, AbortSignal.timeout(5_000))).resolves.toMatchObject({ text: 'fake answer' });
  });
});
