import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { cpuPercent, type ProcessRole, type ProcessSample } from '../domain/metrics/resources.js';
import type { QueueName } from '../domain/queue-names.js';

/** Who a process is, as its heartbeat names it. */
export interface ProcessIdentity {
  id: string;
  host: string;
  pid: number;
  role: ProcessRole;
  queues: readonly QueueName[];
}

/** Reads this process's resources; each sample covers the time since the one before. */
export interface ProcessSampler {
  sample(at: number): ProcessSample;
  /** Stops the event-loop monitor. */
  close(): void;
}

/**
 * Samples this process: CPU time (`process.cpuUsage`) over wall time since the previous sample
 * (the first: since the process started), memory (`process.memoryUsage`), and the event loop's
 * delay at the 99th percentile (`monitorEventLoopDelay`, 20 ms resolution), reset at each sample.
 */
export function createProcessSampler(identity: ProcessIdentity): ProcessSampler {
  const loop: IntervalHistogram = monitorEventLoopDelay({ resolution: 20 });
  loop.enable();
  // performance.now() counts from the process's start, as process.cpuUsage() does.
  let previous = { cpu: { user: 0, system: 0 }, wallMs: 0 };
  const startedAt = Math.round(performance.timeOrigin);
  return {
    sample(at) {
      const cpu = process.cpuUsage();
      const wallMs = performance.now();
      const spentMicros = cpu.user - previous.cpu.user + (cpu.system - previous.cpu.system);
      const windowMs = wallMs - previous.wallMs;
      previous = { cpu, wallMs };
      const memory = process.memoryUsage();
      const p99Ns = loop.count > 0 ? loop.percentile(99) : null;
      loop.reset();
      return {
        id: identity.id,
        host: identity.host,
        pid: identity.pid,
        role: identity.role,
        queues: [...identity.queues],
        startedAt,
        at,
        cpuPercent: Math.round(cpuPercent(spentMicros, windowMs) * 100) / 100,
        cpuWindowSeconds: Math.round(windowMs) / 1000,
        rssBytes: memory.rss,
        heapUsedBytes: memory.heapUsed,
        heapTotalBytes: memory.heapTotal,
        eventLoopDelayP99Ms: p99Ns === null ? null : Math.round(p99Ns / 1e4) / 100,
      };
    },
    close() {
      loop.disable();
    },
  };
}
