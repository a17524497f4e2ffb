import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { dumpKeys } from '../helpers/redis.js';

describe('one API key cannot grow the audit trail or flood the operator', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('assist-limits', { env: { BSM_ASSIST_RATE_MAX: '3', BSM_ASSIST_RATE_WINDOW_MS: '60000' } });
    expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
  });

  afterAll(async () => {
    await t.close();
  });

  it('a question with a 60 KB context leaves an audit entry of a few KB: the body as its size and SHA-256, never its text', async () => {
    const log = `ERROR timeout ${'0123456789abcdef'.repeat(3_750)}`;
    const r = await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question: 'why slow?', context: { log } } });
    expect(r.status).toBe(200);
    const raw = await t.client.xrange(`${t.prefix}:audit-trail`, '-', '+');
    const last = raw.at(-1)?.[1] ?? [];
    const json = last[last.indexOf('json') + 1] ?? '';
    expect(json).toContain('"action":"http.request"');
    expect(json.length).toBeLessThan(4_096);
    expect(json).toMatch(/"body":\{"bytes":\d{5},"sha256":"[0-9a-f]{64}"\}/);
    expect(json).not.toContain('why slow?');
  });

  it('answers 429 with Retry-After past BSM_ASSIST_RATE_MAX for that key, writing nothing; another key still asks', async () => {
    // The first question above counted for operator-key: two more are allowed.
    for (let i = 0; i < 2; i++) {
      const ok = await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question: `status ${i}?` } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('ratelimit-remaining')).toBe(String(1 - i));
    }
    const before = await dumpKeys(t.client, t.prefix);
    const refused = await t.call('POST', '/admin/bedrock-support/assist', { role: 'operator', body: { question: 'and now?' } });
    expect(refused.status).toBe(429);
    const retry = Number(refused.headers.get('retry-after'));
    expect(retry).toBeGreaterThan(0);
    expect(retry).toBeLessThanOrEqual(60);
    expect(((await refused.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: 'rate_limited', message: expect.stringContaining('operator-key') as unknown });
    expect(await dumpKeys(t.client, t.prefix)).toEqual(before);

    expect((await t.call('POST', '/admin/bedrock-support/assist', { role: 'admin', body: { question: 'and for me?' } })).status).toBe(200);
  });
});
