import { describe, expect, it } from 'vitest';
import { guidanceNarrative, guidanceNarrativeRequest, requestHashOf, type GuidanceNarrativeCache, type GuidanceNarrativeDeps, type WrittenNarrative } from '../../src/domain/implementation/guidance-narrative.js';
import { guidanceFor, redactedGap, targetOfGap } from '../../src/domain/implementation/guidance.js';
import type { LlmAnswer, RoutedRequest } from '../../src/domain/llm/router.js';
import { LlmProviderError, LlmThrottledError, type LlmPath } from '../../src/domain/llm/types.js';
import { initialState, type SupportModeState } from '../../src/domain/support-mode/state.js';
import { createLocalProvider } from '../../src/providers/local.provider.js';
import { auditGaps, guidanceInventory, manualGap, stored } from '../helpers/guidance-gaps.js';
import type { Gap } from '../../src/domain/gaps/gap.js';

const enabled: SupportModeState = { ...initialState(), flag: { enabled: true, updatedAt: '2026-03-01T09:00:00.000Z', updatedBy: 'admin-key', reason: null } };

function requestOf(gap: Gap) {
  const target = targetOfGap(gap, guidanceInventory.targets);
  return guidanceNarrativeRequest(redactedGap(gap), target, guidanceFor(gap, target));
}

function answer(path: LlmPath): LlmAnswer {
  const local = path === 'local';
  return {
    text: `narrative by ${path}`,
    path,
    primary: 'direct',
    fallbackUsed: true,
    reason: local ? 'no_remote_path' : 'primary_unavailable',
    explanation: `Answered by ${path}.`,
    model: local ? 'local-template-v1' : 'mcp:ask',
    usage: { inputTokens: 10, outputTokens: 5 },
    costUsd: 0.001,
    priceKnown: true,
    latencyMs: 12.4,
    budgetMs: 15_000,
    withinBudget: true,
    decisionId: 'decision-1',
    attempts: [],
    injection: { flagged: false, markers: [] },
  };
}

/** A router that answers from `path` and counts its questions; a cache and a limiter in memory. */
function setup(options: { path?: LlmPath; allowed?: boolean; modelAllowed?: boolean; state?: SupportModeState; fail?: Error } = {}) {
  const asked: RoutedRequest[] = [];
  const taken: string[] = [];
  const kept = new Map<string, WrittenNarrative>();
  const cache: GuidanceNarrativeCache = {
    get: (gapId, hash) => Promise.resolve(kept.get(`${gapId}:${hash}`) ?? null),
    put: (gapId, hash, n) => {
      kept.set(`${gapId}:${hash}`, n);
      return Promise.resolve();
    },
  };
  const deps: GuidanceNarrativeDeps = {
    router: {
      ask: (request) => {
        asked.push(request);
        if (options.fail) {
          return Promise.reject(options.fail);
        }
        return Promise.resolve(answer(options.path ?? 'mcp'));
      },
    },
    local: createLocalProvider(),
    modelAllowed: () => Promise.resolve(options.modelAllowed ?? true),
    supportMode: () => Promise.resolve(options.state ?? enabled),
    limiter: {
      take: (key) => {
        taken.push(key);
        return Promise.resolve(options.allowed === false ? { allowed: false, limit: 30, remaining: 0, retryAfterMs: 41_200 } : { allowed: true, limit: 30, remaining: 29, retryAfterMs: 0 });
      },
    },
    cache,
  };
  return { deps, asked, taken, kept };
}

const gap = manualGap();
const input = (g: Gap = gap) => ({ gapId: g.id, request: requestOf(g), caller: 'viewer-key', signal: new AbortController().signal });

describe('the narrative of a gap\'s guidance', () => {
  it('asks the router once with operation implementation; a model\'s narrative is cached and served from the cache the second time', async () => {
    const s = setup();
    const first = await guidanceNarrative(s.deps, input());
    expect(first).toEqual({ narrative: { text: 'narrative by mcp', path: 'mcp', model: 'mcp:ask', reason: 'primary_unavailable', latencyMs: 12, costUsd: 0.001, cached: false }, error: null });
    expect(s.asked).toHaveLength(1);
    expect(s.asked[0]).toMatchObject({ operation: 'implementation', component: 'implementation-support', task: 'implementation-guidance' });
    expect(s.taken).toEqual(['viewer-key']);
    const second = await guidanceNarrative(s.deps, input());
    expect(second.narrative).toMatchObject({ text: 'narrative by mcp', cached: true });
    expect(s.asked).toHaveLength(1);
    expect(s.taken).toHaveLength(1);
  });

  it('changed evidence is another request hash: a new narrative', async () => {
    const s = setup();
    await guidanceNarrative(s.deps, input());
    const changed = stored({ ...gap, evidence: { ...gap.evidence, observed: 'three charges for order 1183' } });
    expect(requestHashOf(requestOf(changed))).not.toBe(requestHashOf(requestOf(gap)));
    expect(requestHashOf(requestOf(stored({ ...gap }, { count: 9, lastSeenAt: '2026-03-02T00:00:00.000Z' })))).toBe(requestHashOf(requestOf(gap)));
    expect((await guidanceNarrative(s.deps, { ...input(changed), gapId: gap.id })).narrative?.cached).toBe(false);
    expect(s.asked).toHaveLength(2);
  });

  it('the local writer\'s answer (no remote path answered) is not cached: the next read asks again', async () => {
    const s = setup({ path: 'local' });
    expect((await guidanceNarrative(s.deps, input())).narrative).toMatchObject({ path: 'local', cached: false });
    expect((await guidanceNarrative(s.deps, input())).narrative).toMatchObject({ path: 'local', cached: false });
    expect(s.asked).toHaveLength(2);
    expect(s.kept.size).toBe(0);
  });

  it('llm-narratives off: the local writer, saying why; no router, no limit, no cache', async () => {
    const s = setup({ modelAllowed: false });
    const out = await guidanceNarrative(s.deps, input());
    expect(out.error).toBeNull();
    expect(out.narrative).toMatchObject({ path: 'local', model: 'local-template-v1', reason: 'llm_narratives_off', costUsd: 0, cached: false });
    expect(out.narrative?.text.split('\n').slice(0, 2)).toEqual([
      '[local provider: template summary, no language model]',
      'Why no language model: the llm-narratives feature flag is off (POST /admin/feature-flags/llm-narratives/enable turns it back on).',
    ]);
    expect([s.asked.length, s.taken.length, s.kept.size]).toEqual([0, 0, 0]);
  });

  it('support mode disabled or shut down: no narrative, and why; nothing asked', async () => {
    const off = setup({ state: initialState() });
    expect(await guidanceNarrative(off.deps, input())).toEqual({ narrative: null, error: 'support mode is disabled: no model is asked until POST /admin/bedrock-support/enable' });
    const emergency = setup({ state: { ...initialState(), emergency: { at: '2026-03-01T08:00:00.000Z', reason: 'drill', initiatedBy: 'ops', requestedBy: 'admin-key', immediate: true } } });
    expect((await guidanceNarrative(emergency.deps, input())).error).toContain('emergency shutdown since 2026-03-01T08:00:00.000Z');
    expect([off.asked.length, off.taken.length, emergency.asked.length]).toEqual([0, 0, 0]);
  });

  it('past the rate limit: no narrative, the error says when to ask again; the router is not asked', async () => {
    const s = setup({ allowed: false });
    expect(await guidanceNarrative(s.deps, input())).toEqual({
      narrative: null,
      error: 'rate_limited: API key viewer-key asked 30 questions in the window of BSM_ASSIST_RATE_WINDOW_MS; ask again in 42 s',
    });
    expect(s.asked).toHaveLength(0);
  });

  it('a router that fails leaves the narrative null with the reason, never an exception', async () => {
    const throttled = await guidanceNarrative(setup({ fail: new LlmThrottledError('mcp', 'slow down', 5_000) }).deps, input());
    expect(throttled).toEqual({ narrative: null, error: 'throttled: every remote LLM path tried was throttled; ask again in 5 s' });
    const failed = await guidanceNarrative(setup({ fail: new LlmProviderError('local', 'no provider could answer: direct: failed') }).deps, input());
    expect(failed.error).toBe('llm_failed: no provider could answer: direct: failed');
    const seen: unknown[] = [];
    const other = setup({ fail: new Error('Connection is closed.') });
    const broken = await guidanceNarrative({ ...other.deps, onFailure: (e) => seen.push(e) }, input());
    expect(broken.error).toBe('failed: the narrative could not be written (Error: Connection is closed.)');
    expect(seen).toHaveLength(1);
    const aborted = await guidanceNarrative(setup({ fail: new DOMException('gone', 'AbortError') }).deps, input());
    expect(aborted.error).toBe('aborted: the request was cancelled before the narrative was written');
    // A cache or a limit that cannot be read: no question asked, the reason given.
    const unreadable = setup();
    const noCache = await guidanceNarrative({ ...unreadable.deps, cache: { ...unreadable.deps.cache, get: () => Promise.reject(new Error('Command timed out')) } }, input());
    expect(noCache).toEqual({ narrative: null, error: 'failed: the narrative could not be written (Error: Command timed out)' });
    const noLimit = await guidanceNarrative({ ...unreadable.deps, limiter: { take: () => Promise.reject(new Error('Connection is closed.')) } }, input());
    expect(noLimit.narrative).toBeNull();
    expect(unreadable.asked).toHaveLength(0);
  });

  it('the request carries the redacted evidence and the rules, never a secret of the target', async () => {
    const audit = await auditGaps();
    const g = audit['http.status.401'] as Gap;
    const request = requestOf(g);
    const facts = JSON.stringify(request.facts);
    expect(facts).toContain('"check":"status"');
    expect(facts).toContain('"observed":"401"');
    expect(facts).toContain('Re-probe it alone');
    expect(facts).not.toMatch(/s3cret|abc123|literal-header-value/);
    // Free text is redacted again on the way: an address in a step becomes a placeholder.
    const dns = requestOf(audit['dns.addresses'] as Gap);
    expect(JSON.stringify(dns.facts)).not.toContain('198.51.100.4');
    expect(JSON.stringify(dns.facts)).toContain('[IPV4_');
  });
});
