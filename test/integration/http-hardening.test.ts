import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { freePort } from '../../src/redis-server.js';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('Swagger UI', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('http-hardening-docs');
  });

  afterAll(async () => {
    await t.close();
  });

  it('answers at /docs and at /docs/ (a bookmarked or typed trailing slash)', async () => {
    for (const path of ['/docs', '/docs/']) {
      const r = await t.call('GET', path, { role: null });
      expect(r.status, path).toBe(200);
      expect(r.headers.get('content-type'), path).toContain('text/html');
      expect(await r.text(), path).toContain('/docs/assets/swagger-ui-dist/swagger-ui-bundle.js');
    }
  });
});

describe('request ids', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('http-hardening-request-id');
  });

  afterAll(async () => {
    await t.close();
  });

  /** The audit trail's `http.request` entries, oldest first. */
  async function requestEntries(): Promise<{ target: string; details: Record<string, unknown> }[]> {
    const entries = await t.auditTrail.range();
    return entries.flatMap((e) => (e.event?.action === 'http.request' ? [{ target: e.event.target ?? '', details: e.event.details as Record<string, unknown> }] : []));
  }

  const change = (headers: Record<string, string>) => t.call('POST', '/admin/bedrock-support/enable', { role: 'operator', body: { active: false, reason: 'request id test' }, headers });

  it('the audit trail keeps a unique id of the server\'s own, beside a well-formed id the client sent', async () => {
    const before = (await requestEntries()).length;
    const first = await change({ 'x-request-id': 'deploy-42.step:1' });
    const second = await change({ 'x-request-id': 'deploy-42.step:1' });
    expect([first.status, second.status]).toEqual([200, 200]);
    const [a, b] = (await requestEntries()).slice(before);
    expect(a?.details).toMatchObject({ requestId: expect.stringMatching(uuid) as unknown, clientRequestId: 'deploy-42.step:1' });
    expect(b?.details).toMatchObject({ requestId: expect.stringMatching(uuid) as unknown, clientRequestId: 'deploy-42.step:1' });
    // The same client id twice: two entries still told apart, and each answer names its own entry.
    expect(a?.details.requestId).not.toBe(b?.details.requestId);
    expect(first.headers.get('x-request-id')).toBe(a?.details.requestId);
    expect(second.headers.get('x-request-id')).toBe(b?.details.requestId);
  });

  it('an id the client did not send, or sent malformed, is not recorded; the server\'s own is', async () => {
    const malformed = ['', ' ', 'has space', 'x'.repeat(129), 'tab\there', '<script>', 'a/b', 'ü-umlaut'];
    const before = (await requestEntries()).length;
    const answers = [await change({})];
    for (const id of malformed) {
      answers.push(await change({ 'x-request-id': id }));
    }
    const entries = (await requestEntries()).slice(before);
    expect(entries).toHaveLength(malformed.length + 1);
    entries.forEach((e, i) => {
      expect(e.details.requestId, `request ${i}`).toMatch(uuid);
      expect(e.details, `request ${i}`).not.toHaveProperty('clientRequestId');
      expect(answers[i]?.headers.get('x-request-id'), `request ${i}`).toBe(e.details.requestId);
    });
    expect(new Set(entries.map((e) => e.details.requestId)).size).toBe(entries.length);
    // The longest id accepted: 128 characters.
    const longest = `${'a'.repeat(127)}z`;
    await change({ 'x-request-id': longest });
    expect((await requestEntries()).at(-1)?.details.clientRequestId).toBe(longest);
  });
});

describe('the cross-site check behind an HTTPS proxy', () => {
  let proxied: TestApp;
  let direct: TestApp;
  const basic = `Basic ${Buffer.from(`op:${tokens.operator}`).toString('base64')}`;
  /** A board action as a browser sends it: Basic credentials, its Origin and Sec-Fetch-Site. */
  const boardAction = (t: TestApp, origin: string, site: string) =>
    t.app.request('http://10.0.0.5:3000/admin/queues/api/queues/meta-monitor/clean/completed', { method: 'PUT', headers: { authorization: basic, origin, 'sec-fetch-site': site } });

  beforeAll(async () => {
    proxied = await makeTestApp('http-hardening-public-url', { env: { BSM_PUBLIC_URL: 'https://bsm.example.com' } });
    direct = await makeTestApp('http-hardening-no-public-url');
  });

  afterAll(async () => {
    await proxied.close();
    await direct.close();
  });

  it('with BSM_PUBLIC_URL set, accepts a board action from that origin, and still from its own', async () => {
    // Behind the proxy the service sees plain http and its own host; the browser is on https://bsm.example.com.
    expect((await boardAction(proxied, 'https://bsm.example.com', 'same-origin')).status).toBe(200);
    expect((await boardAction(proxied, 'http://10.0.0.5:3000', 'same-origin')).status).toBe(200);
  });

  it('still refuses other origins, and without the setting the proxied origin', async () => {
    for (const origin of ['https://evil.example', 'http://bsm.example.com', 'https://bsm.example.com:8443', 'null']) {
      const r = await boardAction(proxied, origin, 'same-origin');
      expect(r.status, origin).toBe(403);
      expect(((await r.json()) as { error: { message: string } }).error.message).toBe('cross-site request refused');
    }
    expect((await boardAction(proxied, 'https://bsm.example.com', 'cross-site')).status).toBe(403);
    expect((await boardAction(direct, 'https://bsm.example.com', 'same-origin')).status).toBe(403);
  });
});

describe('failed logins', () => {
  let t: TestApp;
  const lines: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let now = Date.parse('2025-06-02T10:00:00Z');
  const wrong = 'wrong-token-0123456789-secret';

  beforeAll(async () => {
    const logger = createLogger('info', {}, {
      write: (line: string) => {
        raw.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      },
    });
    t = await makeTestApp('http-hardening-logins', { limits: { loginFailures: 3, loginWindowMs: 60_000, loginLogLines: 2 }, logger, clock: () => new Date(now) });
  });

  afterAll(async () => {
    await t.close();
  });

  /** A request as it comes over a socket from `address`. */
  const from = (address: string, path: string, authorization?: string) =>
    Promise.resolve(t.app.request(path, { headers: authorization ? { authorization } : {} }, { incoming: { socket: { remoteAddress: address, remotePort: 40_000, remoteFamily: 'IPv4' } } }));
  const bearer = (token: string) => `Bearer ${token}`;
  const basic = (token: string) => `Basic ${Buffer.from(`someone:${token}`).toString('base64')}`;
  const status = '/admin/bedrock-support/status';

  it('after a few wrong tokens a client address gets 429 with Retry-After until its window ends; others and public routes do not', async () => {
    const attacker = '203.0.113.7';
    for (let i = 0; i < 3; i++) {
      expect((await from(attacker, status, bearer(`${wrong}${i}`))).status).toBe(401);
    }
    now += 10_000;
    const refused = await from(attacker, status, bearer(wrong));
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('50');
    expect(await refused.json()).toEqual({
      error: { code: 'too_many_failed_logins', message: 'too many failed logins from this address: try again in 50 s', details: { retryAfterSeconds: 50 } },
    });
    // A right token from the same address waits too (else guessing would go on at full speed), on every authenticated path.
    expect((await from(attacker, status, bearer(tokens.viewer))).status).toBe(429);
    expect((await from(attacker, '/admin/queues', basic(tokens.viewer))).status).toBe(429);
    // Without credentials nothing is checked: a browser still gets its challenge; public routes answer.
    expect((await from(attacker, '/admin/queues')).status).toBe(401);
    expect((await from(attacker, '/health')).status).toBe(200);
    // Another address is not affected.
    expect((await from('198.51.100.20', status, bearer(tokens.viewer))).status).toBe(200);
    expect((await from('198.51.100.20', status, bearer(wrong))).status).toBe(401);

    now += 50_000;
    expect((await from(attacker, status, bearer(tokens.viewer))).status).toBe(200);
  });

  it('wrong Basic credentials count as well; missing credentials and right ones do not, nor do right ones clear the count', async () => {
    const browser = '203.0.113.8';
    for (let i = 0; i < 5; i++) {
      expect((await from(browser, '/admin/queues')).status).toBe(401);
    }
    expect((await from(browser, '/admin/queues', basic(wrong))).status).toBe(401);
    expect((await from(browser, '/admin/queues', basic(tokens.viewer))).status).toBe(200);
    expect((await from(browser, '/test/bedrock-support/meta-monitor', basic(wrong))).status).toBe(401);
    expect((await from(browser, status, bearer(tokens.operator))).status).toBe(200);
    expect((await from(browser, status, bearer(wrong))).status).toBe(401);
    expect((await from(browser, status, bearer(tokens.operator))).status).toBe(429);
    now += 60_000;
  });

  it('logs each failure with the address and a fingerprint of the token, never the token, within a budget of lines per client and window', async () => {
    lines.length = 0;
    raw.length = 0;
    const client = '203.0.113.9';
    for (let i = 0; i < 6; i++) {
      await from(client, status, bearer(i < 3 ? wrong : `${wrong}-other`));
    }
    const failures = lines.filter((l) => l.msg === 'failed login: the credentials match no API key');
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatchObject({ level: 'WARN', client, scheme: 'bearer', method: 'GET', path: status, failures: 1, token: expect.stringMatching(/^[0-9a-f]{12}$/) as unknown });
    // The same wrong token shows as the same fingerprint.
    expect(failures[1]?.token).toBe(failures[0]?.token);
    expect(lines.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('too many failed logins'))).toEqual([
      expect.objectContaining({ level: 'WARN', client, failures: 3, retryAfterSeconds: 60 }),
    ]);
    // Once the window is over, the next failure (from anyone) says how many were not logged.
    now += 60_000;
    await from('203.0.113.10', status, bearer(wrong));
    expect(lines.find((l) => l.client === client && l.msg === 'failed logins of a client, counted but not logged one by one')).toMatchObject({ failures: 3, unlogged: 1, refused: 3 });
    expect(lines.filter((l) => l.client === client)).toHaveLength(4);
    for (const line of raw) {
      expect(line).not.toContain(wrong);
      expect(line).not.toContain(Buffer.from(`someone:${wrong}`).toString('base64'));
    }
  });
});

/** A Content-Security-Policy header as directive -> sources. */
function parseCsp(header: string | null): Map<string, string[]> {
  return new Map(
    (header ?? '')
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((parts) => parts[0])
      .map(([name, ...sources]) => [name ?? '', sources]),
  );
}

/** What a page loads and runs: its scripts (inline ones with their text), stylesheets and icons. */
function pageParts(html: string) {
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)].map((m) => ({
    src: /\bsrc="([^"]*)"/.exec(m[1] ?? '')?.[1],
    type: /\btype="([^"]*)"/.exec(m[1] ?? '')?.[1],
    text: m[2] ?? '',
  }));
  const links = [...html.matchAll(/<link\b[^>]*\bhref="([^"]*)"/g)].map((m) => m[1] ?? '');
  return { scripts, links };
}

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The checks every HTML page of the service passes: it cannot be framed, and the policy allows exactly what it runs. */
async function expectPolicedPage(r: Response, label: string): Promise<{ csp: Map<string, string[]>; html: string }> {
  expect(r.status, label).toBe(200);
  const csp = parseCsp(r.headers.get('content-security-policy'));
  expect(csp.get('frame-ancestors'), label).toEqual(["'none'"]);
  expect(r.headers.get('x-frame-options'), label).toBe('DENY');
  expect(csp.get('default-src'), label).toEqual(["'self'"]);
  expect(csp.get('object-src'), label).toEqual(["'none'"]);
  expect(csp.get('base-uri'), label).toEqual(["'self'"]);
  const scriptSrc = csp.get('script-src') ?? [];
  expect(scriptSrc, label).not.toContain("'unsafe-inline'");
  expect(scriptSrc, label).not.toContain("'unsafe-eval'");
  expect(r.headers.get('x-content-type-options'), label).toBe('nosniff');
  expect(r.headers.get('referrer-policy'), label).toBe('no-referrer');
  const html = await r.text();
  for (const script of pageParts(html).scripts) {
    if (script.src !== undefined) {
      // Loaded from this origin (an absolute path, or relative to the page's base).
      expect(script.src, label).not.toMatch(/^(https?:)?\/\//);
    } else if (script.type !== 'application/json') {
      // A script in the page runs only when the policy names its hash.
      expect(scriptSrc, `${label}: inline script ${script.text.slice(0, 60)}`).toContain(sha256(script.text));
    }
  }
  return { csp, html };
}

describe('the HTML pages: a content security policy that lets them work, and no framing', () => {
  let t: TestApp;
  const viewer = `Basic ${Buffer.from(`viewer:${tokens.viewer}`).toString('base64')}`;

  beforeAll(async () => {
    t = await makeTestApp('http-hardening-csp');
  });

  afterAll(async () => {
    await t.close();
  });

  it('Swagger UI: its one inline script is allowed by hash, its assets come from here, and it calls no outside validator', async () => {
    for (const path of ['/docs', '/docs/']) {
      const { csp, html } = await expectPolicedPage(await t.call('GET', path, { role: null }), path);
      expect(pageParts(html).scripts.filter((s) => s.src === undefined)).toHaveLength(1);
      expect(pageParts(html).links.every((href) => href.startsWith('/docs/assets/')), path).toBe(true);
      expect(csp.get('connect-src'), path).toEqual(["'self'"]);
      expect(html, path).toContain("validatorUrl: 'none'");
    }
    const asset = await t.call('GET', '/docs/assets/swagger-ui-dist/swagger-ui.css', { role: null });
    expect(asset.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('Bull Board: its page and deep links run only its own scripts, and its sign-in challenge cannot be framed either', async () => {
    for (const path of ['/admin/queues', '/admin/queues/', '/admin/queues/queue/meta-monitor']) {
      const { html } = await expectPolicedPage(await t.call('GET', path, { role: null, headers: { authorization: viewer } }), path);
      expect(html, path).toContain('<div id="root"');
      // The board's configuration is a JSON data block, which no policy runs.
      expect(pageParts(html).scripts.filter((s) => s.src === undefined).map((s) => s.type), path).toEqual(['application/json']);
    }
    const challenge = await t.call('GET', '/admin/queues', { role: null });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('x-frame-options')).toBe('DENY');
    expect(parseCsp(challenge.headers.get('content-security-policy')).get('frame-ancestors')).toEqual(["'none'"]);
  });
});

describe('headers on every answer of the running service', () => {
  const redis = testRedis();
  const bsmPrefix = uniquePrefix('http-hardening-served');
  const viewer = 'viewer-token-served-0123456789';
  let dataDir = '';
  let base = '';
  let service: ReturnType<typeof spawnBsm>;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-headers-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = spawnBsm(['api'], { BSM_PREFIX: bsmPrefix, PORT: String(port), BSM_DATA_DIR: dataDir, BSM_API_KEYS: `v:viewer:${viewer}` });
    await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 20_000, 100);
  });

  afterAll(async () => {
    service.kill('SIGTERM');
    await waitForExit(service);
    await deleteKeys(redis, `{${bsmPrefix}}`);
    await redis.quit();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('every answer, whatever made it, says nosniff and no-referrer', async () => {
    const bearer = { authorization: `Bearer ${viewer}` };
    const requests: [string, RequestInit][] = [
      ['/health', {}],
      ['/health/bedrock-support', {}],
      ['/health/nothing-here', {}],
      ['/openapi.json', {}],
      ['/docs', {}],
      ['/docs/assets/swagger-ui-dist/swagger-ui-bundle.js', {}],
      ['/admin/bedrock-support/status', { headers: bearer }],
      ['/admin/bedrock-support/status', {}],
      ['/admin/bedrock-support/status?verbose=1', { headers: bearer }],
      ['/admin/bedrock-support/enable', { method: 'POST', headers: { ...bearer, 'content-type': 'application/json' }, body: '{' }],
      ['/admin/bedrock-support/status', { method: 'DELETE', headers: bearer }],
      ['/nowhere', {}],
      ['/admin/queues', { headers: { authorization: `Basic ${Buffer.from(`v:${viewer}`).toString('base64')}` } }],
      ['/admin/queues/api/queues', { headers: bearer }],
    ];
    const statuses: number[] = [];
    for (const [path, init] of requests) {
      const r = await fetch(`${base}${path}`, init);
      await r.arrayBuffer();
      statuses.push(r.status);
      expect(r.headers.get('x-content-type-options'), `${init.method ?? 'GET'} ${path}`).toBe('nosniff');
      expect(r.headers.get('referrer-policy'), `${init.method ?? 'GET'} ${path}`).toBe('no-referrer');
    }
    expect(new Set(statuses)).toEqual(new Set([200, 400, 401, 403, 404, 405]));
  });

  it('answers on the authenticated paths are not stored by any cache, except the board\'s static files; public answers may be', async () => {
    const bearer = { authorization: `Bearer ${viewer}` };
    const basic = { authorization: `Basic ${Buffer.from(`v:${viewer}`).toString('base64')}` };
    const get = async (path: string, init: RequestInit = {}) => {
      const r = await fetch(`${base}${path}`, init);
      const body = await r.text();
      return { label: `${init.method ?? 'GET'} ${path} -> ${r.status}`, cacheControl: r.headers.get('cache-control'), body };
    };
    const authenticated = [
      await get('/admin/bedrock-support/status', { headers: bearer }),
      await get('/admin/bedrock-support/status'),
      await get('/admin/bedrock-support/status?x=1', { headers: bearer }),
      await get('/admin/feature-flags/bedrock-support', { headers: bearer }),
      await get('/admin', { headers: bearer }),
      await get('/test/bedrock-support/meta-monitor', { method: 'POST', headers: bearer }),
      await get('/admin/queues/api/queues', { headers: bearer }),
      await get('/admin/queues', { headers: basic }),
    ];
    for (const a of authenticated) {
      expect(a.cacheControl, a.label).toBe('no-store');
    }
    for (const path of ['/health', '/health/bedrock-support', '/docs', '/openapi.json']) {
      expect((await get(path)).cacheControl, path).toBeNull();
    }
    const page = authenticated.at(-1)?.body ?? '';
    const script = pageParts(page).scripts.find((x) => x.src !== undefined)?.src ?? '';
    expect(script).toMatch(/^static\//);
    const asset = await get(`/admin/queues/${script}`, { headers: basic });
    expect(asset.label).toMatch(/ 200$/);
    expect(asset.cacheControl).toBe('private');
    expect((await get(`/admin/queues/${script}`)).cacheControl).toBe('no-store');
  });
});
