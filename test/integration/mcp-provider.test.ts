import { untrustedDataInstruction } from '../../src/domain/compliance/prompt-injection.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createMcpProvider } from '../../src/providers/mcp.provider.js';
import { LlmProviderError, LlmThrottledError, type LlmProvider, type LlmRequest } from '../../src/domain/llm/types.js';
import { startMcpFake, type McpFake } from '../fakes/mcp-fake.js';

const request: LlmRequest = {
  operation: 'meta_monitor',
  task: 'execution-analysis',
  system: 'You analyse agent executions.',
  prompt: 'Why did the last runs fail?',
  facts: { failures: 3 },
  maxTokens: 300,
};

describe('MCP provider against an MCP server built with the SDK', () => {
  let fake: McpFake;
  let provider: LlmProvider;
  const extraProviders: LlmProvider[] = [];

  beforeAll(async () => {
    fake = await startMcpFake({ toolName: 'ask' });
    provider = createMcpProvider({
      url: fake.url,
      toolName: 'ask',
      argumentMapping: { prompt: 'prompt', system: 'system', operation: 'operation', maxTokens: 'max_tokens' },
      model: 'mcp-gateway-sonnet',
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
  });

  it('calls the tool with arguments built from the mapping and returns its text and reported usage', async () => {
    fake.script({ kind: 'ok', text: 'Three failures, all timeouts.', usage: { inputTokens: 50, outputTokens: 7 } });

    const result = await provider.complete(request, AbortSignal.timeout(5_000));

    expect(result).toEqual({
      text: 'Three failures, all timeouts.',
      model: 'mcp-gateway-sonnet',
      usage: { inputTokens: 50, outputTokens: 7 },
    });
    expect(fake.calls).toHaveLength(1);
    expect(fake.calls[0]?.tool).toBe('ask');
    const args = fake.calls[0]?.arguments ?? {};
    expect(args).toMatchObject({ operation: 'meta_monitor', max_tokens: 300 });
    // Facts travel inside an untrusted-data fence, and the system prompt says how to read it.
    expect(args.prompt).toMatch(/^Why did the last runs fail\?\n\nFacts \(JSON\):\n<untrusted-data label="facts" nonce="([0-9a-f]+)">\n\{\n {2}"failures": 3\n\}\n<\/untrusted-data nonce="\1">$/);
    expect(args.system).toBe(`You analyse agent executions.\n\n${untrustedDataInstruction}`);
  });

  it('reuses the connection and estimates usage when the tool reports none', async () => {
    await provider.complete(request, AbortSignal.timeout(5_000));
    const before = fake.initializeCount;
    fake.script({ kind: 'ok', text: '12345678' });

    const result = await provider.complete({ ...request, facts: undefined }, AbortSignal.timeout(5_000));

    expect(fake.initializeCount).toBe(before); // no new handshake
    const sentChars = 'Why did the last runs fail?'.length + 'You analyse agent executions.'.length + 'meta_monitor'.length;
    expect(result.usage).toEqual({ inputTokens: Math.ceil(sentChars / 4), outputTokens: 2, estimated: true });
  });

  it('estimates usage when the reported counts are not whole, non-negative numbers', async () => {
    for (const usage of [
      { inputTokens: 12.5, outputTokens: 3 },
      { inputTokens: 10, outputTokens: -1 },
    ]) {
      fake.script({ kind: 'ok', text: '12345678', usage });
      const result = await provider.complete({ ...request, facts: undefined }, AbortSignal.timeout(5_000));
      expect(result.usage, JSON.stringify(usage)).toMatchObject({ outputTokens: 2, estimated: true });
    }
  });

  it('puts the system prompt before the user turn when the mapping has no system argument', async () => {
    const promptOnly = createMcpProvider({ url: fake.url, toolName: 'ask', argumentMapping: { prompt: 'prompt' } });
    extraProviders.push(promptOnly);

    const result = await promptOnly.complete({ ...request, facts: undefined }, AbortSignal.timeout(5_000));

    expect(result.model).toBe('mcp:ask');
    expect(fake.calls[0]?.arguments).toEqual({ prompt: 'You analyse agent executions.\n\nWhy did the last runs fail?' });
  });

  it('turns an isError result into LlmProviderError and keeps the connection', async () => {
    await provider.complete(request, AbortSignal.timeout(5_000));
    const before = fake.initializeCount;
    fake.script({ kind: 'tool-error', text: 'model overloaded' }, { kind: 'ok', text: 'fine again' });

    const error = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);
    const next = await provider.complete(request, AbortSignal.timeout(5_000));

    expect(error).toBeInstanceOf(LlmProviderError);
    expect((error as LlmProviderError).path).toBe('mcp');
    expect((error as LlmProviderError).message).toContain('model overloaded');
    expect(next.text).toBe('fine again');
    expect(fake.initializeCount).toBe(before);
  });

  it('turns an HTTP 429 into LlmThrottledError with Retry-After', async () => {
    fake.script({ kind: 'throttle', retryAfterSeconds: 2 }, { kind: 'throttle' });

    const first = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);
    const second = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);

    expect(first).toBeInstanceOf(LlmThrottledError);
    expect((first as LlmThrottledError).retryAfterMs).toBe(2_000);
    expect(second).toBeInstanceOf(LlmThrottledError);
    expect((second as LlmThrottledError).retryAfterMs).toBeUndefined();
  });

  it('rejects promptly on abort and tells the server to cancel the call', async () => {
    fake.script({ kind: 'slow', delayMs: 10_000, then: { kind: 'ok', text: 'too late' } });
    const started = performance.now();

    const error = await provider.complete(request, AbortSignal.timeout(200)).catch((e: unknown) => e);

    expect(performance.now() - started).toBeLessThan(1_000);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect((error as LlmProviderError).message).toContain('aborted');
    await expect.poll(() => fake.calls[0]?.cancelled, { timeout: 2_000 }).toBe(true);
  });

  it('re-initialises transparently when a restarted server no longer knows the session', async () => {
    await provider.complete(request, AbortSignal.timeout(5_000));
    const before = fake.initializeCount;

    await fake.restart();
    fake.script({ kind: 'ok', text: 'after restart' });
    const result = await provider.complete(request, AbortSignal.timeout(5_000));

    expect(result.text).toBe('after restart');
    expect(fake.initializeCount).toBe(before + 1);
  });

  it('reconnects once when the socket dies under a call, and fails when it dies again', async () => {
    await provider.complete(request, AbortSignal.timeout(5_000));
    const before = fake.initializeCount;

    fake.script({ kind: 'reset' }, { kind: 'ok', text: 'on a new connection' });
    const result = await provider.complete(request, AbortSignal.timeout(5_000));
    expect(result.text).toBe('on a new connection');
    expect(fake.initializeCount).toBe(before + 1);

    fake.script({ kind: 'reset' }, { kind: 'reset' });
    const error = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmProviderError);
    expect((error as LlmProviderError).message).toContain('MCP connection failed');
  });

  it('fails while the server is down, then reconnects once it is back', async () => {
    await provider.complete(request, AbortSignal.timeout(5_000));
    const before = fake.initializeCount;

    await fake.stop();
    const error = await provider.complete(request, AbortSignal.timeout(5_000)).catch((e: unknown) => e);
    await fake.start();
    fake.script({ kind: 'ok', text: 'back' });
    const result = await provider.complete(request, AbortSignal.timeout(5_000));

    expect(error).toBeInstanceOf(LlmProviderError);
    expect(error).not.toBeInstanceOf(LlmThrottledError);
    expect(result.text).toBe('back');
    expect(fake.initializeCount).toBe(before + 1);
  });

  it('closes its session on close()', async () => {
    const closing = createMcpProvider({ url: fake.url, toolName: 'ask', argumentMapping: { prompt: 'prompt' } });
    await closing.complete(request, AbortSignal.timeout(5_000));
    const open = fake.openSessions;

    await closing.close();

    expect(fake.openSessions).toBe(open - 1);
    await expect(closing.complete(request, AbortSignal.timeout(5_000))).rejects.toBeInstanceOf(LlmProviderError);
  });
});
