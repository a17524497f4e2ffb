import type { Queue } from 'bullmq';
import type { ChainableCommander, Cluster, Redis } from 'ioredis';
import { isCluster } from '../redis.js';
import { z } from 'zod';
import type { FleetState, QueueState } from '../domain/fleet/fleet-state.js';
import type { FinishedJob } from '../domain/fleet/ports.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';

/*
 * The fleet's state in ONE round trip to Redis: a pipeline of plain reads, one CLIENT LIST for all
 * queues, and one read-only script for stalled jobs.
 *
 * This is the one module that reads BullMQ's internals instead of its public API, because the
 * public API costs a round trip per figure and a CLIENT LIST per queue (`Queue#getWorkers`), about
 * 30 commands per health request. What it relies on, in BullMQ 6.7 (the installed version);
 * test/integration/fleet-reader.test.ts compares every figure with `getJobCounts`, `isPaused`,
 * `getWorkers`, `getMetrics` and `getJobs` on a live fleet and fails when one of these changes:
 * - Keys are named by BullMQ itself (`queue.toKey`, as in its `queue.keys` map). `wait` and `active` are
 *   lists, `prioritized`, `delayed`, `completed` and `failed` sorted sets: `getJobCounts` is
 *   LLEN/ZCARD of them (its script also drops a v5 marker from `wait`; v6 keeps markers in `marker`).
 * - Paused: the `paused` field of the `meta` hash (`isPaused` is HEXISTS; v6 leaves jobs in `wait`).
 * - Workers: a worker's blocking connection is named `<prefix>:<base64(queue name)>`, or
 *   `…:w:<worker name>` for a named worker (`getWorkers` filters CLIENT LIST on exactly that).
 * - `completed` is scored by the job's `finishedOn`: its highest score is the newest completion.
 * - A worker holds `<prefix>:<queue>:<job id>:lock` while a job runs; an active job without it is
 *   stalled (what the stalled checker moves back to waiting).
 * - `failed` is scored by `finishedOn` too, and a job's hash keeps its `name`, and `processedOn` and
 *   `finishedOn` (of its last attempt) as epoch ms.
 * - Metrics (`getMetrics`): a hash `metrics:<completed|failed>` with the running `count` and the
 *   `prevCount` at the last per-minute flush, and a list `metrics:<type>:data` of per-minute
 *   counts, newest first.
 */

/** Active jobs examined per queue for stalled detection (a fleet runs far fewer at once). */
const activeScanLimit = 500;

/**
 * KEYS[i]: a queue's active list; ARGV[i]: that queue's job-key prefix (`<prefix>:<queue>:`);
 * ARGV[#KEYS + 1]: how many active jobs to examine. Returns, per queue, the active jobs with no lock.
 * The lock keys are named by the script, not passed: every key of an install shares one hash tag.
 */
const stalledScript = `
local limit = tonumber(ARGV[#KEYS + 1])
local out = {}
for i = 1, #KEYS do
  local n = 0
  for _, id in ipairs(redis.call('LRANGE', KEYS[i], 0, limit - 1)) do
    if redis.call('EXISTS', ARGV[i] .. id .. ':lock') == 0 then n = n + 1 end
  end
  out[i] = n
end
return out
`;

const count = z.number().int().min(0);
const strings = z.array(z.string());
const counts = z.array(count);
const metricMeta = z.tuple([z.string().nullable(), z.string().nullable()]);
const clientList = z.string();

/**
 * Completed or failed jobs over the window: the per-minute points, plus the jobs since the last
 * flush, which are still only in the running count (what `Queue#getMetrics` hands back, summed).
 */
export function metricSum(countNow: number, countAtFlush: number, points: readonly number[]): number {
  return points.reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0) + Math.max(0, countNow - countAtFlush);
}

/** The CLIENT LIST name a worker of `queue` connects with, without the `:w:<name>` of named workers. */
function workerClientName(queue: Queue): string {
  return `${queue.opts.prefix ?? 'bull'}:${Buffer.from(queue.name).toString('base64')}`;
}

/** Live workers per queue from one CLIENT LIST, matched as `Queue#getWorkers` matches them. */
function workersFromClientList(list: string, queues: Readonly<Record<QueueName, Queue>>): Record<QueueName, number> {
  const bases = queueNames.map((name) => ({ name, exact: workerClientName(queues[name]), named: `${workerClientName(queues[name])}:w:` }));
  const workers = Object.fromEntries(queueNames.map((n) => [n, 0])) as Record<QueueName, number>;
  for (const line of list.split('\n')) {
    const field = line.split(' ').find((f) => f.startsWith('name='));
    const name = field?.slice('name='.length).trimEnd();
    if (!name) {
      continue;
    }
    const match = bases.find((b) => name === b.exact || name.startsWith(b.named));
    if (match) {
      workers[match.name] += 1;
    }
  }
  return workers;
}

/** The replies of one queue's reads, in the order {@link queueReads} queues them. */
const queueReplies = z.tuple([count, count, count, count, count, count, z.union([z.literal(0), z.literal(1)]), metricMeta, strings, metricMeta, strings, strings]);

/** One queue's reads, added to the pipeline (12 commands). */
function queueReads(p: ChainableCommander, q: Queue, windowMinutes: number): void {
  const k = (type: string) => q.toKey(type);
  p.llen(k('wait')).zcard(k('prioritized')).llen(k('active')).zcard(k('delayed')).zcard(k('completed')).zcard(k('failed'));
  p.hexists(k('meta'), 'paused');
  for (const type of ['completed', 'failed'] as const) {
    p.hmget(q.toKey(`metrics:${type}`), 'count', 'prevCount').lrange(q.toKey(`metrics:${type}:data`), 0, windowMinutes - 1);
  }
  p.zrevrange(k('completed'), 0, 0, 'WITHSCORES');
}

function queueState(name: QueueName, replies: unknown[], workers: number, stalled: number, windowMinutes: number): QueueState {
  const [waiting, prioritized, active, delayed, completed, failed, paused, cMeta, cData, fMeta, fData, newest] = queueReplies.parse(replies);
  const recent = (meta: z.infer<typeof metricMeta>, data: string[]) => metricSum(Number(meta[0] ?? 0), Number(meta[1] ?? 0), data.map(Number));
  const finishedOn = newest[1] === undefined ? null : Number(newest[1]);
  return {
    name,
    paused: paused === 1,
    counts: { waiting, prioritized, active, delayed, completed, failed },
    workers: { count: workers },
    recent: { windowMinutes, completed: recent(cMeta, cData), failed: recent(fMeta, fData) },
    stalled,
    lastCompletedAt: finishedOn === null || !Number.isFinite(finishedOn) ? null : new Date(finishedOn).toISOString(),
  };
}

/**
 * Reads every queue's state in one pipelined round trip (the caller notes when it sent it). Redis'
 * latency is the time until the PING at the head of the pipeline answered. Throws the first error any command met (a Redis
 * that does not answer fails every one of them).
 */
export async function readFleet(connection: Redis, queues: Readonly<Record<QueueName, Queue>>, windowMinutes: number): Promise<Omit<FleetState, 'at'>> {
  if (isCluster(connection)) {
    return readFleetOfCluster(connection, queues, windowMinutes);
  }
  const p = connection.pipeline();
  let pongAt: number | undefined;
  p.ping((err) => {
    if (!err) {
      pongAt = performance.now();
    }
  });
  p.client('LIST');
  const active = queueNames.map((n) => queues[n].toKey('active'));
  const jobPrefixes = queueNames.map((n) => queues[n].toKey(''));
  p.eval(stalledScript, active.length, ...active, ...jobPrefixes, activeScanLimit);
  for (const name of queueNames) {
    queueReads(p, queues[name], windowMinutes);
  }
  const sentAt = performance.now();
  const replies = (await p.exec()) ?? [];
  const failed = replies.find(([err]) => err !== null);
  if (failed?.[0]) {
    throw failed[0];
  }
  const values = replies.map(([, value]) => value);
  const workers = workersFromClientList(clientList.parse(values[1]), queues);
  const stalled = counts.length(queueNames.length).parse(values[2]);
  const states = queueNames.map((name, i) => queueState(name, values.slice(3 + 12 * i, 3 + 12 * (i + 1)), workers[name], stalled[i] ?? 0, windowMinutes));
  return {
    redis: { latencyMs: Math.round(((pongAt ?? performance.now()) - sentAt) * 1000) / 1000 },
    queues: Object.fromEntries(states.map((s) => [s.name, s])) as Record<QueueName, QueueState>,
  };
}

/** The replies of a pipeline, or the first error one of its commands met. */
async function repliesOf(p: ChainableCommander): Promise<unknown[]> {
  const replies = (await p.exec()) ?? [];
  const failed = replies.find(([err]) => err !== null);
  if (failed?.[0]) {
    throw failed[0];
  }
  return replies.map(([, value]) => value);
}

/**
 * {@link readFleet} on a Redis Cluster, where each queue has a hash tag (and slot) of its own: one
 * pipeline per queue (its stalled check and its 12 reads, all in its slot), sent side by side, and
 * CLIENT LIST on every node; a queue's workers are counted on the node where most of them show,
 * as `Queue#getWorkers` counts them on a cluster (a worker's cluster connection names itself on
 * every node it talks to).
 */
async function readFleetOfCluster(connection: Redis, queues: Readonly<Record<QueueName, Queue>>, windowMinutes: number): Promise<Omit<FleetState, 'at'>> {
  const sentAt = performance.now();
  const pinged = connection.ping().then(() => performance.now());
  const nodes = (connection as unknown as Cluster).nodes();
  const lists = Promise.all(nodes.map(async (node) => clientList.parse(await node.client('LIST'))));
  const perQueue = Promise.all(
    queueNames.map(async (name) => {
      const p = connection.pipeline();
      p.eval(stalledScript, 1, queues[name].toKey('active'), queues[name].toKey(''), activeScanLimit);
      queueReads(p, queues[name], windowMinutes);
      return repliesOf(p);
    }),
  );
  const [pongAt, nodeLists, values] = await Promise.all([pinged, lists, perQueue]);
  const perNode = nodeLists.map((list) => workersFromClientList(list, queues));
  const states = queueNames.map((name, i) => {
    const replies = values[i] as unknown[];
    const workers = Math.max(0, ...perNode.map((w) => w[name]));
    const stalled = counts.length(1).parse(replies[0])[0] ?? 0;
    return queueState(name, replies.slice(1), workers, stalled, windowMinutes);
  });
  return {
    redis: { latencyMs: Math.round((pongAt - sentAt) * 1000) / 1000 },
    queues: Object.fromEntries(states.map((s) => [s.name, s])) as Record<QueueName, QueueState>,
  };
}

const idsWithScores = z.array(z.string());
const nameAndTimestamps = z.tuple([z.string().nullable(), z.string().nullable(), z.string().nullable()]);

/**
 * The newest finished jobs of `queue` (newest first): at most `limit` of each state finished at or
 * after `since` (epoch ms; null: any time), merged, each with its name, when it finished and how
 * long its last attempt ran. Two round trips: the sorted sets, then three fields of each job.
 */
export async function readFinished(connection: Redis, queue: Queue, options: { limit: number; since: number | null; states: readonly FinishedJob['state'][] }): Promise<FinishedJob[]> {
  if (options.limit < 1 || options.states.length === 0) {
    return [];
  }
  const ranges = connection.pipeline();
  for (const state of options.states) {
    ranges.zrevrangebyscore(queue.toKey(state), '+inf', options.since ?? '-inf', 'WITHSCORES', 'LIMIT', 0, options.limit);
  }
  const found: { id: string; state: FinishedJob['state']; score: number }[] = [];
  for (const [i, [err, reply]] of ((await ranges.exec()) ?? []).entries()) {
    if (err) {
      throw err;
    }
    const flat = idsWithScores.parse(reply);
    for (let j = 0; j + 1 < flat.length; j += 2) {
      found.push({ id: flat[j] as string, state: options.states[i] as FinishedJob['state'], score: Number(flat[j + 1]) });
    }
  }
  if (found.length === 0) {
    return [];
  }
  const times = connection.pipeline();
  for (const f of found) {
    times.hmget(queue.toKey(f.id), 'name', 'processedOn', 'finishedOn');
  }
  const replies = (await times.exec()) ?? [];
  return found
    .map((f, i): FinishedJob => {
      const [err, reply] = replies[i] ?? [null, [null, null]];
      if (err) {
        throw err;
      }
      const [name, processedOn, finishedOn] = nameAndTimestamps.parse(reply);
      const finishedAt = finishedOn === null ? f.score : Number(finishedOn);
      return { name: name ?? '', finishedAt, runMs: processedOn === null ? null : finishedAt - Number(processedOn), state: f.state };
    })
    .sort((a, b) => b.finishedAt - a.finishedAt);
}
