#!/usr/bin/env node
/**
 * `bsm`: the one program. Roles: `api`, `worker`, `scheduler`, `all` (default).
 * This file is the composition root: it builds every object once and passes it down.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Redis } from 'ioredis';
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { createApp } from './api/app.js';
import { ApiKeysError, createKeyring, loadOrCreateAdminToken, parseApiKeys } from './api/auth.js';
import { statusOf } from './domain/support-mode/state.js';
import { createControlChannel } from './store/control-channel.js';
import { supportModeFor } from './support-mode.js';
import { createLlm } from './llm.js';
import { ConfigError, keyPrefix, loadConfig, settingsNotUsedYet } from './config.js';
import { createLogger } from './observability/logger.js';
import { jobOptionSettings } from './queues/define.js';
import { createFleet } from './queues/fleet.js';
import { isQueueName, queueNames, type QueueName } from './queues/names.js';
import { createRedis, waitReady } from './redis.js';
import { redisOutageLog } from './redis-outage.js';
import { NoRedisError, resolveRedis } from './redis-server.js';
import { reconcileSchedules, listSchedules } from './scheduler/reconcile.js';
import { declaredSchedules } from './scheduler/schedules.js';
import { createAuditTrail } from './store/audit-trail.store.js';
import { createWorkerDeps } from './workers/deps.js';
import { buildHandlers } from './workers/handlers.js';
import { startWorkers, type Runner } from './workers/runner.js';

const roles = ['api', 'worker', 'scheduler', 'all'] as const;
type Role = (typeof roles)[number];

/** A problem with how the program was called or configured: printed as one line, exit 2. */
class UsageError extends Error {}

interface Invocation {
  role: Role;
  queues: QueueName[];
}

function parseInvocation(argv: string[]): Invocation {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { queues: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    process.stdout.write('usage: bsm [api|worker|scheduler|all] [--queues q1,q2]\n');
    process.exit(0);
  }
  const role = (positionals[0] ?? 'all') as Role;
  if (!roles.includes(role)) {
    throw new UsageError(`unknown role "${positionals[0]}": expected one of ${roles.join(', ')}`);
  }
  let queues: QueueName[] = [...queueNames];
  if (values.queues !== undefined) {
    const names = values.queues.split(',').map((q) => q.trim()).filter(Boolean);
    const unknown = names.filter((q) => !isQueueName(q));
    if (unknown.length > 0 || names.length === 0) {
      throw new UsageError(`--queues must name queues among ${queueNames.join(', ')}, got "${values.queues}"`);
    }
    queues = names as QueueName[];
  }
  return { role, queues };
}

/** Why the API could not listen, as the one line to print. */
function listenProblem(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code ?? '') {
    case 'EADDRINUSE':
      return `PORT ${port} is already in use on ${host}: stop what listens there or set PORT`;
    case 'EACCES':
      return `PORT ${port} on ${host} needs privileges: use a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `HOST ${host} does not resolve`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}

/** `url` with any password replaced, for messages. */
function withoutPassword(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = '***';
    }
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}

/** A repeat of the stop signal within this window is the same request, not "exit now". */
const repeatSignalWindowMs = 2_000;

async function run(invocation: Invocation): Promise<void> {
  const config = loadConfig();
  const has = (r: Role) => invocation.role === r || invocation.role === 'all';
  const apiKeys = parseApiKeys(config.BSM_API_KEYS ?? '');
  const logger = createLogger(config.LOG_LEVEL, { role: invocation.role });
  for (const { name, usedBy } of settingsNotUsedYet()) {
    logger.warn({ setting: name }, `${name} is set but this version does not use it yet (it is read once ${usedBy} lands)`);
  }
  const { url, own } = await resolveRedis({ redisUrl: config.REDIS_URL, dataDir: `${config.BSM_DATA_DIR}/redis` });
  if (own) {
    logger.info({ url: own.url, dataDir: own.dataDir, pid: own.process.pid }, 'REDIS_URL is not set and nothing answered on 127.0.0.1:6379: started redis-server (AOF on)');
  }
  const prefix = keyPrefix(config);

  const client = createRedis(url, 'client', `bsm:${invocation.role}:client`);
  const blocking = createRedis(url, 'blocking', `bsm:${invocation.role}:worker`);
  const outage = redisOutageLog(logger);
  client.on('error', (err) => outage.error('client', err));
  blocking.on('error', (err) => outage.error('workers', err));
  try {
    await waitReady(client, 10_000);
  } catch {
    client.disconnect();
    blocking.disconnect();
    await own?.stop();
    throw new UsageError(`Redis at ${withoutPassword(url)} did not answer within 10 s: check REDIS_URL (unset, a local Redis is used or started)`);
  }

  /** The queues, audit trail and LLM layer on one connection: the API's fail fast, the workers' wait through a Redis restart. */
  const sharedOn = (redis: Redis) => ({
    fleet: createFleet({
      connection: redis,
      prefix,
      onError: (queue, err) => outage.error(`queue ${queue}`, err),
      jobOptions: jobOptionSettings(config),
    }),
    auditTrail: createAuditTrail(redis, prefix),
    llm: createLlm(config, redis, prefix, logger),
  });
  const { fleet, auditTrail, llm } = sharedOn(client);
  const subscriber = has('worker') ? createRedis(url, 'blocking', `bsm:${invocation.role}:control`) : null;
  subscriber?.on('error', (err) => outage.error('control subscriber', err));
  const control = createControlChannel(client, subscriber, prefix);
  logger.info({ direct: llm.configured.direct, mcp: llm.configured.mcp, region: config.AWS_REGION }, llm.configured.direct || llm.configured.mcp ? 'LLM paths configured' : 'no LLM path configured: the local provider answers');
  const supportMode = supportModeFor({ redis: client, prefix, fleet, control, auditTrail, logger });

  const stops: (() => Promise<void>)[] = [];

  // What is declared here but lives in Redis: the queue states support mode wants, and the job
  // schedulers. Applied at start-up, and again whenever Redis comes back: it may come back empty
  // (restarted without its data) or from an older snapshot. Both steps are idempotent and cheap
  // when nothing is missing.
  const appliesDeclared = has('scheduler') || has('api');
  const applyDeclared = async () => ({
    state: await supportMode.reconcileQueues(),
    schedules: has('scheduler') ? await reconcileSchedules(fleet, declaredSchedules(config)) : null,
  });

  if (appliesDeclared) {
    const { state, schedules } = await applyDeclared();
    logger.info({ supportMode: statusOf(state) }, statusOf(state) === 'disabled' ? 'support mode is disabled: enable it with POST /admin/bedrock-support/enable' : 'support mode state applied to the queues');
    if (schedules) {
      const listed = await listSchedules(fleet);
      logger.info({ upserted: schedules.upserted.length, unchanged: schedules.unchanged.length, removed: schedules.removed, schedules: listed.map((s) => `${s.queue}/${s.id} ${s.pattern ?? ''} next ${s.nextRunAt ?? '-'}`) }, 'job schedulers applied');
    }
  }

  // After a reconnect; a failed try is retried.
  let reapplying = Promise.resolve();
  let retryTimer: NodeJS.Timeout | undefined;
  const reapply = () => {
    clearTimeout(retryTimer);
    reapplying = reapplying.then(async () => {
      try {
        const { state, schedules } = await applyDeclared();
        logger.info({ supportMode: statusOf(state), schedulersRestored: schedules?.upserted ?? [] }, 'reconnected to redis: support-mode queue states and job schedulers re-applied');
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'reconnected to redis but could not re-apply queue states and schedulers yet: retrying in 5 s');
        retryTimer = setTimeout(reapply, 5_000).unref();
      }
    });
  };
  const connections = [client, blocking, subscriber].filter((r): r is Redis => r !== null);
  for (const redis of connections) {
    redis.on('ready', () => outage.restored());
  }
  client.on('ready', () => {
    if (appliesDeclared) {
      reapply();
    }
  });
  stops.push(() => {
    clearTimeout(retryTimer);
    return reapplying;
  });

  let runner: Runner | undefined;
  if (has('worker')) {
    const jobs = createRedis(url, 'job', `bsm:${invocation.role}:jobs`);
    jobs.on('error', (err) => outage.error('jobs', err));
    jobs.on('ready', () => outage.restored());
    const forJobs = sharedOn(jobs);
    const jobsSupportMode = supportModeFor({ redis: jobs, prefix, fleet: forJobs.fleet, control, auditTrail: forJobs.auditTrail });
    const deps = createWorkerDeps({ config, redis: jobs, prefix, fleet: forJobs.fleet, auditTrail: forJobs.auditTrail, llm: forJobs.llm.router, supportMode: () => jobsSupportMode.read() });
    const handlers = buildHandlers(deps);
    runner = startWorkers({
      queues: invocation.queues,
      handlers,
      connection: blocking,
      fleet: forJobs.fleet,
      prefix,
      settings: config.queues,
      graceMs: config.BSM_SHUTDOWN_GRACE_MS,
      throttleBackoffMs: config.BSM_LLM_THROTTLE_BACKOFF_MS,
      logger,
      onWorkerError: (queue, err) => outage.error(`worker ${queue}`, err),
    });
    const r = runner;
    await control.subscribe((message) => {
      if (message.type === 'cancel-running') {
        logger.warn({ reason: message.reason }, 'cancelling running jobs');
        r.cancelAll(message.reason);
      }
    });
    // A cancellation published while the subscriber was reconnecting is missed: on every
    // reconnect, check whether an emergency shutdown happened meanwhile.
    subscriber?.on('ready', () => {
      jobsSupportMode
        .read()
        .then((state) => {
          if (statusOf(state) === 'emergency') {
            logger.warn({ reason: state.emergency?.reason }, 'reconnected during an emergency shutdown: cancelling running jobs');
            r.cancelAll('emergency shutdown');
          }
        })
        .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not read support mode after reconnecting'));
    });
    stops.push(async () => {
      await r.close();
      await forJobs.llm.close();
      await forJobs.fleet.close();
      await jobs.quit().catch(() => undefined);
    });
    logger.info({ queues: invocation.queues, concurrency: Object.fromEntries(invocation.queues.map((q) => [q, config.queues[q].concurrency])) }, 'workers started');
  }

  let server: ServerType | undefined;
  if (has('api')) {
    let keyring = createKeyring(apiKeys);
    if (keyring.size === 0) {
      const tokenPath = join(config.BSM_DATA_DIR, 'admin-token');
      const { token, created } = await loadOrCreateAdminToken(tokenPath);
      keyring = createKeyring([{ name: 'admin', role: 'admin', token }]);
      const base = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.PORT}`;
      if (created) {
        process.stdout.write(
          `\nNo BSM_API_KEYS configured: generated an admin token (kept in ${tokenPath}, shown only this once):\n\n  ${token}\n\n` +
            `  curl -H "Authorization: Bearer ${token}" ${base}/admin/bedrock-support/status\n` +
            `  Bull Board: ${base}/admin/queues (any user name, the token as password)\n  API docs:   ${base}/docs\n\n`,
        );
      } else {
        logger.info({ tokenFile: tokenPath }, 'no BSM_API_KEYS configured: using the admin token kept in the data directory');
      }
    }
    const app = createApp({
      fleet,
      logger,
      supportMode,
      auditTrail,
      keyring,
      llm,
      schedules: () => listSchedules(fleet),
      clock: () => new Date(),
    });
    try {
      server = await new Promise<ServerType>((done, fail) => {
        const s = serve({ fetch: app.fetch, port: config.PORT, hostname: config.HOST }, () => done(s));
        s.once('error', fail);
      });
    } catch (err) {
      // Whatever started before the API stops again, then the one line says why.
      for (const stop of stops) {
        await stop();
      }
      throw new UsageError(listenProblem(err as NodeJS.ErrnoException, config.HOST, config.PORT));
    }
    const srv = server;
    stops.unshift(
      () =>
        new Promise<void>((done) => {
          srv.close(() => done());
        }),
    );
    logger.info({ url: `http://${config.HOST}:${config.PORT}`, health: `http://${config.HOST}:${config.PORT}/health` }, 'api listening');
  }

  let stoppingSince: number | undefined;
  const shutdown = async (signal: string) => {
    if (stoppingSince !== undefined) {
      // One Ctrl-C can arrive twice: from the terminal and relayed by `npm start`. Only a
      // signal well after the first means "stop waiting".
      if (Date.now() - stoppingSince < repeatSignalWindowMs) {
        return;
      }
      logger.warn({ signal }, 'second signal: exiting now; jobs still running are left to the stalled-job check');
      process.exit(1);
    }
    stoppingSince = Date.now();
    logger.info({ signal, graceMs: config.BSM_SHUTDOWN_GRACE_MS }, 'shutting down: running jobs get the grace period, then are cancelled back to waiting (signal again to exit at once)');
    for (const stop of stops) {
      await stop();
    }
    await control.close();
    await llm.close();
    await fleet.close();
    await Promise.allSettled([client.quit(), blocking.quit()]);
    if (own) {
      await own.stop();
    }
    logger.info('stopped');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.on(signal, () => void shutdown(signal));
  }
}

try {
  await run(parseInvocation(process.argv.slice(2)));
} catch (err) {
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof NoRedisError || err instanceof ApiKeysError) {
    process.stderr.write(`bsm: ${err.message}\n`);
    process.exit(2);
  }
  throw err;
}
