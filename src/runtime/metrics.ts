import { hostname } from 'node:os';
import type { ApiMetrics } from '../api/deps.js';
import { heartbeatIntervalMs, processIdOf, type ProcessRole } from '../domain/metrics/resources.js';
import type { QueueName } from '../domain/queue-names.js';
import type { Logger } from '../observability/logger.js';
import { createProcessSampler } from '../observability/process-sampler.js';
import { createPrometheusExporter } from '../observability/prometheus.js';
import type { MetricsStore } from '../store/metrics.store.js';
import type { Adapters } from './compose.js';

/** A process's own metrics: its heartbeat, and the writes of what its recorder holds. */
export interface ProcessMetrics {
  /** hostname:pid:role, the id its heartbeat is kept under. */
  readonly id: string;
  /** Writes a heartbeat and everything recorded so far. Never rejects: a failure is logged (once until one succeeds again). */
  beat(): Promise<void>;
  /** Stops the heartbeat, writes what is still recorded and removes the heartbeat (the process is gone from the resources view at once). */
  stop(): Promise<void>;
}

export interface ProcessMetricsOptions {
  store: MetricsStore;
  role: ProcessRole;
  /** The queues whose workers the process runs (empty for api and scheduler). */
  queues: readonly QueueName[];
  logger: Logger;
  /** Default {@link heartbeatIntervalMs} (10 s). */
  intervalMs?: number;
  /** Wall clock, epoch ms. Default `Date.now`. */
  clock?: () => number;
  /** Default: this machine's host name and process id (tests simulate other processes). */
  host?: string;
  pid?: number;
}

/** Starts a process's heartbeat: one at once, then every `intervalMs`, each also writing what the recorder holds. */
export function startProcessMetrics(options: ProcessMetricsOptions): ProcessMetrics {
  const clock = options.clock ?? Date.now;
  const host = options.host ?? hostname();
  const pid = options.pid ?? process.pid;
  const id = processIdOf(host, pid, options.role);
  const sampler = createProcessSampler({ id, host, pid, role: options.role, queues: options.queues });
  const log = options.logger.child({ component: 'metrics' });
  let failing = false;

  const beat = async () => {
    try {
      await Promise.all([options.store.writeHeartbeat(sampler.sample(clock())), options.store.recorder.flush()]);
      if (failing) {
        failing = false;
        log.info({ processId: id }, 'metrics written again');
      }
    } catch (err) {
      if (!failing) {
        failing = true;
        log.warn({ processId: id, err: (err as Error).message }, 'could not write the heartbeat and metrics to Redis: they are kept and written with the next heartbeat');
      }
    }
  };
  const first = beat();
  const timer = setInterval(() => void beat(), options.intervalMs ?? heartbeatIntervalMs);
  timer.unref();
  return {
    id,
    beat,
    async stop() {
      clearInterval(timer);
      await first;
      sampler.close();
      try {
        await options.store.close();
        await options.store.removeHeartbeat(id);
      } catch (err) {
        log.warn({ processId: id, err: (err as Error).message }, 'could not write the last metrics on shutdown');
      }
    },
  };
}

/** What the API serves the metrics from: the exporter of `/metrics` and the reader of the fleet's figures. */
export function apiMetricsOf(adapters: Pick<Adapters, 'metrics' | 'fleetReader' | 'llm'>, scraperToken: string | undefined): ApiMetrics {
  return {
    reader: adapters.metrics,
    scraperToken,
    prometheus: createPrometheusExporter({
      reader: adapters.metrics,
      fleet: () => adapters.fleetReader.snapshot(),
      routingEfficiency: (windowMs) => adapters.llm.router.routingEfficiency(windowMs),
    }),
  };
}
