/**
 * One worker process of the analysis-flow benchmark (bench/analysis-flow.ts starts them): the
 * project's runner (`startWorkers`) on the meta-monitor queue with the service's own adapters,
 * `BSM_ANALYSIS_PARTS` from the environment as the service reads it. Prints `ready` once its
 * worker runs; SIGTERM closes it.
 */
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/observability/logger.js';
import { createRedis, waitReady } from '../src/redis.js';
import { composeAdapters } from '../src/runtime/compose.js';
import { createControlChannel } from '../src/store/control-channel.js';
import { startWorkers } from '../src/workers/runner.js';

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = process.env.BSM_PREFIX ?? 'bsm';
const config = loadConfig({ REDIS_URL: url, BSM_PREFIX: prefix, BSM_ANALYSIS_PARTS: process.env.BSM_ANALYSIS_PARTS ?? '1' });
const redis = createRedis(url, 'client');
const blocking = createRedis(url, 'blocking');
await Promise.all([waitReady(redis), waitReady(blocking)]);
const logger = createLogger('silent');
const adapters = composeAdapters({ config, redis, prefix: `{${prefix}}`, logger, control: createControlChannel(redis, null, `{${prefix}}`) });
const runner = startWorkers({ queues: ['meta-monitor'], deps: adapters.jobDeps, connection: blocking, fleet: adapters.fleet, prefix: `{${prefix}}`, settings: config.queues, graceMs: 1_000, logger });
await runner.workers.get('meta-monitor')?.waitUntilReady();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void runner.close().then(async () => {
    await adapters.fleet.close();
    redis.disconnect();
    blocking.disconnect();
    process.exit(0);
  });
});
