import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { freePort, NoRedisError, resolveRedis, startRedisServer, type OwnRedis } from '../../src/redis-server.js';

describe('Redis for a newcomer', () => {
  const started: OwnRedis[] = [];
  const dirs: string[] = [];

  afterAll(async () => {
    await Promise.all(started.map((r) => r.stop()));
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it('uses REDIS_URL when set, without probing', async () => {
    expect(await resolveRedis({ redisUrl: 'redis://example.invalid:1', dataDir: '/nonexistent', mayStartOwn: true })).toEqual({ url: 'redis://example.invalid:1' });
  });

  it('starts its own redis-server with AOF on when nothing answers, and reuses it once it answers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bsm-own-redis-'));
    dirs.push(dir);
    const port = await freePort();
    const first = await resolveRedis({ dataDir: join(dir, 'redis'), port, mayStartOwn: true });
    expect(first).toMatchObject({ url: `redis://127.0.0.1:${port}`, own: { url: `redis://127.0.0.1:${port}`, port, dataDir: join(dir, 'redis') } });
    if (first.own) {
      started.push(first.own);
    }
    const client = new Redis(first.url);
    try {
      expect(await client.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await client.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      await client.set('k', 'v');
    } finally {
      client.disconnect();
    }
    // The append-only file (Redis 7: a directory of them) lives in the data directory.
    expect(await readdir(join(dir, 'redis'))).toContain('appendonlydir');
    // In a process group of its own: a Ctrl-C for bsm does not kill the Redis it still needs.
    const pgid = (pid: number) => Number(execFileSync('ps', ['-o', 'pgid=', '-p', String(pid)]).toString().trim());
    expect(pgid(first.own?.process.pid ?? 0)).toBe(first.own?.process.pid);
    expect(pgid(first.own?.process.pid ?? 0)).not.toBe(pgid(process.pid));
    const second = await resolveRedis({ dataDir: join(dir, 'redis'), port, mayStartOwn: true });
    expect(second).toEqual({ url: `redis://127.0.0.1:${port}` });
  });

  it('with nothing answering and no redis-server on the PATH, it refuses with how to get one', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    const dataDir = join(tmpdir(), `bsm-no-redis-${process.pid}`, 'redis');
    try {
      const failure = resolveRedis({ dataDir, port: await freePort(), mayStartOwn: true });
      await expect(failure).rejects.toThrow(NoRedisError);
      await expect(failure).rejects.toThrow(/^no Redis answers on 127\.0\.0\.1:\d+ and redis-server is not on the PATH: install one \(Debian\/Ubuntu: apt install redis-server; macOS: brew install redis; Docker: docker compose up -d redis\)/);
      // Nothing was left behind for a server that never ran.
      await expect(readdir(join(dataDir, '..'))).rejects.toThrow(/ENOENT/);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('a redis-server that cannot take the port says why, and is not mistaken for the server that holds it', async () => {
    const holder = await startRedisServer({ port: await freePort() });
    started.push(holder);
    const dataDir = join(tmpdir(), `bsm-taken-port-${process.pid}`, 'redis');
    const failure = startRedisServer({ port: holder.port, dataDir });
    await expect(failure).rejects.toThrow(NoRedisError);
    await expect(failure).rejects.toThrow(`redis-server exited without serving port ${holder.port}: Failed listening on port ${holder.port} (TCP), aborting.`);
    await expect(readdir(join(dataDir, '..'))).rejects.toThrow(/ENOENT/);
  });
});
