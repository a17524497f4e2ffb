import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { keyPrefix, loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/observability/logger.js';
import type { QueueState } from '../../src/domain/fleet/fleet-state.js';
import type { FleetReader } from '../../src/domain/fleet/ports.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import type { Fleet } from '../../src/queues/fleet.js';
import { composeAdapters, type Adapters } from '../../src/runtime/compose.js';
import { createControlChannel } from '../../src/store/control-channel.js';
import { configuredArchiveDestinations } from '../../src/runtime/archive.js';
import { generateSigningKeyPem, parseSigningKey, type AuditSigner } from '../../src/domain/audit-trail/signing.js';
import { createRedis, waitReady } from '../../src/redis.js';
import { deleteKeys, testRedisUrl, uniquePrefix } from './redis.js';
import type { QueueSettings } from '../../src/config.js';
import { startWorkers, type Runner } from '../../src/workers/runner.js';
import { z } from 'zod';
import type { JobContext, JobDeclaration } from '../../src/jobs/define.js';
import type { JobDeps } from '../../src/jobs/deps.js';
import { jobs } from '../../src/jobs/registry.js';

export interface TestFleet {
  config: Config;
  /** BSM_PREFIX of this test file. */
  bsmPrefix: string;
  /** The Redis key prefix (`{bsmPrefix}`). */
  prefix: string;
  client: Redis;
  blocking: Redis;
  fleet: Fleet;
  reader: FleetReader;
  /** Every adapter on the test's connection, as the program composes them (job handlers' deps among them). */
  adapters: Adapters;
  /** The audit-trail archive directory of this fleet (its `default` destination), removed on cleanup. */
  archiveDir: string;
  /** The key that signs this fleet's checkpoints and manifests. */
  auditSigner: AuditSigner;
  /** One queue's state as the fleet reader sees it now. */
  queueState(name: QueueName): Promise<QueueState>;
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
  const logger = createLogger('silent');
  const archiveDir = mkdtempSync(join(tmpdir(), `bsm-archive-${label}-`));
  const auditSigner = parseSigningKey(generateSigningKeyPem());
  const adapters = composeAdapters({
    config,
    redis: client,
    prefix,
    logger,
    control: createControlChannel(client, null, prefix),
    // The fleet's own directory is `default`, unless the test configures BSM_ARCHIVE_URL (an S3 bucket).
    archiveDestinations: configuredArchiveDestinations(config, env.BSM_ARCHIVE_URL === undefined ? { defaultUrl: `file://${archiveDir}` } : {}),
    auditSigner,
  });
  const { fleet, fleetReader: reader } = adapters;
  return {
    config,
    bsmPrefix,
    prefix,
    client,
    blocking,
    fleet,
    reader,
    adapters,
    archiveDir,
    auditSigner,
    queueState: async (name) => (await reader.snapshot()).queues[name],
    logger,
    async cleanup() {
      rmSync(archiveDir, { recursive: true, force: true });
      // Ask the server itself: the client's status can still read `ready` for a moment
      // after the server died (the socket has ended, its close event is not in yet).
      const alive = client.status === 'ready' && (await client.ping().then(() => true, () => false));
      if (alive) {
        await adapters.close();
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
/** A handler standing in for a job's own, for tests of how the runner treats failures. */
export type TestHandler = (job: { id?: string; data: Record<string, unknown> }, ctx: JobContext) => Promise<unknown>;

/**
 * The project's runner on `queues` of a test fleet. `handlers` replace the declared handlers of
 * the jobs they name (queue -> job name -> handler); every other part of the declarations stays.
 */
export function startTestRunner(
  t: TestFleet,
  queues: readonly QueueName[],
  options: {
    deps?: JobDeps;
    handlers?: Partial<Record<QueueName, Record<string, TestHandler>>>;
    settings?: Partial<Record<QueueName, QueueSettings>>;
    logger?: TestFleet['logger'];
    onWorkerError?: (queue: QueueName, err: Error) => void;
  } = {},
): Runner {
  const declarations = (jobs as readonly JobDeclaration[]).map((j) => {
    const handler = options.handlers?.[j.queue]?.[j.name];
    return handler ? { ...j, result: z.unknown(), handler: handler as JobDeclaration['handler'] } : j;
  });
  return startWorkers({
    queues,
    deps: options.deps ?? t.adapters.jobDeps,
    jobs: declarations,
    connection: t.blocking,
    fleet: t.fleet,
    prefix: t.prefix,
    settings: { ...t.config.queues, ...options.settings },
    graceMs: 1000,
    logger: options.logger ?? t.logger,
    onWorkerError: options.onWorkerError,
    metrics: t.adapters.metrics.recorder,
  });
}
