import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../src/observability/logger.js';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';

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
