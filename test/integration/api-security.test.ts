import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/api/auth.js';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';

interface Operation {
  method: string;
  path: string;
  security: unknown[] | undefined;
  permission: string | undefined;
  hasBody: boolean;
}

const permissionRoles: Record<string, Role[]> = { read: [], ingest: ['viewer', 'operator', 'approver'], operate: ['viewer', 'approver'], approve: ['viewer', 'operator'], administer: ['viewer', 'operator', 'approver'] };

function concrete(path: string): string {
  return path.replace('{component}', 'meta-monitor').replace('{flag}', 'bedrock-support').replace('{kind}', 'daily');
}

describe('API security and input validation', () => {
  let t: TestApp;
  let operations: Operation[];

  beforeAll(async () => {
    t = await makeTestApp('security');
    const doc = (await (await t.call('GET', '/openapi.json', { role: null })).json()) as {
      paths: Record<string, Record<string, { security?: unknown[]; 'x-required-permission'?: string; requestBody?: unknown }>>;
    };
    operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        security: op.security,
        permission: op['x-required-permission'],
        hasBody: op.requestBody !== undefined,
      })),
    );
  });

  afterAll(async () => {
    await t.close();
  });

  it('the OpenAPI document lists the runbook routes and marks every /admin and /test route as protected', () => {
    expect(operations.map((o) => `${o.method} ${o.path}`)).toEqual(
      expect.arrayContaining([
        'GET /health',
        'GET /health/detailed',
        'GET /health/bedrock-support',
        'GET /health/bedrock-support/detailed',
        'GET /health/component/{component}',
        'GET /health/{component}',
        'GET /admin/feature-flags/bedrock-support',
        'POST /admin/feature-flags/bedrock-support/enable',
        'POST /admin/feature-flags/bedrock-support/disable',
        'POST /admin/bedrock-support/enable',
        'POST /admin/bedrock-support/activate',
        'POST /admin/bedrock-support/activate-component',
        'POST /admin/bedrock-support/deactivate',
        'POST /admin/bedrock-support/emergency/shutdown',
        'GET /admin/bedrock-support/status',
        'GET /admin/bedrock-support/schedules',
        'POST /test/bedrock-support/{component}',
        'POST /admin/bedrock-support/audit/trigger',
        'GET /admin/bedrock-support/audit/status/{id}',
        'GET /admin/bedrock-support/audit/latest',
        'GET /admin/bedrock-support/audit/{id}/details',
        'GET /admin/bedrock-support/audit/{id}/export',
        'GET /admin/bedrock-support/audits/last-24h',
        'GET /admin/bedrock-support/audit/config',
        'GET /admin/bedrock-support/audit/permissions',
        'GET /admin/bedrock-support/audit-trail/verify',
        'GET /admin/bedrock-support/audit-trail/gaps',
        'GET /admin/bedrock-support/audit-trail/integrity',
        'GET /admin/bedrock-support/audit-trail/public-key',
        'POST /admin/bedrock-support/audit-trail/archive',
        'GET /admin/bedrock-support/audit-trail/archive/{id}',
        'POST /admin/bedrock-support/audit-trail/cleanup',
        'GET /admin/bedrock-support/compliance/gdpr/status',
        'GET /admin/bedrock-support/compliance/gdpr/residency',
        'GET /admin/bedrock-support/compliance/pii/status',
        'POST /v1/traces',
        'POST /admin/bedrock-support/compliance/report',
        'GET /admin/bedrock-support/compliance/report/{id}',
        'GET /admin/bedrock-support/compliance/export',
      ]),
    );
    for (const op of operations) {
      if (op.path.startsWith('/admin') || op.path.startsWith('/test') || op.path.startsWith('/v1/')) {
        expect(op.security, `${op.method} ${op.path}`).toEqual([{ bearerAuth: [] }]);
        expect(['read', 'ingest', 'operate', 'approve', 'administer']).toContain(op.permission);
      } else {
        expect(op.path.startsWith('/health'), op.path).toBe(true);
        expect(op.security).toEqual([]);
      }
    }
  });

  it('every protected route rejects no token and a wrong token with 401, and a too-low role with 403', async () => {
    const protectedOps = operations.filter((o) => o.security?.length);
    for (const op of protectedOps) {
      const path = concrete(op.path);
      const none = await t.call(op.method, path, { role: null });
      expect(none.status, `${op.method} ${path} without a token`).toBe(401);
      const wrong = await t.call(op.method, path, { role: null, headers: { authorization: `Bearer ${tokens.admin}x` } });
      expect(wrong.status, `${op.method} ${path} with a wrong token`).toBe(401);
      expect(((await wrong.json()) as { error: { code: string } }).error).toEqual({ code: 'unauthorized', message: expect.any(String) as unknown, details: null });
      for (const role of permissionRoles[op.permission ?? 'read'] ?? []) {
        const low = await t.call(op.method, path, { role, body: {} });
        expect(low.status, `${op.method} ${path} as ${role}`).toBe(403);
        expect(Object.keys(((await low.json()) as { error: object }).error)).toEqual(['code', 'message', 'details']);
      }
    }
    // Nothing a rejected request did reached the audit trail or the state.
    expect(await t.auditTrail.length()).toBe(0);
    expect((await t.supportMode.read()).version).toBe(0);
  });

  it('/mcp (the MCP server: not in the OpenAPI document, MCP lists its own tools) takes the same keys: 401 without one or with a wrong one', async () => {
    const initialize = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'security', version: '1' } } };
    const accept = { accept: 'application/json, text/event-stream' };
    const none = await t.call('POST', '/mcp', { role: null, headers: accept, body: initialize });
    expect(none.status).toBe(401);
    const wrong = await t.call('POST', '/mcp', { role: null, headers: { ...accept, authorization: `Bearer ${tokens.admin}x` }, body: initialize });
    expect(wrong.status).toBe(401);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    expect((await t.call('GET', '/mcp', { role: null })).status).toBe(401);
    // Any key gets in: what it may do there is what its role may do on each tool's route.
    for (const role of ['viewer', 'ingest'] as const) {
      expect((await t.call('POST', '/mcp', { role, headers: accept, body: initialize })).status, role).toBe(200);
    }
    // Cross-site requests are refused here as on every state-changing route.
    expect((await t.call('POST', '/mcp', { role: 'admin', headers: { ...accept, origin: 'https://evil.example' }, body: initialize })).status).toBe(403);
  });

  it('a documented path asked with the wrong method is a 405 naming the methods; an unknown path a 404', async () => {
    const get = await t.call('GET', '/admin/bedrock-support/enable', { role: 'admin' });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    expect(await get.json()).toMatchObject({ error: { code: 'method_not_allowed', message: '/admin/bedrock-support/enable takes POST, not GET', details: { allowed: ['POST'] } } });
    const post = await t.call('POST', '/health/component/meta-monitor', { role: null });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await t.call('DELETE', '/test/bedrock-support/meta-monitor', { role: 'admin' })).headers.get('allow')).toBe('POST');
    expect((await t.call('GET', '/admin/bedrock-support/nothing-here', { role: 'admin' })).status).toBe(404);
    // An unknown query parameter is named, as an unknown body field is.
    for (const path of ['/admin/bedrock-support/status?verbose=1', '/admin/bedrock-support/schedules?verbose=1', '/admin/feature-flags/bedrock-support?verbose=1']) {
      const r = await t.call('GET', path, { role: 'viewer' });
      expect(r.status, path).toBe(400);
      expect(((await r.json()) as { error: { message: string } }).error.message, path).toBe('verbose is not a known field');
    }
    // Without a token a protected path still answers 401 first: nothing about it leaks.
    expect((await t.call('GET', '/admin/bedrock-support/enable', { role: null })).status).toBe(401);
  });

  it('health endpoints answer without a token', async () => {
    for (const op of operations.filter((o) => !o.security?.length)) {
      const r = await t.call(op.method, concrete(op.path), { role: null });
      expect(r.status, op.path).toBe(200);
    }
  });

  it('a 5,000-deep array where a component name belongs is a 400 naming the field, not a 500', async () => {
    const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`;
    for (const [path, field] of [
      ['/admin/bedrock-support/activate', 'components'],
      ['/admin/bedrock-support/activate-component', 'component'],
    ] as const) {
      const r = await t.call('POST', path, { role: 'operator', rawBody: `{"${field}":${deep}}`, headers: { 'content-type': 'application/json' } });
      expect(r.status, path).toBe(400);
      const body = (await r.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('invalid_request');
      expect(body.error.message).toMatch(new RegExp(`^${field}(\\.0)? must be .*, got an array$`));
    }
  });

  it('malformed bodies on every mutating route get a 4xx naming the problem, and change nothing', async () => {
    const mutating = operations.filter((o) => o.method === 'POST');
    expect(mutating.map((o) => o.path).sort()).toEqual(
      [
        '/admin/bedrock-support/activate',
        '/admin/bedrock-support/activate-component',
        '/admin/bedrock-support/alerts/{id}/ack',
        '/admin/bedrock-support/assist',
        '/admin/bedrock-support/audit-trail/archive',
        '/admin/bedrock-support/audit-trail/cleanup',
        '/admin/bedrock-support/audit/trigger',
        '/admin/bedrock-support/cloudwatch/dashboards',
        '/admin/bedrock-support/compliance/report',
        '/admin/bedrock-support/components/{component}/restart',
        '/admin/bedrock-support/deactivate',
        '/admin/bedrock-support/emergency/shutdown',
        '/admin/bedrock-support/enable',
        '/admin/bedrock-support/implementation/approvals/{id}',
        '/admin/bedrock-support/implementation/approvals/{id}/rollback',
        '/admin/bedrock-support/implementation/backlog/items',
        '/admin/bedrock-support/implementation/backlog/prioritize',
        '/admin/bedrock-support/implementation/gaps',
        '/admin/bedrock-support/implementation/gaps/{id}/dismiss',
        '/admin/bedrock-support/implementation/remediate',
        '/admin/bedrock-support/implementation/spec-scan',
        '/admin/bedrock-support/meta-monitor/analyze',
        '/admin/bedrock-support/meta-monitor/executions',
        '/admin/bedrock-support/meta-monitor/optimizations/{id}/revert',
        '/admin/bedrock-support/meta-monitor/optimize',
        '/admin/bedrock-support/reports/{kind}',
        '/admin/feature-flags/bedrock-support/disable',
        '/admin/feature-flags/bedrock-support/enable',
        '/admin/feature-flags/{flag}/disable',
        '/admin/feature-flags/{flag}/enable',
        '/test/bedrock-support/{component}',
        '/v1/traces',
      ].sort(),
    );
    // `message` where every route words it alike; otherwise the message starts with the field it names.
    const bad: { name: string; rawBody?: string; body?: unknown; headers?: Record<string, string>; status: number; code: string; message?: string }[] = [
      { name: 'invalid JSON', rawBody: '{"component": ', headers: { 'content-type': 'application/json' }, status: 400, code: 'bad_request', message: 'body is not valid JSON' },
      { name: 'a JSON array', body: [1, 2], status: 400, code: 'invalid_request', message: '(body): Invalid input: expected object, received array' },
      { name: 'an unknown field', body: { componnet: 'meta-monitor', reason: 'x' }, status: 400, code: 'invalid_request' },
      { name: 'wrong types', body: { component: 5, components: 'all', active: 'yes', reason: 7, initiated_by: [], immediate: 'no' }, status: 400, code: 'invalid_request' },
      {
        name: 'a form body',
        rawBody: 'component=meta-monitor',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        status: 415,
        code: 'unsupported_media_type',
        message: 'send the body as JSON, with Content-Type: application/json',
      },
      {
        name: 'a body over the limit',
        rawBody: JSON.stringify({ reason: 'x'.repeat(70_000) }),
        headers: { 'content-type': 'application/json' },
        status: 413,
        code: 'payload_too_large',
        message: 'request body exceeds 65536 bytes',
      },
    ];
    const stateBefore = await t.supportMode.read();
    const trailBefore = await t.auditTrail.length();
    const jobsBefore = await t.fleet.queue('meta-monitor').getJobCounts();
    // The ingest routes take a JSON array or NDJSON, or an OTLP export, and a larger body: executions.test.ts and
    // otlp-ingest.test.ts cover their malformed bodies.
    for (const op of mutating.filter((o) => o.path !== '/admin/bedrock-support/meta-monitor/executions' && o.path !== '/v1/traces')) {
      for (const b of bad) {
        const r = await t.call(op.method, concrete(op.path), { role: 'admin', body: b.body, rawBody: b.rawBody, headers: b.headers });
        expect(r.status, `${op.method} ${op.path} with ${b.name}`).toBe(b.status);
        const body = (await r.json()) as { error: { code: string; message: string; details: { field?: string } | null } };
        expect(Object.keys(body.error), `${op.path} ${b.name}`).toEqual(['code', 'message', 'details']);
        expect(body.error.code, `${op.path} ${b.name}`).toBe(b.code);
        if (b.message !== undefined) {
          expect(body.error.message, `${op.path} ${b.name}`).toBe(b.message);
        } else {
          expect(body.error.details?.field, `${op.path} ${b.name}`).toMatch(/^[a-z_]+$/);
          const field = body.error.details?.field ?? '';
          expect([`${field} `, `${field}:`].some((start) => body.error.message.startsWith(start)), `${op.path} ${b.name}: ${body.error.message}`).toBe(true);
        }
      }
    }
    const errorOf = async (r: Response) => ((await r.json()) as { error: { message: string; details: { field: string } } }).error;
    const components = '"infrastructure-auditor", "meta-monitor", "implementation-support"';
    // The message names the field, what it must be and what was given.
    expect(await errorOf(await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component: 'nope' } }))).toMatchObject({
      message: `component must be one of ${components}, got "nope"`,
      details: { field: 'component', issues: [{ path: 'component', message: `component must be one of ${components}, got "nope"` }] },
    });
    expect((await errorOf(await t.call('POST', '/admin/bedrock-support/activate-component', { body: {} }))).message).toBe('component is required');
    expect((await errorOf(await t.call('POST', '/admin/bedrock-support/activate', { body: { components: ['all', 'bogus'] } }))).message).toBe(
      `components.1 must be one of ${components}, "all", got "bogus"`,
    );
    expect(await errorOf(await t.call('POST', '/admin/bedrock-support/enable', { body: { activ: true } }))).toMatchObject({ message: 'activ is not a known field', details: { field: 'activ' } });
    // Context for the operator: a depth that would exhaust the stack, and a number JSON cannot carry.
    const deep = `{"question":"q","context":{"a":${'['.repeat(5000)}1${']'.repeat(5000)}}}`;
    const tooDeep = await t.call('POST', '/admin/bedrock-support/assist', { rawBody: deep, headers: { 'content-type': 'application/json' } });
    expect(tooDeep.status).toBe(400);
    expect(await errorOf(tooDeep)).toMatchObject({ message: expect.stringMatching(/^context: is nested deeper than 16 levels \(at a\.0\.0/) as unknown, details: { field: 'context' } });
    const infinite = await t.call('POST', '/admin/bedrock-support/assist', { rawBody: '{"question":"q","context":{"waiting":1e999}}', headers: { 'content-type': 'application/json' } });
    expect(infinite.status).toBe(400);
    expect((await errorOf(infinite)).message).toBe('context: waiting must be a finite number');
    expect((await errorOf(await t.call('POST', '/admin/bedrock-support/emergency/shutdown', { body: { reason: 'x' } }))).message).toBe('initiated_by is required');
    expect((await errorOf(await t.call('POST', '/admin/bedrock-support/enable', { body: { active: 'yes' } }))).message).toMatch(/^active: Invalid input: expected boolean/);

    expect(await t.supportMode.read()).toEqual(stateBefore);
    expect(await t.auditTrail.length()).toBe(trailBefore);
    expect(await t.fleet.queue('meta-monitor').getJobCounts()).toEqual(jobsBefore);
  });

  it('refuses a cross-site request that carries browser credentials', async () => {
    const basic = `Basic ${Buffer.from(`x:${tokens.admin}`).toString('base64')}`;
    const r = await t.call('POST', '/admin/feature-flags/bedrock-support/enable', { role: null, headers: { authorization: basic, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(r.status).toBe(403);
    expect((await t.supportMode.read()).flag.enabled).toBe(false);
  });

  it('serves Swagger UI and its assets without the internet', async () => {
    const page = await t.call('GET', '/docs', { role: null });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('/docs/assets/swagger-ui-dist/swagger-ui-bundle.js');
    const asset = await t.call('GET', '/docs/assets/swagger-ui-dist/swagger-ui-bundle.js', { role: null });
    expect(asset.status).toBe(200);
  });
});

describe('Bull Board', () => {
  let t: TestApp;
  const basic = (role: Role) => `Basic ${Buffer.from(`${role}:${tokens[role]}`).toString('base64')}`;

  beforeAll(async () => {
    t = await makeTestApp('bullboard', { workers: ['meta-monitor'] });
  });

  afterAll(async () => {
    await t.close();
  });

  it('asks a browser for credentials, then serves its page', async () => {
    const anonymous = await t.call('GET', '/admin/queues', { role: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic');
    const page = await t.call('GET', '/admin/queues', { role: null, headers: { authorization: basic('viewer') } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<div id="root"');
  });

  it('lists the five queues', async () => {
    const r = await t.call('GET', '/admin/queues/api/queues', { role: null, headers: { authorization: basic('viewer') } });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual(['bedrock-support', 'compliance', 'implementation-support', 'infrastructure-auditor', 'meta-monitor']);
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
  });

  it('is read-only for viewers and writable for operators, with the change audited', async () => {
    // A completed job to clean away.
    await t.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    const runnerQueue = t.fleet.queue('meta-monitor');
    const job = await t.fleet.add('meta-monitor', 'canary', {});
    const finished = await t.fleet.waitForFinish('meta-monitor', job.id as string, 10_000);
    expect(await finished?.getState()).toBe('completed');
    const completedBefore = await runnerQueue.getCompletedCount();
    expect(completedBefore).toBe(1);

    const jobPath = `/admin/queues/api/queues/meta-monitor/${job.id}/clean`;
    const asViewer = await t.call('PUT', jobPath, { role: null, headers: { authorization: basic('viewer') } });
    // Bull Board's own refusal of a read-only board.
    expect(asViewer.status).toBe(405);
    expect(await asViewer.json()).toEqual({ error: { key: 'ERRORS.QUEUE_READ_ONLY' } });
    expect(await runnerQueue.getCompletedCount()).toBe(completedBefore);

    const list = await t.call('GET', '/admin/queues/api/queues', { role: null, headers: { authorization: basic('operator') } });
    const body = (await list.json()) as { queues: { name: string; readOnlyMode: boolean }[] };
    expect(body.queues.every((q) => !q.readOnlyMode)).toBe(true);
    // The browser's credentials from another site do not reach a Bull Board mutation.
    const forged = await t.call('PUT', jobPath, { role: null, headers: { authorization: basic('operator'), origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(forged.status).toBe(403);
    expect(await runnerQueue.getCompletedCount()).toBe(completedBefore);

    const clean = await t.call('PUT', jobPath, { role: null, headers: { authorization: basic('operator') } });
    expect(clean.status).toBe(204);
    expect(await runnerQueue.getCompletedCount()).toBe(0);
    const trail = await t.auditTrail.range();
    expect(trail.map((e) => e.event?.target)).toContain(`PUT ${jobPath}`);
  });

  it('leaves pausing to support mode, and schedulers, rate limits and new jobs to the API and settings', async () => {
    // Support mode active: meta-monitor runs, so a pause that got through would show.
    await t.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    for (const path of [
      'meta-monitor/pause',
      'meta-monitor/resume',
      'pause',
      'resume',
      'meta-monitor/obliterate',
      'meta-monitor/concurrency',
      'meta-monitor/rate-limit',
      'meta-monitor/rate-limit/release',
      'meta-monitor/add',
      'compliance/job-schedulers/daily-compliance-check',
      'meta-monitor/1/update-data',
    ]) {
      for (const method of ['PUT', 'POST', 'DELETE', 'PATCH']) {
        const r = await t.call(method, `/admin/queues/api/queues/${path}`, { role: null, headers: { authorization: basic('admin') } });
        expect(r.status, `${method} ${path}`).toBe(409);
      }
    }
    expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(false);
    const before = (await t.supportMode.read()).version;
    const pause = await t.call('PUT', '/admin/queues/api/queues/meta-monitor/pause', { role: null, headers: { authorization: basic('operator') } });
    // In the board's own shape: its toast shows `error` as the title and `message` as the text.
    expect(await pause.json()).toEqual({
      error: 'Not from Bull Board',
      message: 'Use POST /admin/bedrock-support/activate-component or /deactivate (support mode owns queue pausing).',
      code: 'conflict',
      details: null,
    });
    expect(await t.fleet.queue('meta-monitor').isPaused()).toBe(false);
    expect((await t.supportMode.read()).version).toBe(before);
  });

  it('releasing a throttling back-off is refused: the back-off stays', async () => {
    const queue = t.fleet.queue('infrastructure-auditor');
    await queue.rateLimit(60_000);
    const r = await t.call('PUT', '/admin/queues/api/queues/infrastructure-auditor/rate-limit/release', { role: null, headers: { authorization: basic('admin') } });
    expect(r.status).toBe(409);
    expect(await queue.getRateLimitTtl()).toBeGreaterThan(50_000);
    await queue.removeRateLimitKey();
  });

  it('a queue that ran a job is not shown as rate limited; one whose back-off is on is', async () => {
    await t.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
    const job = await t.fleet.add('meta-monitor', 'canary', {});
    expect(await (await t.fleet.waitForFinish('meta-monitor', job.id as string, 10_000))?.getState()).toBe('completed');
    const rateLimitTtl = async (queue: string) => {
      const r = await t.call('GET', '/admin/queues/api/queues', { role: null, headers: { authorization: basic('viewer') } });
      expect(r.status).toBe(200);
      const body = (await r.json()) as { queues: { name: string; activeRateLimitTtl: number }[] };
      return body.queues.find((q) => q.name === queue)?.activeRateLimitTtl;
    };
    expect(await rateLimitTtl('meta-monitor')).toBe(0);
    await t.fleet.queue('implementation-support').rateLimit(30_000);
    expect(await rateLimitTtl('implementation-support')).toBeGreaterThan(20_000);
    await t.fleet.queue('implementation-support').removeRateLimitKey();
  });

  it('a reloaded or bookmarked board URL with a trailing slash serves the board', async () => {
    for (const path of ['/admin/queues/', '/admin/queues/?status=completed']) {
      const r = await t.call('GET', path, { role: null, headers: { authorization: basic('viewer') } });
      expect(r.status, path).toBe(200);
      expect(await r.text()).toContain('<div id="root"');
    }
  });

  it('emptying a queue whose scheduler has a run waiting is refused, so the schedule keeps firing', async () => {
    // A paused queue holds its scheduler's due run in waiting, as "promote all" does.
    await t.supportMode.execute({ type: 'deactivate', components: ['infrastructure-auditor'] }, { by: 'test' });
    const queue = t.fleet.queue('infrastructure-auditor');
    await queue.upsertJobScheduler('test-audit', { every: 60_000 }, { name: 'audit', data: { type: 'incremental' }, opts: { priority: 5 } });
    const [delayed] = await queue.getDelayed();
    await delayed?.promote();
    const r = await t.call('PUT', '/admin/queues/api/queues/infrastructure-auditor/empty', { role: null, headers: { authorization: basic('operator') } });
    expect(r.status).toBe(409);
    expect(((await r.json()) as { message: string }).message).toContain('test-audit');
    const scheduler = await queue.getJobScheduler('test-audit');
    expect(await queue.getJobState(`repeat:test-audit:${scheduler?.next}`)).toMatch(/^(waiting|prioritized)$/);
    await queue.removeJobScheduler('test-audit');
    await queue.drain();
    const emptied = await t.call('PUT', '/admin/queues/api/queues/infrastructure-auditor/empty', { role: null, headers: { authorization: basic('operator') } });
    expect(emptied.status).toBe(200);
  });
});
