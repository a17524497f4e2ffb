import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
