import { Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ActionRecordStore, QueueGlobalLimits, StoredApplication } from '../../src/domain/actions/index.js';
import { ExecutionAnalyzer } from '../../src/domain/meta-monitor/analysis.js';
import { fleetExecutionOf } from '../../src/domain/meta-monitor/analyze-executions.js';
import { defaultMetaMonitorSettings } from '../../src/domain/meta-monitor/config.js';
import { clusterIdOf, TemplateMiner } from '../../src/domain/meta-monitor/template-miner.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import { createRedis } from '../../src/redis.js';
import { eventually } from './fleet.js';
import { testRedisUrl } from './redis.js';

/** Action records in memory; the lock runs work one at a time, as the Redis lock does across processes. */
export function memoryRecords(): ActionRecordStore & { all: Map<string, StoredApplication> } {
  const all = new Map<string, StoredApplication>();
  let chain: Promise<unknown> = Promise.resolve();
  return {
    all,
    save: (r) => {
      all.set(r.id, structuredClone(r));
      return Promise.resolve();
    },
    get: (id) => Promise.resolve(structuredClone(all.get(id) ?? null)),
    recent: (limit) => Promise.resolve([...all.values()].reverse().slice(0, limit)),
    exclusive<T>(work: () => Promise<T>) {
      const run = chain.then(work);
      chain = run.catch(() => undefined);
      return run;
    },
  };
}

/** A queue whose global limits no test here reaches: each method throws if called. */
export function unusedQueueLimits(): QueueGlobalLimits {
  const unused = () => {
    throw new Error('not used here');
  };
  return {
    getGlobalConcurrency: unused,
    setGlobalConcurrency: unused,
    removeGlobalConcurrency: unused,
    getGlobalRateLimit: unused,
    setGlobalRateLimit: unused,
    removeGlobalRateLimit: unused,
  };
}

/** The failure clusters of a queue's failed jobs, as the meta-monitor's fleet analysis finds them (largest first). */
export async function failureClustersOf(queue: Pick<Queue, 'getJobs'>, name: QueueName): Promise<{ id: string; template: string; count: number }[]> {
  const analyzer = new ExecutionAnalyzer({ source: 'fleet', focus: 'failures', settings: defaultMetaMonitorSettings, clusterer: new TemplateMiner(), clusterIdOf });
  for (const job of await queue.getJobs(['failed'])) {
    const e = fleetExecutionOf({ queue: name, name: job.name, jobId: job.id, state: 'failed', enqueuedAt: job.timestamp, finishedAt: job.finishedOn, attemptsMade: job.attemptsMade, failedReason: job.failedReason });
    if (e) {
      analyzer.add(e);
    }
  }
  const window = { from: new Date(Date.now() - 3_600_000), to: new Date() };
  return analyzer.result(window, { from: new Date(window.from.getTime() - 3_600_000), to: window.from }).clusters.map((c) => ({ id: c.id, template: c.template, count: c.count }));
}

/**
 * Test workers on the fleet's queues that fail each job with its `reason` until `fix()`, then
 * complete it; `plant` adds such jobs (one attempt each) and waits until every one failed.
 */
export function failingJobs(t: { prefix: string; fleet: { queue(name: QueueName): Pick<Queue, 'add' | 'getJobState'> } }) {
  let fixed = false;
  const connections: Redis[] = [];
  const workers: Worker[] = [];
  return {
    /** Every worker and connection made here (a test may add its own), closed by `close`. */
    workers,
    connections,
    fix(value = true) {
      fixed = value;
    },
    async worker(queue: QueueName): Promise<Worker> {
      const connection = createRedis(testRedisUrl, 'blocking');
      connections.push(connection);
      const worker = new Worker(
        queue,
        (job: Job<{ reason: string }>) => {
          if (!fixed) {
            throw new Error(job.data.reason);
          }
          return Promise.resolve('done');
        },
        { connection, prefix: t.prefix },
      );
      workers.push(worker);
      await worker.waitUntilReady();
      return worker;
    },
    async plant(queue: QueueName, reasons: string[]): Promise<string[]> {
      const ids: string[] = [];
      for (const reason of reasons) {
        const job = await t.fleet.queue(queue).add('remediation-test', { reason }, { attempts: 1 });
        ids.push(job.id ?? '');
      }
      await eventually(async () => (await Promise.all(ids.map((id) => t.fleet.queue(queue).getJobState(id)))).every((s) => s === 'failed'));
      return ids;
    },
    async close() {
      await Promise.all(workers.splice(0).map((w) => w.close(true)));
      await Promise.all(connections.splice(0).map((c) => c.quit()));
    },
  };
}
