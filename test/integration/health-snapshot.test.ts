import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { queueNames } from '../../src/domain/queue-names.js';
import { isRedisUnreachable } from '../../src/redis.js';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

interface Figures {
  status: string;
  checkedAt: string;
  figuresAt: string;
  figuresAgeMs: number;
}
interface Status extends Figures {
  version: number;
  queues: Record<string, { paused: boolean }>;
}

/** Health and status answered from one reused read of the fleet (BSM_FLEET_SNAPSHOT_MS), with a long window so that reuse shows. */
describe('health and status from the fleet snapshot', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('health-snapshot', { env: { BSM_FLEET_SNAPSHOT_MS: '60000' } });
  });

  afterAll(async () => {
    await t.close();
  });

  it('say how old their figures are; requests within the window share one read', async () => {
    const first = (await (await t.call('GET', '/health', { role: null })).json()) as Figures;
    const again = (await (await t.call('GET', '/health/bedrock-support', { role: null })).json()) as Figures;
    const status = (await (await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).json()) as Figures;
    for (const answer of [first, again, status]) {
      expect(answer.figuresAt).toBe(first.figuresAt);
      expect(answer.figuresAgeMs).toBeGreaterThanOrEqual(0);
      // The figures are as old as the answer says (give or take the milliseconds the ISO times truncate).
      expect(Date.parse(answer.checkedAt) - Date.parse(answer.figuresAt)).toBeGreaterThanOrEqual(answer.figuresAgeMs - 2);
    }
    expect(Date.parse(again.checkedAt)).toBeGreaterThanOrEqual(Date.parse(first.checkedAt));
  });

  it('a transition in this process shows in /status and /health at once, not after the window', async () => {
    const before = (await (await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).json()) as Status;
    expect(before.status).toBe('disabled');
    expect(before.queues['meta-monitor']?.paused).toBe(true);

    expect((await t.call('POST', '/admin/bedrock-support/enable', { role: 'operator', body: { active: true, reason: 'snapshot test' } })).status).toBe(200);
    const after = (await (await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).json()) as Status;
    expect(after.status).toBe('active');
    expect(after.version).toBe(before.version + 1);
    for (const q of queueNames) {
      expect(after.queues[q]?.paused, q).toBe(await t.fleet.queue(q).isPaused());
      expect(after.queues[q]?.paused, q).toBe(false);
    }
    expect(Date.parse(after.figuresAt)).toBeGreaterThan(Date.parse(before.figuresAt));
    const health = (await (await t.call('GET', '/health/meta-monitor', { role: null })).json()) as { active: boolean; mode: string };
    expect(health).toMatchObject({ active: true, mode: 'active' });
  });
});

/** Outages on a redis-server of this file's own: a kept snapshot never answers for a Redis that is gone. */
describe('health and the API when Redis stops answering', () => {
  let redis: OwnRedis;
  let t: TestApp;

  beforeAll(async () => {
    redis = await startRedisServer({ port: await freePort() });
    t = await makeTestApp('health-outage', { redisUrl: redis.url, env: { BSM_FLEET_SNAPSHOT_MS: '60000' } });
  });

  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('a Redis that hangs: a call that times out is a 503 "Redis is unreachable", not a 500', async () => {
    const pauser = new Redis(redis.url);
    await pauser.client('PAUSE', 2_500, 'ALL');
    const started = Date.now();
    const r = await t.call('GET', '/admin/bedrock-support/schedules', { role: 'viewer' });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: { message: string } }).error.message).toBe('Redis is unreachable');
    expect(Date.now() - started).toBeLessThan(2_450);
    // The error ioredis gave is told apart as an outage while every connection still reads ready.
    await pauser.client('PAUSE', 2_500, 'ALL');
    const err = await t.client.get('anything').catch((e: unknown) => e);
    expect(t.client.status).toBe('ready');
    expect(isRedisUnreachable(err, [t.client])).toBe(true);
    // Wait the pause out: Redis holds the next commands until then.
    await pauser.ping();
    pauser.disconnect();
  });

  it('answers 503 within a second of Redis stopping, though a snapshot was kept a moment before for a minute', async () => {
    expect((await t.call('GET', '/health', { role: null })).status).toBe(200);
    expect((await t.call('GET', '/health/bedrock-support', { role: null })).status).toBe(200);
    expect(t.reader.kept()).not.toBeNull();
    await redis.stop();
    const stopped = Date.now();
    let last = 0;
    while (Date.now() - stopped < 5_000) {
      const r = await t.call('GET', '/health/bedrock-support', { role: null });
      last = r.status;
      if (last === 503) {
        expect(await r.json()).toMatchObject({ status: 'unhealthy', redis: { status: 'down' } });
        break;
      }
      await new Promise((done) => setTimeout(done, 20));
    }
    expect(last).toBe(503);
    expect(Date.now() - stopped).toBeLessThan(1_000);
    expect(t.reader.kept()).toBeNull();
    const status = await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' });
    expect(status.status).toBe(503);
  });
});
