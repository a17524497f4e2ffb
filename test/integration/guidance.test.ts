import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Target } from '../../src/domain/audit/inventory.js';
import { sightingsOf } from '../../src/domain/audit/run.js';
import type { Gap, GapSighting } from '../../src/domain/gaps/gap.js';
import { guidanceFor, targetOfGap } from '../../src/domain/implementation/guidance.js';
import { observation } from '../../src/probes/findings.js';
import { startMcpFake, type McpFake } from '../fakes/mcp-fake.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { allGuidanceGaps, guidanceInventory, plantedSecrets } from '../helpers/guidance-gaps.js';
import { dumpKeys } from '../helpers/redis.js';

const base = '/admin/bedrock-support/implementation';

interface GuidanceAnswer {
  gapId: string;
  gap: { id: string; title: string; subject: string; source: string; check: string };
  target: { id: string; kind: string; component: string; criticality: string } | null;
  steps: string[];
  configurationChanges: { setting: string; change: string; why: string }[];
  risks: string[];
  rollback: string[];
  references: string[];
  narrative: { text: string; path: string; model: string; reason: string; latencyMs: number; costUsd: number; cached: boolean } | null;
  narrativeError: string | null;
  generatedAt: string;
}

let mcp: McpFake;

beforeAll(async () => {
  mcp = await startMcpFake();
});

afterAll(async () => {
  await mcp.close();
});

/** Records a run of `source` that saw `sightings`, as the auditor or a scan does, and returns the stored gaps. */
async function seen(t: TestApp, sightings: GapSighting[]): Promise<Gap[]> {
  const source = sightings[0]?.source ?? 'audit';
  const observed = await t.adapters.gaps.observe({ source, runId: `${source}-test`, at: new Date(), scope: [] }, sightings);
  return [...observed.opened, ...observed.reopened, ...observed.recurring];
}

/** The audit gap of a target of the inventory in force whose check `check` was not met. */
async function auditGap(t: TestApp, target: Target, check: string, expected: string, observed: string, type: Gap['type'] = 'broken_integration'): Promise<Gap> {
  const sightings = sightingsOf(target, { targetId: target.id, kind: target.kind, status: 'fail', durationMs: 1, reach: { reachable: true }, observations: [observation(check, `${target.id} ${check}`, expected, observed, false, type)] });
  const [gap] = await seen(t, sightings);
  if (!gap) {
    throw new Error('no gap stored');
  }
  return gap;
}

const guidance = async (t: TestApp, id: string, role: 'viewer' | 'operator' | 'admin' = 'viewer') => {
  const r = await t.call('GET', `${base}/gaps/${id}/guidance`, { role });
  expect(r.status, await r.clone().text()).toBe(200);
  return (await r.json()) as GuidanceAnswer;
};

describe('GET …/implementation/gaps/{id}/guidance', () => {
  let t: TestApp;
  let queueTarget: Target;

  beforeAll(async () => {
    // Only MCP is configured: the implementation operation's primary (direct) is skipped, MCP answers.
    t = await makeTestApp('guidance', { env: { MCP_URL: mcp.url } });
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
    const inventory = await t.adapters.inventory.current();
    const found = inventory.inventory.targets.find((x) => x.id === 'queue-meta-monitor');
    if (!found) {
      throw new Error('the built-in inventory has no queue-meta-monitor target');
    }
    queueTarget = found;
  });

  beforeEach(() => {
    mcp.reset();
    mcp.setDefault({ kind: 'ok', text: 'First activate the component, then start a worker.', usage: { inputTokens: 400, outputTokens: 60 } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('a gap of the store: its target, the rules\' steps, a narrative through the router; read again, the narrative comes from the cache and nothing is asked', async () => {
    const gap = await auditGap(t, queueTarget, 'workers', '>= 1', '0 workers (queue paused)');
    const decisionsBefore = (await t.llm.router.recentDecisions(1_000)).length;

    const first = await guidance(t, gap.id);
    expect(first).toMatchObject({
      gapId: gap.id,
      gap: { id: gap.id, source: 'audit', subject: 'queue-meta-monitor', check: 'workers' },
      target: { id: 'queue-meta-monitor', kind: 'queue', component: 'meta-monitor', criticality: 'high' },
      narrativeError: null,
      narrative: { text: 'First activate the component, then start a worker.', path: 'mcp', model: 'mcp:ask', cached: false },
    });
    expect(first.steps).toContain('Activate it: POST /admin/bedrock-support/activate-component with {"component":"meta-monitor"} (operate).');
    expect(first.steps).toContain('Re-probe it alone: POST /admin/bedrock-support/audit/trigger with {"type":"targeted","targets":["queue-meta-monitor"]} (operate), then GET /admin/bedrock-support/audit/status/{auditId} until it is completed; the gap is resolved when the check passes.');
    expect(Date.parse(first.generatedAt)).not.toBeNaN();
    expect(mcp.calls).toHaveLength(1);
    // The model got the rules and the evidence as facts.
    expect(JSON.stringify(mcp.calls[0]?.arguments)).toContain('0 workers (queue paused)');
    expect(JSON.stringify(mcp.calls[0]?.arguments)).toContain('activate-component');
    const decisions = await t.llm.router.recentDecisions(1_000);
    expect(decisions.length - decisionsBefore).toBe(1);
    expect(decisions[0]).toMatchObject({ operation: 'implementation', component: 'implementation-support', path: 'mcp' });

    // Kept under the install's prefix for an hour, by gap and request hash.
    const keys = await t.client.keys(`${t.prefix}:guidance:narrative:${gap.id}:*`);
    expect(keys).toHaveLength(1);
    const ttl = await t.client.ttl(keys[0] ?? '');
    expect(ttl).toBeGreaterThan(3_500);
    expect(ttl).toBeLessThanOrEqual(3_600);

    const second = await guidance(t, gap.id, 'operator');
    expect(second.narrative).toEqual({ ...first.narrative, cached: true });
    expect(second.steps).toEqual(first.steps);
    expect(mcp.calls).toHaveLength(1);
    expect(await t.llm.router.recentDecisions(1_000)).toHaveLength(decisions.length);
  });

  it('new evidence is a new narrative: the cache is keyed by what was asked', async () => {
    const gap = await auditGap(t, queueTarget, 'oldest-waiting', '<= 900 s', '1260 s', 'performance_issue');
    await guidance(t, gap.id);
    const again = await auditGap(t, queueTarget, 'oldest-waiting', '<= 900 s', '1500 s', 'performance_issue');
    expect(again.id).toBe(gap.id);
    const answer = await guidance(t, gap.id);
    expect(answer.narrative?.cached).toBe(false);
    expect(answer.steps[0]).toContain('observed 1500 s');
    expect(mcp.calls).toHaveLength(2);
    expect(await t.client.keys(`${t.prefix}:guidance:narrative:${gap.id}:*`)).toHaveLength(2);
  });

  it('llm-narratives off: the local writer writes the narrative, no model is called and no decision recorded', async () => {
    const gap = await auditGap(t, queueTarget, 'failed-ratio', '<= 10% of finished jobs', '40% (4 of 10 in the last 15 min)');
    const decisionsBefore = (await t.llm.router.recentDecisions(1_000)).length;
    expect((await t.call('POST', '/admin/feature-flags/llm-narratives/disable', { role: 'operator' })).status).toBe(200);
    try {
      const answer = await guidance(t, gap.id);
      expect(answer.narrative).toMatchObject({ path: 'local', model: 'local-template-v1', reason: 'llm_narratives_off', costUsd: 0, cached: false });
      expect(answer.narrative?.text.split('\n')[1]).toBe('Why no language model: the llm-narratives feature flag is off (POST /admin/feature-flags/llm-narratives/enable turns it back on).');
      expect(answer.narrativeError).toBeNull();
      expect(answer.steps.join('\n')).toContain('POST /admin/bedrock-support/meta-monitor/analyze with {"source":"fleet","focus":"failures"}');
      expect(mcp.calls).toHaveLength(0);
      expect(await t.llm.router.recentDecisions(1_000)).toHaveLength(decisionsBefore);
      expect(await t.client.keys(`${t.prefix}:guidance:narrative:${gap.id}:*`)).toEqual([]);
    } finally {
      expect((await t.call('POST', '/admin/feature-flags/llm-narratives/enable', { role: 'operator' })).status).toBe(200);
    }
    // Back on, the model writes it.
    expect((await guidance(t, gap.id)).narrative).toMatchObject({ path: 'mcp', cached: false });
  });

  it('every path throttled: the rules still answer, the narrative is null and says why', async () => {
    // The gap of the first test, seen again with other figures.
    const gap = await auditGap(t, queueTarget, 'workers', '>= 2', '1 worker');
    const kept = await t.client.keys(`${t.prefix}:guidance:narrative:${gap.id}:*`);
    mcp.setDefault({ kind: 'throttle', retryAfterSeconds: 7 });
    const answer = await guidance(t, gap.id);
    expect(answer.narrative).toBeNull();
    expect(answer.narrativeError).toMatch(/^throttled: every remote LLM path tried was throttled/);
    expect(answer.steps.length).toBeGreaterThan(2);
    expect(mcp.calls).toHaveLength(1);
    expect(await t.client.keys(`${t.prefix}:guidance:narrative:${gap.id}:*`)).toEqual(kept);
  });

  it('an unknown or malformed id is a 404 naming it; a viewer may read, an ingest key may not', async () => {
    for (const id of ['gap-0000000000000000', 'gap-nope', 'audit-1']) {
      const r = await t.call('GET', `${base}/gaps/${id}/guidance`, { role: 'viewer' });
      expect(r.status, id).toBe(404);
      expect(((await r.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'not_found', message: expect.stringContaining(`unknown gap "${id}"`) as unknown });
    }
    const [gap] = await seen(t, [{ source: 'manual', subject: 'manual:guidance-roles', check: 'reported', type: 'performance_issue', severity: 'low', title: 'Search is slow', components: ['search'], evidence: { expected: '', observed: '' } }]);
    expect((await t.call('GET', `${base}/gaps/${gap?.id ?? ''}/guidance`, { role: 'ingest' })).status).toBe(403);
    expect((await t.call('GET', `${base}/gaps/${gap?.id ?? ''}/guidance`, { role: null })).status).toBe(401);
    expect((await guidance(t, gap?.id ?? '')).gap.title).toBe('Search is slow');
  });

  it('an http target with secrets in its URL and headers: none of them in the answer, the model\'s prompt or Redis', async () => {
    const before = await t.adapters.inventory.current();
    const put = await t.call('PUT', '/admin/bedrock-support/audit/config', { body: { targets: [...before.inventory.targets, ...guidanceInventory.targets.filter((x) => x.kind === 'http')] } });
    expect(put.status).toBe(200);
    const http = guidanceInventory.targets.find((x) => x.id === 'api-health');
    if (!http) {
      throw new Error('no http target');
    }
    const gap = await auditGap(t, http, 'status', '200', '401');
    const answer = await guidance(t, gap.id);
    expect(answer.target).toMatchObject({ id: 'api-health', kind: 'http' });
    expect(answer.steps.join('\n')).toContain('the target sends the headers (Authorization, X-Key), read from API_HEALTH_TOKEN');
    const said = [JSON.stringify(answer), JSON.stringify(mcp.calls), await dumpKeys(t.client, `${t.prefix}:guidance`), JSON.stringify(await t.llm.router.recentDecisions(5))].join('\n');
    for (const secret of plantedSecrets) {
      expect(said, secret).not.toContain(secret);
    }
    expect((await t.call('PUT', '/admin/bedrock-support/audit/config', { body: before.inventory })).status).toBe(200);
  });

  it('every route a guidance names is a route of this service, with its method; every Redis parameter is one this Redis knows', async () => {
    const doc = (await (await t.call('GET', '/openapi.json', { role: null })).json()) as { paths: Record<string, Record<string, unknown>> };
    const templates = Object.entries(doc.paths).map(([path, ops]) => ({ path: new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`), methods: Object.keys(ops).map((m) => m.toUpperCase()) }));
    const exists = (method: string | null, path: string) => templates.some((x) => x.path.test(path) && (method === null || x.methods.includes(method)));
    const named = new Set<string>();
    const parameters = new Set<string>();
    for (const gap of Object.values(await allGuidanceGaps())) {
      const g = guidanceFor(gap, targetOfGap(gap, guidanceInventory.targets));
      const text = [...g.steps, ...g.risks, ...g.rollback, ...g.references, ...g.configurationChanges.flatMap((c) => [c.change, c.why])].join('\n');
      for (const m of text.matchAll(/(?:\b(GET|POST|PUT|DELETE|PATCH) )?(\/(?:admin|health|test)\/[^\s,;)"'`]*)/g)) {
        named.add(`${m[1] ?? '*'} ${(m[2] ?? '').replace(/\.$/, '')}`);
      }
      for (const c of g.configurationChanges) {
        if (c.setting.startsWith('redis ')) {
          parameters.add(c.setting.slice('redis '.length));
        }
      }
    }
    expect(named.size).toBeGreaterThan(25);
    const missing: string[] = [];
    for (const entry of named) {
      const [method, raw] = entry.split(' ') as [string, string];
      const path = raw.split('?')[0] ?? raw;
      if (path === '/admin/queues') {
        // Bull Board: served beside the documented API.
        expect((await t.call('GET', path, { role: 'viewer' })).status).toBe(200);
        continue;
      }
      if (!exists(method === '*' ? null : method, path)) {
        missing.push(entry);
      }
    }
    expect(missing).toEqual([]);
    // The check itself notices a route that does not exist, or a method a route does not take.
    expect(exists('POST', '/admin/bedrock-support/audit/retrigger')).toBe(false);
    expect(exists('DELETE', '/admin/bedrock-support/audit/trigger')).toBe(false);
    expect([...parameters].sort()).toEqual(['appendonly', 'maxmemory', 'maxmemory-policy']);
    for (const p of parameters) {
      expect(((await t.client.call('CONFIG', 'GET', p)) as string[])[0], p).toBe(p);
    }
  });
});

describe('guidance when the narrative cannot be asked for', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('guidance-limits', { env: { MCP_URL: mcp.url, BSM_ASSIST_RATE_MAX: '1', BSM_ASSIST_RATE_WINDOW_MS: '60000' } });
  });

  beforeEach(() => {
    mcp.reset();
    mcp.setDefault({ kind: 'ok', text: 'narrative' });
  });

  afterAll(async () => {
    await t.close();
  });

  const manual = async (subject: string) => {
    const [gap] = await seen(t, [{ source: 'manual', subject, check: 'reported', type: 'broken_integration', severity: 'high', title: `Checkout retries (${subject})`, components: ['checkout'], evidence: { expected: 'one charge', observed: 'two charges' } }]);
    return gap?.id ?? '';
  };

  it('support mode disabled: no model is asked, the rules answer', async () => {
    const answer = await guidance(t, await manual('disabled'));
    expect(answer.narrative).toBeNull();
    expect(answer.narrativeError).toBe('support mode is disabled: no model is asked until POST /admin/bedrock-support/enable');
    expect(answer.steps.length).toBeGreaterThan(2);
    expect(mcp.calls).toHaveLength(0);
  });

  it('past BSM_ASSIST_RATE_MAX for the key: the narrative is null with rate_limited; a cached one is still served', async () => {
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
    const first = await manual('first');
    expect((await guidance(t, first)).narrative).toMatchObject({ path: 'mcp', cached: false });
    const refused = await guidance(t, await manual('second'));
    expect(refused.narrative).toBeNull();
    expect(refused.narrativeError).toMatch(/^rate_limited: API key viewer-key asked 1 questions in the window of BSM_ASSIST_RATE_WINDOW_MS; ask again in \d+ s$/);
    expect(refused.steps.length).toBeGreaterThan(2);
    expect((await guidance(t, first)).narrative).toMatchObject({ path: 'mcp', cached: true });
    expect(mcp.calls).toHaveLength(1);
  });
});
