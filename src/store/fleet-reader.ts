import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { FinishedJob, FleetReader, FleetSnapshot } from '../domain/fleet/ports.js';
import type { ExecutionRecord } from '../domain/meta-monitor/analyze-executions.js';
import type { QueueName } from '../domain/queue-names.js';
import type { SupportModeState } from '../domain/support-mode/state.js';
import { connectionUsable } from '../redis.js';
import { metricSum, readFinished, readFleet } from './fleet-internals.js';

export interface FleetReaderOptions {
  connection: Redis;
  /** The queues, made by the job factory (`src/queues/fleet.ts`). */
  queues: Readonly<Record<QueueName, Queue>>;
  /** Reads the stored support-mode state (its store's read: one GET, sent beside the pipeline). */
  readMode: () => Promise<SupportModeState>;
  /**
   * How long a snapshot is handed to callers that accept the default age, in ms
   * (`BSM_FLEET_SNAPSHOT_MS`). 0: no reuse; concurrent callers still share a read in flight.
   */
  reuseMs: number;
  /** Window of the recent completed/failed figures, in minutes. */
  windowMinutes: number;
  /** Monotonic clock in ms (default `performance.now`). */
  now?: () => number;
}

type Figures = Omit<FleetSnapshot, 'ageMs'>;

/** One read of the fleet: its figures (once Redis answered), when it was sent, and the generation it belongs to. */
interface Read {
  figures: Promise<Figures>;
  /** Set when the read succeeded. */
  value?: Figures;
  sentAt: number;
  generation: number;
}

/**
 * The fleet read model: snapshots read in one round trip (`fleet-internals.ts`, and the
 * support-mode state's GET sent beside it), shared by concurrent callers and reused for
 * `reuseMs`. A snapshot is handed out only while the connection is ready: during an outage
 * every caller goes to Redis and fails fast, so health says 503 at once instead of repeating
 * what it saw before. Dropping the connection, a failed read and {@link FleetReader.invalidate}
 * start a new generation: nothing read before is handed out again, and a read still in flight
 * is not kept.
 */
export function createFleetReader(options: FleetReaderOptions): FleetReader {
  const { queues, connection } = options;
  const now = options.now ?? (() => performance.now());
  let generation = 0;
  /** The newest read of this generation: done (kept) or in flight. */
  let latest: Read | null = null;

  const invalidate = () => {
    generation += 1;
    latest = null;
  };
  // A snapshot is never handed out across an outage, even one shorter than the reuse window.
  connection.on('close', invalidate);

  const start = (): Read => {
    // The wall-clock time and the monotonic one of the same instant: `at` and `ageMs` agree.
    const [sentAt, at] = [now(), new Date().toISOString()];
    const both = Promise.all([readFleet(connection, queues, options.windowMinutes), options.readMode()]);
    const read: Read = { figures: both.then(([fleet, mode]) => ({ at, ...fleet, mode })), sentAt, generation };
    latest = read;
    read.figures.then(
      (value) => {
        read.value = value;
      },
      () => {
        if (latest === read) {
          invalidate();
        }
      },
    );
    return read;
  };

  /** The newest read, when one of this generation exists and the connection can be trusted to say the figures still hold. */
  const current = (): Read | null => (latest !== null && latest.generation === generation && connectionUsable(connection) ? latest : null);
  // Spelled out rather than spread: this runs once per health request.
  const aged = (value: Figures, read: Read): FleetSnapshot => ({ at: value.at, redis: value.redis, queues: value.queues, mode: value.mode, ageMs: Math.round(now() - read.sentAt) });
  const handOver = (read: Read): Promise<FleetSnapshot> =>
    read.value === undefined ? read.figures.then((value) => aged(value, read)) : Promise.resolve(aged(read.value, read));

  return {
    snapshot({ maxAgeMs } = {}) {
      const read = current();
      if (read) {
        const age = now() - read.sentAt;
        // A read in flight is shared with whoever accepts the default age; a done one within the window.
        const fits = maxAgeMs === undefined ? read.value === undefined || age < options.reuseMs : age < maxAgeMs;
        if (fits) {
          return handOver(read);
        }
      }
      return handOver(start());
    },
    kept() {
      const read = current();
      return read?.value !== undefined && now() - read.sentAt < options.reuseMs ? aged(read.value, read) : null;
    },
    invalidate,
    async finishedJobs(queue, since, limit = 5_000) {
      const out: ExecutionRecord[] = [];
      let truncated = false;
      for (const state of ['completed', 'failed'] as const) {
        const jobs = await queues[queue].getJobs([state], 0, limit - 1, false);
        const oldest = jobs.at(-1);
        truncated ||= jobs.length >= limit && oldest?.finishedOn !== undefined && oldest.finishedOn >= since.getTime();
        for (const job of jobs) {
          if (job.finishedOn === undefined || job.finishedOn < since.getTime()) {
            continue;
          }
          out.push({
            queue,
            name: job.name,
            jobId: job.id,
            state,
            enqueuedAt: job.timestamp,
            startedAt: job.processedOn,
            finishedAt: job.finishedOn,
            attemptsMade: job.attemptsMade,
            failedReason: state === 'failed' ? job.failedReason : undefined,
          });
        }
      }
      return { records: out.sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0)), truncated };
    },
    recentFinished(queue, { limit, since, states = ['completed', 'failed'] }): Promise<FinishedJob[]> {
      return readFinished(connection, queues[queue], { limit, since: since?.getTime() ?? null, states });
    },
    async metricTotals(queue, minutes) {
      const sum = async (type: 'completed' | 'failed') => {
        const m = await queues[queue].getMetrics(type, 0, minutes - 1);
        return metricSum(m.meta.count, m.meta.prevCount, m.data);
      };
      const [completed, failed] = await Promise.all([sum('completed'), sum('failed')]);
      return { completed, failed };
    },
  };
}
