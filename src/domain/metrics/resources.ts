/**
 * What each process of the fleet says about itself (a heartbeat every {@link heartbeatIntervalMs},
 * kept in Redis under its process id), and the resources view built from those heartbeats, Redis'
 * own figures and the queue depths.
 */
import { z } from 'zod';
import { queueNames } from '../queue-names.js';

/** The roles of `bsm` (README "What runs"). */
export const processRoles = ['api', 'worker', 'scheduler', 'all'] as const;
export type ProcessRole = (typeof processRoles)[number];

/** How often every process writes its heartbeat. */
export const heartbeatIntervalMs = 10_000;
/** A process whose last heartbeat is older than this is taken for gone and not listed. */
export const staleAfterMs = 30_000;

/** One heartbeat, as a process writes it and a reader parses it back. Times epoch ms. */
export const processSampleSchema = z.object({
  /** hostname:pid:role. */
  id: z.string().min(1).max(300),
  host: z.string().max(255),
  pid: z.number().int().nonnegative(),
  role: z.enum(processRoles),
  /** The queues whose workers it runs (worker and all roles); empty otherwise. */
  queues: z.array(z.enum(queueNames)),
  startedAt: z.number(),
  at: z.number(),
  /** CPU time (user + system) over wall time since the previous heartbeat (the first: since the process started); 100 is one core. */
  cpuPercent: z.number().nonnegative(),
  /** The wall time `cpuPercent` covers. */
  cpuWindowSeconds: z.number().nonnegative(),
  rssBytes: z.number().nonnegative(),
  heapUsedBytes: z.number().nonnegative(),
  heapTotalBytes: z.number().nonnegative(),
  /** The event loop's delay at the 99th percentile since the previous heartbeat; null when nothing was sampled. */
  eventLoopDelayP99Ms: z.number().nonnegative().nullable(),
});
export type ProcessSample = z.infer<typeof processSampleSchema>;

/** The id a process's heartbeat is kept under. */
export function processIdOf(host: string, pid: number, role: ProcessRole): string {
  return `${host}:${pid}:${role}`;
}

/** CPU share in percent of one core: `cpuMicros` of CPU time over `wallMs` of wall time (0 when no time passed). */
export function cpuPercent(cpuMicros: number, wallMs: number): number {
  return wallMs > 0 ? Math.max(0, (cpuMicros / 1000 / wallMs) * 100) : 0;
}

/** The heartbeats of live processes (at most {@link staleAfterMs} old), by id. */
export function liveProcesses(samples: readonly ProcessSample[], now: number): ProcessSample[] {
  return samples.filter((s) => now - s.at <= staleAfterMs).sort((a, b) => a.id.localeCompare(b.id));
}

/** What Redis says about itself (`INFO`). Absent: not reported by the server. */
export interface RedisUsage {
  usedMemoryBytes: number | null;
  /** 0 in Redis means no limit: null here. */
  maxmemoryBytes: number | null;
  opsPerSecond: number | null;
  connectedClients: number | null;
}
