import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, type TestApp } from '../helpers/app.js';

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
