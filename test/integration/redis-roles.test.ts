import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, waitReady } from '../../src/redis.js';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { eventually } from '../helpers/fleet.js';

describe('connection roles through a Redis restart', () => {
  const servers: OwnRedis[] = [];
  let dir: string | undefined;

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    if (dir) {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("a job handler's command waits for Redis to come back; an API command fails at once", async () => {
    dir = await mkdtemp(join(tmpdir(), 'bsm-redis-roles-'));
    const port = await freePort();
    servers.push(await startRedisServer({ port, dataDir: dir }));
    const job = createRedis(`redis://127.0.0.1:${port}`, 'job');
    const api = createRedis(`redis://127.0.0.1:${port}`, 'client');
    job.on('error', () => undefined);
    api.on('error', () => undefined);
    let reconnects = 0;
    job.on('reconnecting', () => (reconnects += 1));
    try {
      await Promise.all([waitReady(job), waitReady(api)]);
      await servers.pop()?.stop();

      const write = job.set('written-during-outage', 'yes');
      const started = Date.now();
      await expect(api.get('written-during-outage')).rejects.toThrow();
      expect(Date.now() - started).toBeLessThan(2_500);

      // Back on the same port and data once the job connection has failed to reconnect at least
      // once: the handler's write lands, it does not fail.
      await eventually(() => Promise.resolve(reconnects >= 2));
      servers.push(await startRedisServer({ port, dataDir: dir }));
      await expect(write).resolves.toBe('OK');
      await waitReady(api, 10_000);
      expect(await api.get('written-during-outage')).toBe('yes');
    } finally {
      job.disconnect();
      api.disconnect();
    }
  });
});
