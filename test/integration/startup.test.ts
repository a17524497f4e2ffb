import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

describe('start-up', () => {
  it('a bad setting stops start-up with one line naming it', async () => {
    const child = spawnBsm(['all'], { PORT: 'abc' });
    expect(await waitForExit(child)).toBe(2);
    expect(child.output()).toBe('bsm: PORT must be an integer 1-65535, got "abc"\n');
  });

  it('a bad inventory file stops start-up with one line naming the file, the target, the field and the line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bsm-inventory-'));
    const file = join(dir, 'inventory.yaml');
    await writeFile(file, 'targets:\n  - id: api-health\n    kind: http\n    component: api\n    criticality: high\n    url: http://127.0.0.1:1/health\n    latencyBudgetMs: fast\n');
    try {
      const child = spawnBsm(['api'], { BSM_INVENTORY: file });
      expect(await waitForExit(child)).toBe(2);
      const output = child.output();
      expect(output.split('\n').filter(Boolean)).toHaveLength(1);
      expect(output).toMatch(new RegExp(`^bsm: BSM_INVENTORY ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: target "api-health" .*latencyBudgetMs.*\\(line 7\\)\n$`));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a cron pattern out of range stops start-up before any scheduler is touched', async () => {
    const child = spawnBsm(['scheduler'], { BSM_SCHEDULE_ALERTS: '99 99 * * *' });
    expect(await waitForExit(child)).toBe(2);
    expect(child.output()).toBe(
      'bsm: BSM_SCHEDULE_ALERTS must be a valid 5-field cron pattern (minute hour day-of-month month day-of-week), got "99 99 * * *"\n',
    );
  });

  /** Runs the api role against a port something else holds, so it stops right after start-up. */
  async function apiOnATakenPort(env: Record<string, string>): Promise<{ port: number; code: number | null; output: string }> {
    const port = await freePort();
    const taken = createServer();
    await new Promise<void>((done) => taken.listen(port, '127.0.0.1', done));
    const bsmPrefix = uniquePrefix('port');
    const redis = testRedis();
    // Its own data directory: the api generates its HMAC key there before it listens.
    const dataDir = await mkdtemp(join(tmpdir(), 'bsm-port-'));
    try {
      const child = spawnBsm(['api'], { PORT: String(port), BSM_PREFIX: bsmPrefix, BSM_DATA_DIR: dataDir, BSM_API_KEYS: 'a:admin:0123456789abcdef0123', LOG_LEVEL: 'silent', ...env });
      const code = await waitForExit(child);
      return { port, code, output: child.output() };
    } finally {
      taken.close();
      await deleteKeys(redis, `{${bsmPrefix}}`);
      await redis.quit();
      await rm(dataDir, { recursive: true, force: true });
    }
  }

  it('a port in use is one line, and exits 2', async () => {
    const { port, code, output } = await apiOnATakenPort({});
    expect(code).toBe(2);
    expect(output).toBe(`bsm: PORT ${port} is already in use on 127.0.0.1: stop what listens there or set PORT\n`);
  });

  it('settings that every part now reads (CloudWatch, the alert webhook) start with no warning that they are unused', async () => {
    const { output } = await apiOnATakenPort({ LOG_LEVEL: 'warn', CLOUDWATCH_ENABLED: 'true', ALERT_WEBHOOK_URL: 'https://hooks.example/bsm' });
    const warnings = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { setting?: string; msg: string });
    expect(warnings.filter((w) => w.setting !== undefined || w.msg.includes('does not use it yet'))).toEqual([]);
  });

  it('a Redis that does not answer is one line naming REDIS_URL, without its password', async () => {
    const port = await freePort();
    const child = spawnBsm(['worker'], { REDIS_URL: `redis://:hunter2@127.0.0.1:${port}`, LOG_LEVEL: 'silent' });
    expect(await waitForExit(child, 30_000)).toBe(2);
    expect(child.output()).toBe(`bsm: Redis at redis://:***@127.0.0.1:${port} did not answer within 10 s: check REDIS_URL (unset, a local Redis is used or started)\n`);
  });

  it('an unknown queue name is refused', async () => {
    const child = spawnBsm(['worker', '--queues', 'meta-monitor,nope'], {});
    expect(await waitForExit(child)).toBe(2);
    expect(child.output()).toContain('--queues must name queues among bedrock-support, infrastructure-auditor, meta-monitor, implementation-support, compliance, got "meta-monitor,nope"');
  });

  it('only the all role starts a Redis of its own: a worker without REDIS_URL and nothing on the port refuses to start', async () => {
    const port = await freePort();
    const children = ['worker', 'api', 'scheduler'].map((role) => spawnBsm([role], { REDIS_URL: '', BSM_REDIS_PORT: String(port), LOG_LEVEL: 'silent' }));
    for (const child of children) {
      expect(await waitForExit(child, 50_000)).toBe(2);
      expect(child.output()).toBe(`bsm: REDIS_URL is not set and no Redis answers on 127.0.0.1:${port}: set REDIS_URL to the fleet's Redis (only \`bsm all\` starts a redis-server of its own)\n`);
    }
  }, 60_000);

  it('start-up logs which Redis it uses: host, port and db, and whether a password is set, never the password', async () => {
    const { output } = await apiOnATakenPort({ LOG_LEVEL: 'info' });
    const lines = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; redis?: unknown; from?: string });
    const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    expect(lines.find((l) => l.msg === 'using Redis')).toMatchObject({ from: 'REDIS_URL', redis: { host: url.hostname, port: Number(url.port || 6379), db: 0, password: false, tls: false } });
  });
});
