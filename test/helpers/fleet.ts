import { spawn, type ChildProcess } from 'node:child_process';
import type { Redis } from 'ioredis';
import { keyPrefix, loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { jobOptionSettings } from '../../src/queues/define.js';
import { createFleet, type Fleet } from '../../src/queues/fleet.js';
import { createRedis, waitReady } from '../../src/redis.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';
import type { QueueSettings } from '../../src/config.js';
import type { QueueName } from '../../src/queues/names.js';
import { startWorkers, type HandlerTables, type Runner } from '../../src/workers/runner.js';

export interface TestFleet {
  config: Config;
  /** BSM_PREFIX of this test file. */
  bsmPrefix: string;
  /** The Redis key prefix (`{bsmPrefix}`). */
  prefix: string;
  client: Redis;
  blocking: Redis;
  fleet: Fleet;
  logger: ReturnType<typeof createLogger>;
  cleanup(): Promise<void>;
}

/** A fleet on its own key prefix, with configuration from `env` on top of the defaults. */
export async function makeTestFleet(label: string, env: Record<string, string> = {}, redisUrl = testRedisUrl): Promise<TestFleet> {
  const bsmPrefix = uniquePrefix(label);
  const config = loadConfig({ REDIS_URL: redisUrl, BSM_PREFIX: bsmPrefix, LOG_LEVEL: 'silent', ...env });
  const prefix = keyPrefix(config);
  const client = createRedis(redisUrl, 'client');
  const blocking = createRedis(redisUrl, 'blocking');
  await waitReady(client);
  const fleet = createFleet({
    connection: client,
    prefix,
    jobOptions: jobOptionSettings(config),
  });
  return {
    config,
    bsmPrefix,
    prefix,
    client,
    blocking,
    fleet,
    logger: createLogger('silent'),
    async cleanup() {
      // Ask the server itself: the client's status can still read `ready` for a moment
      // after the server died (the socket has ended, its close event is not in yet).
      const alive = client.status === 'ready' && (await client.ping().then(() => true, () => false));
      if (alive) {
        await fleet.close();
        await deleteKeys(client, prefix);
        await Promise.allSettled([client.quit(), blocking.quit()]);
      }
      // With Redis gone, QUIT would wait for a reconnect that never comes.
      client.disconnect();
      blocking.disconnect();
    },
  };
}

/** Runs `bsm` as its own process (through tsx), with the test Redis and `env`. */
export function spawnBsm(args: string[], env: Record<string, string>): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], {
    env: { ...process.env, REDIS_URL: testRedisUrl, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  return Object.assign(child, { output: () => out });
}

export function waitForExit(child: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  if (child.exitCode !== null) {
    return Promise.resolve(child.exitCode);
  }
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error('process did not exit in time')), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}

/** Polls `check` until it returns a truthy value. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 15_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error('condition not met in time');
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * The project's runner (`startWorkers`) on `queues` of the test fleet, with the fleet's settings
 * (`settings` overrides some queues') and a 1 s grace period.
 */
export function startTestRunner(t: TestFleet, queues: readonly QueueName[], handlers: HandlerTables, settings: Partial<Record<QueueName, QueueSettings>> = {}): Runner {
  return startWorkers({
    queues,
    handlers,
    connection: t.blocking,
    fleet: t.fleet,
    prefix: t.prefix,
    settings: { ...t.config.queues, ...settings },
    graceMs: 1000,
    logger: t.logger,
  });
}
