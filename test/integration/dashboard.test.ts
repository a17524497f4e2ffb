import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';

const basic = (user: string, token: string) => `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}`;

describe('the dashboard and its CSRF rule', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('dashboard');
  });

  afterAll(async () => {
    await t.close();
  });

  it('asks a browser for Basic credentials, then serves the page under its content security policy', async () => {
    const anonymous = await t.call('GET', '/dashboard', { role: null });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toContain('Basic realm="Bedrock Support Mode"');
    const page = await t.call('GET', '/dashboard', { role: null, headers: { authorization: basic('v', tokens.viewer) } });
    expect(page.status).toBe(200);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const html = await page.text();
    expect(html).toContain('<script src="/dashboard/assets/dashboard.js" defer></script>');
    // No inline script: every <script> loads a file of the service.
    expect([...html.matchAll(/<script\b([^>]*)>/g)].every((m) => /src="\/dashboard\/assets\//.test(m[1] ?? ''))).toBe(true);
    expect(html).not.toMatch(/https?:\/\//);
    // An ingest key reads nothing.
    expect((await t.call('GET', '/dashboard', { role: null, headers: { authorization: basic('i', tokens.ingest) } })).status).toBe(403);
  });

  it('serves uPlot and its own files from the service, and says who the caller is', async () => {
    const auth = { authorization: basic('o', tokens.operator) };
    for (const [name, type] of [
      ['uPlot.iife.min.js', 'text/javascript'],
      ['uPlot.min.css', 'text/css'],
      ['dashboard.js', 'text/javascript'],
      ['dashboard.css', 'text/css'],
    ] as const) {
      const r = await t.call('GET', `/dashboard/assets/${name}`, { role: null, headers: auth });
      expect(r.status, name).toBe(200);
      expect(r.headers.get('content-type'), name).toContain(type);
    }
    expect((await t.call('GET', '/dashboard/assets/nope.js', { role: null, headers: auth })).status).toBe(404);
    expect(await (await t.call('GET', '/dashboard/session', { role: null, headers: auth })).json()).toEqual({
      name: 'operator-key',
      role: 'operator',
      can: { operate: true, approve: false, administer: false },
      csrfHeader: 'X-BSM-CSRF',
    });
    expect(await (await t.call('GET', '/dashboard/available', { role: null, headers: auth })).json()).toEqual({ audit: false, analysis: false, daily: false, weekly: false });
  });

  it('a change with Basic credentials needs the X-BSM-CSRF header; a bearer token does not', async () => {
    const trailBefore = await t.auditTrail.length();
    const bare = await t.call('POST', '/admin/bedrock-support/enable', { role: null, headers: { authorization: basic('o', tokens.operator) }, body: { reason: 'x' } });
    expect(bare.status).toBe(403);
    expect(((await bare.json()) as { error: { message: string } }).error.message).toMatch(/must carry the X-BSM-CSRF header/);
    expect((await t.supportMode.read()).flag.enabled).toBe(false);
    expect(await t.auditTrail.length()).toBe(trailBefore);

    const withHeader = await t.call('POST', '/admin/bedrock-support/enable', { role: null, headers: { authorization: basic('o', tokens.operator), 'x-bsm-csrf': '1' }, body: { reason: 'from the dashboard' } });
    expect(withHeader.status).toBe(200);
    expect((await t.supportMode.read()).flag.enabled).toBe(true);
    // The same cross-site check as before still applies on top.
    const crossSite = await t.call('POST', '/admin/bedrock-support/deactivate', { role: null, headers: { authorization: basic('o', tokens.operator), 'x-bsm-csrf': '1', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } });
    expect(crossSite.status).toBe(403);
    expect((await t.call('POST', '/admin/bedrock-support/deactivate', { role: 'operator' })).status).toBe(200);
  });
});
