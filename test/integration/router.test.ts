import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createBudget } from '../../src/domain/llm/budget.js';
import type { BudgetAlert, BudgetSettings } from '../../src/domain/llm/budget.js';
import { createCircuitBreaker } from '../../src/domain/llm/circuit-breaker.js';
import { createLlmRouter } from '../../src/domain/llm/router.js';
import type { LlmRouter, LlmRouterDeps, Redaction, RoutedRequest, RouterResidency } from '../../src/domain/llm/router.js';
import { defaultRoutingMatrix, parseRoutingOverrides } from '../../src/domain/llm/routing-matrix.js';
import type { RoutingMatrix } from '../../src/domain/llm/routing-matrix.js';
import { LlmProviderError, LlmThrottledError } from '../../src/domain/llm/types.js';
import type { LlmPath, LlmProvider, LlmRequest, OperationType, ProviderResult, TokenUsage } from '../../src/domain/llm/types.js';
import { createLlmStore } from '../../src/store/llm.store.js';
import type { LlmStore } from '../../src/domain/llm/ports.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const prefix = `{${uniquePrefix('router')}}`;
const sonnet = 'anthropic.claude-3-sonnet-20240229-v1:0';
let redis: Redis;
let testNo = 0;

beforeAll(() => {
  redis = testRedis();
});

afterAll(async () => {
  await deleteKeys(redis, prefix);
  await redis.quit();
});

/** What a scripted provider does on one call. */
type Step =
  | { kind: 'ok'; text?: string; usage?: TokenUsage; model?: string; takesMs?: number }
  | { kind: 'fail'; message?: string; takesMs?: number }
  | { kind: 'throttle'; retryAfterMs?: number }
  /** Never answers; rejects when its signal aborts (a well-behaved provider). */
  | { kind: 'hang' }
  /** Never answers and ignores its signal (a badly behaved provider). */
  | { kind: 'hang_deaf' };

/**
 * An in-memory provider implementing the router's contract. It records what it was sent and
 * whether its signal aborted; `takesMs` advances the test's monotonic clock (measured latency).
 */
class ScriptedProvider implements LlmProvider {
  readonly calls: LlmRequest[] = [];
  readonly signals: AbortSignal[] = [];
  private readonly steps: Step[] = [];

  constructor(
    readonly path: LlmPath,
    readonly model: string,
    private readonly mono: { now: number },
    private fallbackStep: Step = { kind: 'ok' },
  ) {}

  /** Queues steps for the next calls; after them `always` applies. */
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }

  always(step: Step): this {
    this.fallbackStep = step;
    return this;
  }

  get abortedSignals(): number {
    return this.signals.filter((s) => s.aborted).length;
  }

  complete(request: LlmRequest, signal: AbortSignal): Promise<ProviderResult> {
    this.calls.push(structuredClone(request));
    this.signals.push(signal);
    const step = this.steps.shift() ?? this.fallbackStep;
    switch (step.kind) {
      case 'ok':
        this.mono.now += step.takesMs ?? 0;
        return Promise.resolve({
          text: step.text ?? `${this.path} says: ${request.prompt}`,
          model: step.model ?? this.model,
          usage: step.usage ?? { inputTokens: 100, outputTokens: 50 },
        });
      case 'fail':
        this.mono.now += step.takesMs ?? 0;
        return Promise.reject(new LlmProviderError(this.path, step.message ?? 'HTTP 500 from upstream'));
      case 'throttle':
        return Promise.reject(new LlmThrottledError(this.path, 'ThrottlingException: slow down', step.retryAfterMs));
      case 'hang':
        return new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(new LlmProviderError(this.path, 'request aborted')), { once: true });
        });
      case 'hang_deaf':
        return new Promise(() => undefined);
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

const marker = 'SECRET-4711';
const placeholder = '[MARKER_1]';

/** A stand-in redactor: replaces the marker in prompt and system, and puts it back. */
function redact(request: LlmRequest): Redaction {
  const count = request.prompt.split(marker).length - 1 + (request.system.split(marker).length - 1);
  return {
    request: {
      ...request,
      prompt: request.prompt.replaceAll(marker, placeholder),
      system: request.system.replaceAll(marker, placeholder),
    },
    restore: (text) => text.replaceAll(placeholder, marker),
    counts: count > 0 ? { marker: count } : {},
  };
}

interface Rig {
  keyPrefix: string;
  router: LlmRouter;
  direct: ScriptedProvider;
  mcp: ScriptedProvider;
  local: ScriptedProvider;
  store: LlmStore;
  wall: { now: number };
  mono: { now: number };
  alerts: BudgetAlert[];
}

function rig(
  options: {
    matrix?: RoutingMatrix;
    budget?: BudgetSettings;
    residency?: Partial<RouterResidency>;
    without?: ('direct' | 'mcp')[];
    realMonotonic?: boolean;
    deps?: Partial<LlmRouterDeps>;
  } = {},
): Rig {
  testNo += 1;
  const keyPrefix = `${prefix}:t${testNo}`;
  const store = createLlmStore(redis, keyPrefix);
  const wall = { now: Date.UTC(2025, 4, 20, 9, 0, 0) };
  const mono = { now: 0 };
  const clock = (): number => wall.now;
  const direct = new ScriptedProvider('direct', sonnet, mono);
  const mcp = new ScriptedProvider('mcp', 'mcp-model', mono);
  const local = new ScriptedProvider('local', 'local-template', mono, {
    kind: 'ok',
    text: 'local summary',
    usage: { inputTokens: 0, outputTokens: 0 },
  });
  const alerts: BudgetAlert[] = [];
  const router = createLlmRouter({
    providers: {
      ...(options.without?.includes('direct') === true ? {} : { direct }),
      ...(options.without?.includes('mcp') === true ? {} : { mcp }),
      local,
    },
    matrix: options.matrix ?? defaultRoutingMatrix,
    breaker: createCircuitBreaker({ store: store.breaker, clock }),
    budget: createBudget({ store: store.costs, settings: options.budget, clock, onAlert: (a) => alerts.push(a) }),
    residency: { region: 'eu-central-1', allowNonEu: false, extraAllowed: [], ...options.residency },
    store,
    redact,
    clock,
    ...(options.realMonotonic === true ? {} : { monotonic: () => mono.now }),
    ...options.deps,
  });
  return { keyPrefix, router, direct, mcp, local, store, wall, mono, alerts };
}

function ask(operation: OperationType, prompt = 'Summarise the audit.'): RoutedRequest {
  return { component: 'infrastructure-auditor', operation, task: 'audit-narrative', system: 'You are terse.', prompt };
}

describe('router: paths', () => {
  it('answers from a healthy primary and records the decision', async () => {
    const r = rig();
    r.direct.script({ kind: 'ok', text: 'all good', usage: { inputTokens: 1000, outputTokens: 500 }, takesMs: 120 });
    const answer = await r.router.ask(ask('infrastructure'));

    expect(answer).toMatchObject({
      text: 'all good',
      path: 'direct',
      primary: 'direct',
      fallbackUsed: false,
      reason: 'primary',
      model: sonnet,
      usage: { inputTokens: 1000, outputTokens: 500 },
      priceKnown: true,
      latencyMs: 120,
      budgetMs: 10_000,
      withinBudget: true,
    });
    expect(answer.costUsd).toBeCloseTo(0.003 + 0.0075, 12);
    expect(r.mcp.calls).toHaveLength(0);
    expect(r.local.calls).toHaveLength(0);

    const [stored] = await r.store.decisions.recent(1);
    expect(stored).toMatchObject({
      id: answer.decisionId,
      at: r.wall.now,
      component: 'infrastructure-auditor',
      operation: 'infrastructure',
      task: 'audit-narrative',
      primary: 'direct',
      fallback: 'mcp',
      path: 'direct',
      outcome: 'success',
      inputTokens: 1000,
      outputTokens: 500,
      tokensEstimated: false,
      latencyMs: 120,
      withinBudget: true,
    });
    expect((await r.store.costs.readDay('2025-05-20')).rows).toEqual([
      expect.objectContaining({ component: 'infrastructure-auditor', model: sonnet, calls: 1 }),
    ]);
  });

  it('uses the fallback when the primary fails, and records why', async () => {
    const r = rig();
    r.direct.script({ kind: 'fail', message: 'HTTP 503 service unavailable' });
    r.mcp.script({ kind: 'ok', text: 'from mcp', usage: { inputTokens: 9, outputTokens: 2, estimated: true } });
    const answer = await r.router.ask(ask('meta_monitor'));

    expect(answer).toMatchObject({ text: 'from mcp', path: 'mcp', primary: 'direct', fallbackUsed: true, reason: 'primary_failed' });
    expect(answer.explanation).toContain('HTTP 503');
    expect(r.direct.calls).toHaveLength(1);
    const [stored] = await r.store.decisions.recent(1);
    expect(stored?.attempts.map((a) => `${a.path}:${a.result}`)).toEqual(['direct:failed', 'mcp:success']);
    expect(stored).toMatchObject({ path: 'mcp', reason: 'primary_failed', fallbackUsed: true, outcome: 'success', tokensEstimated: true });
    expect(await r.router.pathStatus()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ path: 'direct', configured: true, lastError: expect.stringContaining('HTTP 503') as unknown }),
      ]),
    );
  });

  it('routes MCP-primary operations to MCP first', async () => {
    const r = rig();
    const answer = await r.router.ask(ask('standard'));
    expect(answer).toMatchObject({ path: 'mcp', primary: 'mcp', reason: 'primary' });
    expect(r.direct.calls).toHaveLength(0);
  });

  it('opens the breaker after 3 failures, half-opens after 30 s and closes after 2 successes', async () => {
    const r = rig();
    r.direct.always({ kind: 'fail' });
    for (let i = 0; i < 3; i += 1) {
      expect((await r.router.ask(ask('infrastructure'))).path).toBe('mcp');
    }
    const skipped = await r.router.ask(ask('infrastructure'));
    expect(skipped).toMatchObject({ path: 'mcp', reason: 'primary_breaker_open' });
    expect(r.direct.calls).toHaveLength(3);
    // The health view gives the breaker's times as ISO 8601.
    expect((await r.router.pathStatus()).find((s) => s.path === 'direct')?.breaker).toMatchObject({
      state: 'open',
      openedAt: new Date(r.wall.now).toISOString(),
      retryAt: new Date(r.wall.now + 30_000).toISOString(),
      lastErrorAt: new Date(r.wall.now).toISOString(),
    });

    r.wall.now += 29_000;
    await r.router.ask(ask('infrastructure'));
    expect(r.direct.calls).toHaveLength(3);

    r.wall.now += 1_001;
    r.direct.always({ kind: 'ok' });
    const trial = await r.router.ask(ask('infrastructure'));
    expect(trial).toMatchObject({ path: 'direct', reason: 'primary' });
    expect(r.direct.calls).toHaveLength(4);
    const status = await r.router.pathStatus();
    expect(status.find((s) => s.path === 'direct')?.breaker?.state).toBe('half_open');

    await r.router.ask(ask('infrastructure'));
    expect(r.direct.calls).toHaveLength(5);
    const after = await r.router.pathStatus();
    expect(after.find((s) => s.path === 'direct')).toMatchObject({
      available: true,
      breaker: expect.objectContaining({ state: 'closed', consecutiveFailures: 0 }) as unknown,
    });
  });

  it('answers emergencies locally when the primary fails, since they have no fallback', async () => {
    const r = rig();
    r.direct.script({ kind: 'fail', message: 'connection reset' });
    const answer = await r.router.ask(ask('emergency'));
    expect(answer).toMatchObject({ path: 'local', reason: 'primary_failed', fallbackUsed: true, costUsd: 0 });
    expect(answer.explanation).toContain('connection reset');
    expect(answer.text).toBe(`local summary\nWhy no language model: ${answer.explanation}`);
    expect(r.mcp.calls).toHaveLength(0);
    expect((await r.store.decisions.recent(1))[0]?.outcome).toBe('fallback_local');
  });

  it('answers locally with no_remote_path when no remote provider is configured', async () => {
    const r = rig({ without: ['direct', 'mcp'] });
    const answer = await r.router.ask(ask('standard'));
    expect(answer).toMatchObject({ path: 'local', reason: 'no_remote_path' });
    const status = await r.router.pathStatus();
    expect(status.map((s) => [s.path, s.configured, s.available])).toEqual([
      ['direct', false, false],
      ['mcp', false, false],
      ['local', true, true],
    ]);
  });

  it('uses the fallback with primary_unavailable when the primary is not configured', async () => {
    const r = rig({ without: ['direct'] });
    const answer = await r.router.ask(ask('implementation'));
    expect(answer).toMatchObject({ path: 'mcp', reason: 'primary_unavailable' });
  });
});

describe('router: budget', () => {
  it('refuses direct once the daily budget is spent, answers locally saying why, alerts once per threshold', async () => {
    const r = rig({ budget: { dailyUsd: 0.1 } });
    // 10 000 input tokens of Sonnet = $0.03 per call.
    r.direct.always({ kind: 'ok', usage: { inputTokens: 10_000, outputTokens: 0 } });
    const spent: number[] = [];
    for (let i = 0; i < 4; i += 1) {
      const answer = await r.router.ask(ask('emergency'));
      expect(answer.path).toBe('direct');
      spent.push(answer.costUsd);
    }
    expect(spent.every((c) => Math.abs(c - 0.03) < 1e-12)).toBe(true);
    expect(r.alerts.map((a) => `${a.period}:${a.thresholdPct}`)).toEqual(['day:50', 'day:75', 'day:90', 'day:100']);

    const refused = await r.router.ask(ask('emergency'));
    expect(refused).toMatchObject({ path: 'local', reason: 'budget_exhausted', costUsd: 0 });
    expect(refused.explanation).toContain('daily LLM budget is exhausted');
    // The text itself says so, for whoever reads it stored in a report.
    expect(refused.text).toBe(`local summary\nWhy no language model: ${refused.explanation}`);
    expect(refused.attempts[0]).toMatchObject({ path: 'direct', result: 'skipped', skipped: 'budget_exhausted' });
    expect(r.direct.calls).toHaveLength(4);

    // This MCP model has no price here (its server bills elsewhere), so the budget does not stop it.
    const viaMcp = await r.router.ask(ask('infrastructure'));
    expect(viaMcp).toMatchObject({ path: 'mcp', reason: 'budget_exhausted' });

    await r.router.ask(ask('emergency'));
    expect(r.alerts).toHaveLength(4);
    expect((await r.store.costs.listAlerts('day', '2025-05-20')).map((a) => a.thresholdPct)).toEqual([50, 75, 90, 100]);
    const direct = (await r.router.pathStatus()).find((s) => s.path === 'direct');
    expect(direct?.refusedBecause).toContain('budget is exhausted');
    expect(direct?.available).toBe(false);
  });

  it('refuses an MCP model with a price too: every paid path stops and the local provider answers', async () => {
    const r = rig({
      budget: { dailyUsd: 0.05, prices: { [sonnet]: { inputPer1k: 0.003, outputPer1k: 0.015 }, 'mcp-model': { inputPer1k: 0.003, outputPer1k: 0 } } },
    });
    r.mcp.always({ kind: 'ok', usage: { inputTokens: 10_000, outputTokens: 0 } });
    r.direct.always({ kind: 'fail' });
    // $0.03 each through MCP (direct fails, MCP is the fallback): the second call crosses $0.05.
    for (let i = 0; i < 2; i += 1) {
      expect((await r.router.ask(ask('infrastructure'))).path).toBe('mcp');
    }
    const refused = await r.router.ask(ask('infrastructure'));
    expect(refused).toMatchObject({ path: 'local', reason: 'budget_exhausted' });
    expect(refused.attempts.slice(0, 2)).toMatchObject([
      { path: 'direct', result: 'skipped', skipped: 'budget_exhausted' },
      { path: 'mcp', result: 'skipped', skipped: 'budget_exhausted' },
    ]);
    expect(refused.explanation).toContain('daily LLM budget is exhausted');
    expect(r.mcp.calls).toHaveLength(2);
    const status = await r.router.pathStatus();
    expect(status.filter((s) => s.refusedBecause?.includes('budget is exhausted')).map((s) => s.path)).toEqual(['direct', 'mcp']);
  });
});

describe('router: residency', () => {
  it('refuses direct outside the EU and uses MCP', async () => {
    const r = rig({ residency: { region: 'us-east-1' } });
    const answer = await r.router.ask(ask('infrastructure'));
    expect(answer).toMatchObject({ path: 'mcp', reason: 'region_not_allowed' });
    expect(answer.explanation).toContain('us-east-1');
    expect(r.direct.calls).toHaveLength(0);
    const emergency = await r.router.ask(ask('emergency'));
    expect(emergency).toMatchObject({ path: 'local', reason: 'region_not_allowed' });
    expect(r.direct.calls).toHaveLength(0);
  });

  it('uses a non-EU region when allowed or listed', async () => {
    const allowed = rig({ residency: { region: 'us-east-1', allowNonEu: true } });
    expect((await allowed.router.ask(ask('infrastructure'))).path).toBe('direct');
    const listed = rig({ residency: { region: 'us-east-1', extraAllowed: ['us-east-1'] } });
    expect((await listed.router.ask(ask('infrastructure'))).path).toBe('direct');
  });

  it('checks MCP only when its region is declared', async () => {
    const r = rig({ residency: { region: 'us-east-1', mcpRegion: 'us-west-2' } });
    const answer = await r.router.ask(ask('standard'));
    expect(answer).toMatchObject({ path: 'local', reason: 'region_not_allowed' });
    expect(r.mcp.calls).toHaveLength(0);
    expect(r.direct.calls).toHaveLength(0);
  });
});

describe('router: time limits, throttling and aborts', () => {
  it('aborts a primary that outlives its share of the latency budget and answers from the fallback', async () => {
    const r = rig({ matrix: parseRoutingOverrides('infrastructure=direct/mcp/1000'), realMonotonic: true });
    r.direct.script({ kind: 'hang' });
    const answer = await r.router.ask(ask('infrastructure'));
    expect(answer).toMatchObject({ path: 'mcp', reason: 'primary_timeout', withinBudget: true });
    expect(r.direct.abortedSignals).toBe(1);
    expect((r.direct.signals[0]?.reason as Error).name).toBe('TimeoutError');
    expect(r.mcp.signals[0]?.aborted).toBe(false);
    // With a usable fallback the primary gets 70 % of the budget; the rest stays for the fallback.
    expect(answer.attempts[0]).toMatchObject({ path: 'direct', result: 'timeout' });
    expect(answer.attempts[0]?.latencyMs).toBeGreaterThanOrEqual(500);
    expect(answer.latencyMs).toBeLessThan(1000);
    const breaker = (await r.router.pathStatus()).find((s) => s.path === 'direct')?.breaker;
    expect(breaker?.consecutiveFailures).toBe(1);
    // 70 % of the budget less the time spent before the call (Redis reads: more on a busy machine).
    const allowedMs = Number(/^no answer within (\d+) ms$/.exec(breaker?.lastError ?? '')?.[1]);
    expect(allowedMs).toBeGreaterThan(500);
    expect(allowedMs).toBeLessThanOrEqual(700);
  });

  it('moves on even when the provider ignores its signal', async () => {
    const r = rig({ matrix: parseRoutingOverrides('emergency=direct/none/150'), realMonotonic: true });
    r.direct.script({ kind: 'hang_deaf' });
    const answer = await r.router.ask(ask('emergency'));
    expect(answer).toMatchObject({ path: 'local', reason: 'primary_timeout' });
    expect(r.direct.abortedSignals).toBe(1);
  });

  it('rethrows throttling when every remote path tried was throttled, without breaker failures', async () => {
    const r = rig();
    r.mcp.script({ kind: 'throttle', retryAfterMs: 2_000 });
    r.direct.script({ kind: 'throttle', retryAfterMs: 5_000 });
    const error: unknown = await r.router.ask(ask('standard')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LlmThrottledError);
    expect((error as LlmThrottledError).retryAfterMs).toBe(5_000);
    expect(r.local.calls).toHaveLength(0);
    const status = await r.router.pathStatus();
    expect(status.filter((s) => s.breaker !== null).map((s) => s.breaker?.consecutiveFailures)).toEqual([0, 0]);
    expect((await r.store.decisions.recent(1))[0]).toMatchObject({ outcome: 'throttled', path: null });
  });

  it('uses the fallback when only the primary is throttled', async () => {
    const r = rig();
    r.mcp.script({ kind: 'throttle' });
    const answer = await r.router.ask(ask('background'));
    expect(answer).toMatchObject({ path: 'direct', reason: 'primary_throttled' });
  });

  it('answers locally when one path is throttled and the other failed', async () => {
    const r = rig();
    r.mcp.script({ kind: 'throttle' });
    r.direct.script({ kind: 'fail' });
    const answer = await r.router.ask(ask('standard'));
    expect(answer).toMatchObject({ path: 'local', reason: 'primary_throttled' });
  });

  it('rethrows throttling of the only path tried when the other is skipped', async () => {
    const r = rig({ without: ['mcp'] });
    r.direct.script({ kind: 'throttle' });
    await expect(r.router.ask(ask('infrastructure'))).rejects.toBeInstanceOf(LlmThrottledError);
  });

  it('rejects with an AbortError when the caller aborts, without falling back', async () => {
    const r = rig({ realMonotonic: true });
    r.direct.script({ kind: 'hang_deaf' });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    const started = performance.now();
    const error: unknown = await r.router.ask(ask('infrastructure'), { signal: controller.signal }).catch((e: unknown) => e);
    expect((error as Error).name).toBe('AbortError');
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(r.mcp.calls).toHaveLength(0);
    expect(r.local.calls).toHaveLength(0);
    expect((await r.store.decisions.recent(1))[0]).toMatchObject({ outcome: 'aborted', path: null });
    const direct = (await r.router.pathStatus()).find((s) => s.path === 'direct');
    expect(direct?.breaker?.consecutiveFailures).toBe(0);
  });

  it('rejects at once when the caller signal is already aborted', async () => {
    const r = rig();
    await expect(r.router.ask(ask('standard'), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(r.mcp.calls).toHaveLength(0);
  });

  it('fails with LlmProviderError when even the local provider fails', async () => {
    const r = rig({ without: ['direct', 'mcp'] });
    r.local.script({ kind: 'fail', message: 'template missing' });
    await expect(r.router.ask(ask('emergency'))).rejects.toBeInstanceOf(LlmProviderError);
    expect((await r.store.decisions.recent(1))[0]).toMatchObject({ outcome: 'error', reason: 'local_failed' });
  });
});

describe('router: redaction', () => {
  it('never sends or stores the original value and restores it in the answer', async () => {
    const r = rig();
    r.direct.script({ kind: 'fail' });
    const answer = await r.router.ask(
      ask('infrastructure', `Owner ${marker} reported the outage. Repeat the owner.`),
    );
    // Both the failing direct call and MCP saw only the placeholder.
    for (const sent of [...r.direct.calls, ...r.mcp.calls]) {
      expect(JSON.stringify(sent)).not.toContain(marker);
      expect(sent.prompt).toContain(placeholder);
    }
    expect(answer.text).toBe(`mcp says: Owner ${marker} reported the outage. Repeat the owner.`);

    const [stored] = await r.store.decisions.recent(1);
    expect(stored?.promptExcerpt).toContain(placeholder);
    expect(stored?.redactions).toEqual({ marker: 1 });
    const raw = await redis.zrange(`${r.keyPrefix}:llm:decisions`, '0', '-1');
    expect(raw.join('\n')).not.toContain(marker);
    expect(raw.join('\n')).toContain(placeholder);
  });
});

describe('router: metrics', () => {
  it('an install without remote paths has no efficiency to report, not 0 %', async () => {
    const r = rig({ without: ['direct', 'mcp'] });
    await r.router.ask(ask('standard'));
    await r.router.ask(ask('infrastructure'));
    expect(await r.router.routingEfficiency(3_600_000)).toMatchObject({ decisions: 0, notCounted: { aborted: 0, noRemotePath: 2 }, efficiency: null });
    const metrics = await r.router.routingMetrics(3_600_000);
    expect(metrics).toMatchObject({ totalDecisions: 2, efficiency: null });
    expect(metrics.operations.standard).toMatchObject({ decisions: 0, efficiency: null });
  });

  it('reports no efficiency (not 100 %) when there are no decisions', async () => {
    const r = rig();
    expect(await r.router.routingEfficiency(3_600_000)).toEqual({
      windowStart: new Date(r.wall.now - 3_600_000).toISOString(),
      windowEnd: new Date(r.wall.now).toISOString(),
      decisions: 0,
      notCounted: { aborted: 0, noRemotePath: 0 },
      servedByPrimaryWithinBudget: 0,
      efficiency: null,
    });
    const metrics = await r.router.routingMetrics(3_600_000);
    expect(metrics).toMatchObject({ totalDecisions: 0, efficiency: null, fallbackRate: null, p50LatencyMs: null });
    expect(metrics.paths.direct).toMatchObject({ attempts: 0, p50LatencyMs: null, p95LatencyMs: null });
  });

  it('computes efficiency, rates and percentiles from the recorded decisions', async () => {
    const r = rig();
    r.direct.script(
      { kind: 'ok', takesMs: 100 },
      { kind: 'ok', takesMs: 200 },
      { kind: 'ok', takesMs: 300 },
      { kind: 'ok', takesMs: 12_000 }, // answered, but over the 10 s budget
      { kind: 'fail', takesMs: 50 },
      { kind: 'fail', takesMs: 10 },
    );
    r.mcp.script({ kind: 'ok', takesMs: 400 });
    for (let i = 0; i < 5; i += 1) {
      await r.router.ask(ask('infrastructure'));
    }
    await r.router.ask(ask('emergency'));

    const m = await r.router.routingMetrics(3_600_000);
    expect(m).toMatchObject({
      totalDecisions: 6,
      decisions: 6,
      servedByPrimaryWithinBudget: 3,
      efficiency: 0.5,
      outcomes: { success: 5, fallback_local: 1, throttled: 0, error: 0, aborted: 0 },
      fallbackRate: 2 / 6,
      withinBudgetRate: 5 / 6,
      reasons: { primary: 4, primary_failed: 2 },
    });
    // Direct call durations measured: 100, 200, 300, 12000, 50, 10 -> nearest-rank p50 = 100, p95 = 12000.
    expect(m.paths.direct).toEqual({
      attempts: 6,
      success: 4,
      errors: 2,
      timeouts: 0,
      throttled: 0,
      aborted: 0,
      skipped: 0,
      served: 4,
      p50LatencyMs: 100,
      p95LatencyMs: 12_000,
    });
    expect(m.paths.mcp).toMatchObject({ attempts: 1, success: 1, served: 1, p50LatencyMs: 400, p95LatencyMs: 400 });
    expect(m.paths.local).toMatchObject({ attempts: 1, served: 1, p50LatencyMs: 0 });
    expect(m.operations.infrastructure).toEqual({
      decisions: 5,
      servedByPrimaryWithinBudget: 3,
      fallbackUsed: 1,
      efficiency: 0.6,
      // Whole-request latencies 100, 200, 300, 12000, 450.
      p50LatencyMs: 300,
      p95LatencyMs: 12_000,
    });
    expect(m.operations.emergency).toMatchObject({ decisions: 1, servedByPrimaryWithinBudget: 0, efficiency: 0 });
    expect(m.operations.standard).toMatchObject({ decisions: 0, efficiency: null });
    expect(m.costUsd).toBeCloseTo(4 * (0.1 * 0.003 + 0.05 * 0.015), 12);

    expect(await r.router.routingEfficiency(3_600_000)).toMatchObject({ decisions: 6, efficiency: 0.5 });

    // Two hours later, the window holds only what happened since.
    r.wall.now += 2 * 3_600_000;
    expect((await r.router.routingEfficiency(3_600_000)).efficiency).toBeNull();
    r.direct.script({ kind: 'ok', takesMs: 5 });
    await r.router.ask(ask('infrastructure'));
    expect(await r.router.routingEfficiency(3_600_000)).toMatchObject({ decisions: 1, efficiency: 1 });
    expect((await r.router.routingMetrics(3 * 3_600_000)).totalDecisions).toBe(7);
  });

  it('leaves caller-aborted decisions out of the efficiency', async () => {
    const r = rig();
    r.direct.script({ kind: 'ok' });
    await r.router.ask(ask('infrastructure'));
    await r.router.ask(ask('infrastructure'), { signal: AbortSignal.abort() }).catch(() => undefined);
    r.direct.script({ kind: 'hang' });
    const controller = new AbortController();
    const pending = r.router.ask(ask('infrastructure'), { signal: controller.signal });
    // Aborted once the call is under way (a fixed delay can land before it, on a busy machine).
    await vi.waitFor(() => expect(r.direct.signals).toHaveLength(2), { timeout: 5_000, interval: 2 });
    controller.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    const m = await r.router.routingMetrics(60_000);
    expect(m).toMatchObject({ totalDecisions: 2, decisions: 1, efficiency: 1 });
    expect(m.outcomes.aborted).toBe(1);
    expect(m.paths.direct.aborted).toBe(1);
  });
});
