/**
 * The CloudWatch publisher's figures, read from what the service already keeps: BullMQ's finished
 * jobs (durations and outcomes per component and job name), the LLM router's routing decisions
 * (efficiency and cost per component), the queues' depths from the fleet read model, and this
 * process's CPU and memory. Only measured values; nothing here keeps figures of its own but the
 * previous CPU reading.
 */
import { availableParallelism, totalmem } from 'node:os';
import type { Job, Queue } from 'bullmq';
import type { CloudWatchSource, OperationFigures, Split, Window } from '../domain/cloudwatch/ports.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import { fromNanoUsd, toNanoUsd } from '../domain/llm/money.js';
import type { DecisionStore, RoutingDecision } from '../domain/llm/ports.js';
import { efficiencyFrom } from '../domain/llm/routing-metrics.js';
import { addTally, tallyDecision } from '../domain/llm/routing-tally.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';

export interface CloudWatchSourceOptions {
  /** The queues, made by the job factory. */
  queues: Readonly<Record<QueueName, Queue>>;
  fleet: Pick<FleetReader, 'snapshot'>;
  decisions: Pick<DecisionStore, 'range'>;
  /** The queues whose workers run in this process (its CPU and memory are theirs). */
  processQueues: readonly QueueName[];
  /** Finished jobs read per queue, state and window at most (default 20,000); past it the figures are a lower bound. */
  maxJobsPerWindow?: number;
  /** Jobs read per page (default 200). */
  pageSize?: number;
  /** Told when a window held more finished jobs of a queue and state than `maxJobsPerWindow`. */
  onTruncated?: (event: { queue: QueueName; state: 'completed' | 'failed'; read: number }) => void;
}

/**
 * Jobs of `state` that finished in the window, newest first: BullMQ keeps its completed and failed
 * sets ordered by when each job finished, so the pages are read until one reaches before the window.
 */
async function finishedIn(queue: Queue, state: 'completed' | 'failed', window: Window, max: number, pageSize: number): Promise<{ jobs: Job[]; truncated: boolean }> {
  const from = window.from.getTime();
  const to = window.to.getTime();
  const jobs: Job[] = [];
  for (let start = 0; start < max; start += pageSize) {
    const page = await queue.getJobs([state], start, Math.min(start + pageSize, max) - 1, false);
    if (page.length === 0) {
      return { jobs, truncated: false };
    }
    for (const job of page) {
      const at = job.finishedOn;
      if (at === undefined) {
        continue;
      }
      if (at < from) {
        return { jobs, truncated: false };
      }
      if (at < to) {
        jobs.push(job);
      }
    }
  }
  return { jobs, truncated: true };
}

/** Decisions of the window, by component. */
function byComponent(decisions: readonly RoutingDecision[]): Map<string, RoutingDecision[]> {
  const out = new Map<string, RoutingDecision[]>();
  for (const d of decisions) {
    out.set(d.component, [...(out.get(d.component) ?? []), d]);
  }
  return out;
}

export function createCloudWatchSource(options: CloudWatchSourceOptions): CloudWatchSource {
  const max = options.maxJobsPerWindow ?? 20_000;
  const pageSize = options.pageSize ?? 200;
  let lastCpu: { at: bigint; usage: NodeJS.CpuUsage } | null = null;
  const decisionsOf = (w: Window) => options.decisions.range(w.from.getTime(), w.to.getTime() - 1);

  return {
    async performance(window) {
      const figures: OperationFigures[] = [];
      for (const component of queueNames) {
        const queue = options.queues[component];
        const [completed, failed] = await Promise.all([finishedIn(queue, 'completed', window, max, pageSize), finishedIn(queue, 'failed', window, max, pageSize)]);
        for (const [state, read] of [
          ['completed', completed],
          ['failed', failed],
        ] as const) {
          if (read.truncated) {
            options.onTruncated?.({ queue: component, state, read: read.jobs.length });
          }
        }
        const byOperation = new Map<string, { success: number; errors: number; latencyMs: Map<number, number> }>();
        for (const [jobs, outcome] of [
          [completed.jobs, 'success'],
          [failed.jobs, 'errors'],
        ] as const) {
          for (const job of jobs) {
            const op = byOperation.get(job.name) ?? { success: 0, errors: 0, latencyMs: new Map<number, number>() };
            op[outcome] += 1;
            if (job.processedOn !== undefined && job.finishedOn !== undefined && job.finishedOn >= job.processedOn) {
              const ms = job.finishedOn - job.processedOn;
              op.latencyMs.set(ms, (op.latencyMs.get(ms) ?? 0) + 1);
            }
            byOperation.set(job.name, op);
          }
        }
        for (const [operation, op] of byOperation) {
          figures.push({ component, operation, ...op });
        }
      }
      return figures;
    },

    async routingEfficiency(window) {
      const decisions = await decisionsOf(window);
      const efficiency = (list: readonly RoutingDecision[]) => efficiencyFrom(list.map(tallyDecision).reduce(addTally, new Map()), window.from.getTime(), window.to.getTime()).efficiency;
      const split: Split<number | null> = { total: efficiency(decisions), byComponent: Object.fromEntries([...byComponent(decisions)].map(([c, list]) => [c, efficiency(list)])) };
      return split;
    },

    async llmCostUsd(window) {
      const decisions = await decisionsOf(window);
      const sum = (list: readonly RoutingDecision[]) => fromNanoUsd(list.reduce((n, d) => n + toNanoUsd(d.costUsd), 0));
      return { total: sum(decisions), byComponent: Object.fromEntries([...byComponent(decisions)].map(([c, list]) => [c, sum(list)])) };
    },

    async resources() {
      const at = process.hrtime.bigint();
      const usage = process.cpuUsage();
      // Since the previous reading; the first time, since the process started.
      const [elapsedUs, usedUs] =
        lastCpu === null ? [process.uptime() * 1e6, usage.user + usage.system] : [Number(at - lastCpu.at) / 1_000, usage.user - lastCpu.usage.user + (usage.system - lastCpu.usage.system)];
      lastCpu = { at, usage };
      const cpuPercent = elapsedUs > 0 ? Math.min(100, Math.max(0, (100 * usedUs) / (elapsedUs * availableParallelism()))) : 0;
      const constrained = process.constrainedMemory();
      const available = constrained !== undefined && constrained > 0 && constrained < totalmem() ? constrained : totalmem();
      const snapshot = await options.fleet.snapshot();
      return {
        process: { cpuPercent, memoryPercent: (100 * process.memoryUsage.rss()) / available, components: options.processQueues },
        queueDepth: Object.fromEntries(queueNames.map((q) => [q, snapshot.queues[q].counts.waiting + snapshot.queues[q].counts.prioritized])),
      };
    },
  };
}
