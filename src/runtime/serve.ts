/**
 * The service: `bsm api|worker|scheduler|all`. With `runtime/compose.ts` this is the composition
 * root: it builds every object once and passes it down. main.ts imports it only for a role, so the
 * operator CLI and the other commands start without loading Redis, BullMQ, Hono or the AWS SDKs.
 */
import type { Redis } from 'ioredis';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { createApp } from '../api/app.js';
import { createApiServer } from '../api/server.js';
import { createKeyring, loadOrCreateAdminToken, parseApiKeys } from '../api/auth.js';
import { keyPrefix, loadConfig, settingsNotUsedYet, type Config } from '../config.js';
import { statusOf } from '../domain/support-mode/state.js';
import { declaredSchedules } from '../jobs/registry.js';
import { keyLayout, type KeyLayout } from '../key-layout.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { closeRedis, createRedis, firstNodeUrl, waitReady } from '../redis.js';
import { redisOutageLog } from '../redis-outage.js';
import { describeRedisUrl, resolveRedis } from '../redis-server.js';
import { composeAdapters, type Adapters } from './compose.js';
import { apiMetricsOf, startProcessMetrics } from './metrics.js';
import { createMetricsStore, type MetricsStore } from '../store/metrics.store.js';
import { loadOrCreateHmacKey } from './hmac-key.js';
import { loadAuditSigner } from './audit-signing-key.js';
import type { AuditSigner } from '../domain/audit-trail/signing.js';
import { hmacPseudonymizer } from '../domain/meta-monitor/executions.js';
import { listenProblem, runs, UsageError, withoutPassword, type Invocation } from './invocation.js';
import { onStopSignals } from './lifecycle.js';
import { reapplier } from './reconnect.js';
import { listSchedules, reconcileSchedules } from '../scheduler/reconcile.js';
import { createControlChannel, fleetControlOver, type ControlChannel } from '../store/control-channel.js';
import { loadInventoryFile } from '../store/inventory-file.js';
import { controlHandler } from './control.js';
import { startWorkers } from '../workers/runner.js';

type Step = () => Promise<void>;

/** The workers, on a connection of their own for the handlers; their stop step. */
async function startWorkerRole(
  invocation: Invocation,
  config: Config,
  url: string,
  parts: { blocking: Redis; subscriber: Redis | null; control: ControlChannel; prefix: string; layout: KeyLayout; logger: Logger; outage: ReturnType<typeof redisOutageLog>; metrics: MetricsStore; auditSigner: AuditSigner | null },
): Promise<Step> {
  const { logger, outage, control, auditSigner } = parts;
  const jobs = createRedis(url, 'job', `bsm:${invocation.role}:jobs`);
  jobs.on('error', (err) => outage.error('jobs', err));
  jobs.on('ready', () => outage.restored());
  // A cluster that failed over stays ready: its new slot map is the end of the outage.
  jobs.on('refresh', () => outage.restored());
  const adapters = composeAdapters({
    config,
    redis: jobs,
    prefix: parts.prefix,
    layout: parts.layout,
    logger,
    control,
    auditSigner,
    onQueueError: (queue, err) => outage.error(`queue ${queue}`, err),
    workerQueues: invocation.queues,
    metrics: parts.metrics,
  });
  const runner = startWorkers({
    queues: invocation.queues,
    deps: adapters.jobDeps,
    connection: parts.blocking,
    fleet: adapters.fleet,
    prefix: parts.prefix,
    settings: config.queues,
    graceMs: config.BSM_SHUTDOWN_GRACE_MS,
    cancelWaitMs: config.BSM_CANCEL_WAIT_MS,
    lock: { durationMs: config.BSM_LOCK_DURATION_MS, stalledIntervalMs: config.BSM_STALLED_INTERVAL_MS },
    throttleBackoffMs: config.BSM_LLM_THROTTLE_BACKOFF_MS,
    throttleBackoffMaxMs: config.BSM_LLM_THROTTLE_BACKOFF_MAX_MS,
    logger,
    onWorkerError: (queue, err) => outage.error(`worker ${queue}`, err),
    metrics: parts.metrics.recorder,
  });
  await control.subscribe(controlHandler({ runner, control, logger }));
  // A cancellation published while the subscriber was reconnecting is missed: on every
  // reconnect, check whether an emergency shutdown happened meanwhile.
  parts.subscriber?.on('ready', () => {
    adapters.supportMode
      .read()
      .then((state) => {
        if (statusOf(state) === 'emergency') {
          logger.warn({ reason: state.emergency?.reason }, 'reconnected during an emergency shutdown: cancelling running jobs');
          runner.cancelAll('emergency shutdown');
        }
      })
      .catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'could not read support mode after reconnecting'));
  });
  logger.info({ queues: invocation.queues, concurrency: Object.fromEntries(invocation.queues.map((q) => [q, config.queues[q].concurrency])) }, 'workers started');
  return async () => {
    await runner.close();
    // Queues and clients of a Redis that is not there are dropped, not waited for.
    await (jobs.status === 'ready' ? adapters.close() : Promise.resolve());
    await closeRedis(jobs);
  };
}

/** The HTTP server; its stop step. */
async function startApiRole(config: Config, adapters: Adapters, control: ControlChannel, logger: Logger, apiKeys: ReturnType<typeof parseApiKeys>, redisUrl: string): Promise<Step> {
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
  if (keyring.size === 1 && config.BSM_TWO_PERSON_RULE) {
    logger.warn(
      { keys: 1, twoPersonRule: true },
      'only one API key: under the two-person rule nobody can approve an action it requests; add a second key with the approve permission (approver or admin) to BSM_API_KEYS, or set BSM_TWO_PERSON_RULE=false for a one-person install',
    );
  }
  const hmacKey = await loadOrCreateHmacKey(join(config.BSM_DATA_DIR, 'hmac-key'), config.BSM_HMAC_KEY);
  if (hmacKey.source === 'created') {
    logger.info({ keyFile: join(config.BSM_DATA_DIR, 'hmac-key') }, 'generated the key of the user-id HMAC in the data directory (keep it: erasure needs it)');
  }
  const app = createApp({
    fleet: adapters.fleet,
    fleetReader: adapters.fleetReader,
    logger: logger.child({ component: 'api' }),
    supportMode: adapters.supportMode,
    auditTrail: adapters.auditTrail,
    auditTrailService: adapters.auditTrailService,
    archiveAfterDays: config.BSM_ARCHIVE_AFTER_DAYS,
    keyring,
    featureFlags: adapters.featureFlags,
    llm: adapters.llm,
    schedules: () => listSchedules(adapters.fleet),
    queueSettings: config.queues,
    reports: adapters.reports,
    audit: { inventory: adapters.inventory },
    executions: { store: adapters.executions, pseudonymize: hmacPseudonymizer(hmacKey.key), retentionDays: config.BSM_EXECUTION_RETENTION_DAYS, agentServices: config.BSM_OTEL_AGENT_SERVICES },
    metaMonitor: adapters.metaMonitor,
    gaps: adapters.gaps,
    backlog: adapters.backlog,
    guidanceNarratives: adapters.guidanceNarratives,
    actions: adapters.actions,
    remediations: adapters.remediations,
    metrics: apiMetricsOf(adapters, config.BSM_METRICS_TOKEN),
    alerts: adapters.alerts,
    cloudwatch: adapters.cloudwatch,
    compliance: { redisUrl, archiveUrl: config.BSM_ARCHIVE_URL, archives: adapters.archiveLocations, jobLimitHours: config.BSM_RETENTION_LIMIT_HOURS },
    control: fleetControlOver(control),
    clock: () => new Date(),
    publicUrl: config.BSM_PUBLIC_URL,
    limits: { ingestBodyLimitBytes: config.BSM_INGEST_BODY_LIMIT_BYTES },
  });
  let server: Server;
  try {
    server = await new Promise<Server>((done, fail) => {
      const s = createApiServer(app.fetch, { hostname: config.HOST });
      s.once('error', fail);
      s.listen(config.PORT, config.HOST, () => done(s));
    });
  } catch (err) {
    throw new UsageError(listenProblem(err as NodeJS.ErrnoException, config.HOST, config.PORT));
  }
  logger.info({ url: `http://${config.HOST}:${config.PORT}`, health: `http://${config.HOST}:${config.PORT}/health` }, 'api listening');
  return () =>
    new Promise<void>((done) => {
      server.close(() => done());
    });
}

/**
 * Runs the roles of `invocation` (`bsm api|worker|scheduler|all`): settings, Redis, the adapters,
 * then the workers, the schedulers and the API; stops them again on SIGTERM/SIGINT.
 */
export async function serve(invocation: Invocation): Promise<void> {
  const config = loadConfig();
  const apiKeys = parseApiKeys(config.BSM_API_KEYS ?? '');
  const logger = createLogger(config.LOG_LEVEL, { role: invocation.role });
  for (const { name, usedBy } of settingsNotUsedYet()) {
    logger.warn({ setting: name }, `${name} is set but this version does not use it yet (it is read once ${usedBy} lands)`);
  }
  // A bad inventory file stops start-up with one line naming the file, the target, the field and the line.
  const inventory = config.BSM_INVENTORY ? await loadInventoryFile(config.BSM_INVENTORY) : null;
  // The key that signs audit-trail checkpoints and manifests: the setting, or (bsm all) a key file of the data directory.
  const signingKeyPath = join(config.BSM_DATA_DIR, 'audit-signing-key.pem');
  const signing = await loadAuditSigner({ fromEnv: config.BSM_AUDIT_SIGNING_KEY, path: signingKeyPath, mayUseFile: invocation.role === 'all' });
  const auditSigner = signing?.signer ?? null;
  if (signing?.source === 'created') {
    logger.info({ keyFile: signingKeyPath, fingerprint: signing.signer.fingerprint }, 'generated the audit-trail signing key in the data directory (keep it, and keep it out of Redis: it signs the checkpoints)');
  } else if (!auditSigner && runs(invocation.role, 'worker') && invocation.queues.includes('compliance')) {
    logger.warn({ setting: 'BSM_AUDIT_SIGNING_KEY' }, 'BSM_AUDIT_SIGNING_KEY is not set: this worker cannot sign audit-trail checkpoints or archive manifests, so those jobs fail until it is');
  }
  const { url, own, cluster } = await resolveRedis({ redisUrl: config.REDIS_URL, clusterNodes: config.REDIS_CLUSTER_NODES, dataDir: `${config.BSM_DATA_DIR}/redis`, port: config.BSM_REDIS_PORT, mayStartOwn: invocation.role === 'all' });
  logger.info(
    { redis: describeRedisUrl(url), from: config.REDIS_URL ? 'REDIS_URL' : own ? 'started' : 'local', ...(own ? { dataDir: own.dataDir, pid: own.process.pid } : {}) },
    own ? `REDIS_URL is not set and nothing answered on 127.0.0.1:${config.BSM_REDIS_PORT}: started redis-server (AOF on)` : cluster ? 'using Redis Cluster: keys spread over its shards' : 'using Redis',
  );
  const prefix = keyPrefix(config);
  // One server keeps every key under `{bsm}`; a cluster gets a hash tag per queue and store (src/key-layout.ts).
  const layout = keyLayout(config.BSM_PREFIX, cluster ? 'spread' : 'single');
  const has = (part: 'api' | 'worker' | 'scheduler') => runs(invocation.role, part);

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

  const subscriber = has('worker') ? createRedis(url, 'blocking', `bsm:${invocation.role}:control`) : null;
  subscriber?.on('error', (err) => outage.error('control subscriber', err));
  const control = createControlChannel(client, subscriber, layout.tag('control'));
  // One recorder for the process: the workers' adapters record through it too.
  const metrics = createMetricsStore(client, layout.tag('metrics'));
  // The API's and schedulers' adapters: their commands fail fast while Redis is down.
  const adapters = composeAdapters({ config, redis: client, prefix, layout, logger, control, auditSigner, onQueueError: (queue, err) => outage.error(`queue ${queue}`, err), metrics });
  const { llm, supportMode, fleet } = adapters;
  if (auditSigner) {
    // Processes without the private key verify with the public key a signer published.
    await adapters.auditTrailService.publishKey();
    logger.info({ fingerprint: auditSigner.fingerprint, source: signing?.source }, 'audit-trail signing key loaded');
  }
  logger.info({ direct: llm.configured.direct, mcp: llm.configured.mcp, region: config.AWS_REGION }, llm.configured.direct || llm.configured.mcp ? 'LLM paths configured' : 'no LLM path configured: the local provider answers');

  // The inventory in force: the file's when one is given, else what Redis holds (the built-in one the first time).
  const inForce = config.BSM_INVENTORY && inventory ? await adapters.inventory.seed(inventory, { source: 'file', setBy: config.BSM_INVENTORY, at: new Date() }) : await adapters.inventory.current();
  logger.info({ source: inForce.source, setBy: inForce.setBy, version: inForce.version, targets: inForce.inventory.targets.length }, 'auditor inventory in force');

  const stops: Step[] = [];
  // What is declared here but lives in Redis: the queue states support mode wants, and the job
  // schedulers. Applied at start-up, and again whenever Redis comes back. Both steps are
  // idempotent and cheap when nothing is missing.
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
  const reapply = reapplier(async () => {
    const { state, schedules } = await applyDeclared();
    return { supportMode: statusOf(state), schedulersRestored: schedules?.upserted ?? [] };
  }, logger);
  for (const redis of [client, blocking, subscriber]) {
    redis?.on('ready', () => outage.restored());
    redis?.on('refresh', () => outage.restored());
  }
  client.on('ready', () => {
    if (appliesDeclared) {
      reapply.trigger();
    }
  });
  stops.push(() => reapply.stop());

  if (has('worker')) {
    stops.push(await startWorkerRole(invocation, config, url, { blocking, subscriber, control, prefix, layout, logger, outage, metrics, auditSigner }));
  }
  // Every role's heartbeat (resources per process); stopped after the workers, so their last
  // jobs' figures are written before Redis closes.
  const processMetrics = startProcessMetrics({ store: metrics, role: invocation.role, queues: has('worker') ? invocation.queues : [], logger });
  stops.push(() => processMetrics.stop());
  if (has('api')) {
    try {
      stops.unshift(await startApiRole(config, adapters, control, logger, apiKeys, firstNodeUrl(url)));
    } catch (err) {
      // Whatever started before the API stops again, then the one line says why.
      for (const stop of stops) {
        await stop();
      }
      throw err;
    }
  }

  onStopSignals(
    () => [
      ...stops,
      () => control.close(),
      () => (client.status === 'ready' ? adapters.close() : Promise.resolve()),
      async () => {
        await Promise.all([closeRedis(client), closeRedis(blocking)]);
      },
      async () => {
        await own?.stop();
      },
    ],
    logger,
    { graceMs: config.BSM_SHUTDOWN_GRACE_MS, cancelWaitMs: config.BSM_CANCEL_WAIT_MS },
  );
}
