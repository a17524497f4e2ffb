import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

describe('when Redis goes away', () => {
  let redis: OwnRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startRedisServer({ port: await freePort() });
    t = await makeTestApp('redis-down', { redisUrl: redis.url });
  });

  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('health answers 503 quickly instead of hanging; admin calls answer 503 and change nothing', async () => {
    expect((await t.call('GET', '/health', { role: null })).status).toBe(200);
    await redis.stop();
    const started = Date.now();
    const health = await t.call('GET', '/health', { role: null });
    expect(health.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(3_000);
    // `jq .status` still reads it.
    const body = (await health.json()) as { status: string; redis: { status: string } };
    expect(body).toMatchObject({ status: 'unhealthy', redis: { status: 'down' } });

    const enable = await t.call('POST', '/admin/bedrock-support/enable', { body: {} });
    expect(enable.status).toBe(503);
    expect(((await enable.json()) as { error: { message: string } }).error.message).toContain('Redis is unreachable');
  });
});
