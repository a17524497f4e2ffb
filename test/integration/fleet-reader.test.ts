import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsTime, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { queueNames } from '../../src/domain/queue-names.js';
import { createRedis, waitReady } from '../../src/redis.js';
import { freePort, startRedisServer, type OwnRedis } from '../../src/redis-server.js';
import { createFleetReader } from '../../src/store/fleet-reader.js';
import { createSupportModeStore } from '../../src/store/support-mode.store.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';

/**
 * The read model against BullMQ itself, on a redis-server of this file's own (so that Redis'
 * command statistics count this file's commands alone).
 */
describe('fleet reader', () => {
  let redis: OwnRedis;
  let t: TestFleet;
  const workers: Worker[] = [];

  beforeAll(async () => {
    redis = await startRedisServer({ port: await freePort() });
    // One attempt per job: a failure is final at once.
    t = await makeTestFleet('fleet-reader', { BSM_ATTEMPTS: '1' }, redis.url);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close(true)));
    await t.cleanup();
    await redis.stop();
  });

  it('reads what BullMQ reads, for every figure, in one round trip: jobs in every state, paused, named and unnamed workers, metrics, stalled', async () => {
    const opts = { connection: t.blocking, prefix: t.prefix };
    const queue = (name: (typeof queueNames)[number]) => t.fleet.queue(name);

    // bedrock-support: paused, with plain waiting, prioritized and delayed jobs.
    await queue('bedrock-support').pause();
    await queue('bedrock-support').add('canary', {});
    await queue('bedrock-support').add('canary', {});
    for (let i = 0; i < 3; i++) {
      await t.fleet.add('bedrock-support', 'canary', {}, { priority: 'low' });
    }
    await t.fleet.add('bedrock-support', 'canary', {}, { delayMs: 60_000 });

    // infrastructure-auditor: a named worker that completes four jobs and fails two, keeping metrics.
    const finished = new Set<string>();
    const named = new Worker(
      'infrastructure-auditor',
      (job: Job<{ fail?: boolean }>) => {
        if (job.data.fail) {
          throw new Error('failing on purpose');
        }
        return Promise.resolve('ok');
      },
      { ...opts, name: 'pinned', metrics: { maxDataPoints: MetricsTime.ONE_WEEK } },
    );
    workers.push(named);
    named.on('completed', (job) => finished.add(job.id ?? ''));
    named.on('failed', (job) => finished.add(job?.id ?? ''));
    for (let i = 0; i < 6; i++) {
      await queue('infrastructure-auditor').add('canary', { fail: i >= 4 });
    }
    await eventually(() => Promise.resolve(finished.size === 6));

    // meta-monitor: an unnamed worker holding one job (active, its lock kept).
    let release = () => undefined as void;
    const held = new Promise<void>((done) => (release = done));
    const holding = new Worker('meta-monitor', () => held, opts);
    workers.push(holding);
    await queue('meta-monitor').add('canary', {});
    await eventually(async () => (await queue('meta-monitor').getActiveCount()) === 1);

    // implementation-support: two jobs taken by hand; one loses its lock, as when its worker died.
    const manual = new Worker('implementation-support', null, { ...opts, name: 'manual' });
    workers.push(manual);
    await queue('implementation-support').add('canary', {});
    await queue('implementation-support').add('canary', {});
    const locked = await manual.getNextJob('token-1');
    const orphan = await manual.getNextJob('token-2');
    await t.client.del(`${queue('implementation-support').toKey(orphan.id ?? '')}:lock`);
    // Every worker's connection is up before anything is compared.
    for (const [name, count] of [['infrastructure-auditor', 1], ['meta-monitor', 1], ['implementation-support', 1]] as const) {
      await eventually(async () => (await queue(name).getWorkers()).length === count);
    }

    const snap = await t.reader.snapshot({ maxAgeMs: 0 });
    for (const name of queueNames) {
      const q = queue(name);
      const [counts, paused, clients, metrics, newest] = await Promise.all([
        q.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'completed', 'failed'),
        q.isPaused(),
        q.getWorkers(),
        t.reader.metricTotals(name, 15),
        q.getJobs(['completed'], 0, 0, false),
      ]);
      const finishedOn = newest[0]?.finishedOn;
      expect(snap.queues[name], name).toMatchObject({
        name,
        paused,
        counts,
        workers: { count: clients.length },
        recent: { windowMinutes: 15, ...metrics },
        lastCompletedAt: finishedOn === undefined ? null : new Date(finishedOn).toISOString(),
      });
    }
    // What BullMQ said, so that the comparison above compared something.
    expect(snap.queues['bedrock-support']).toMatchObject({ paused: true, counts: { waiting: 2, prioritized: 3, delayed: 1, active: 0 } });
    expect(snap.queues['infrastructure-auditor']).toMatchObject({ workers: { count: 1 }, counts: { completed: 4, failed: 2 }, recent: { completed: 4, failed: 2 }, stalled: 0 });
    expect(snap.queues['infrastructure-auditor'].lastCompletedAt).not.toBeNull();
    expect(snap.queues['meta-monitor']).toMatchObject({ workers: { count: 1 }, counts: { active: 1 }, stalled: 0 });
    expect(snap.queues['implementation-support']).toMatchObject({ workers: { count: 1 }, counts: { active: 2 }, stalled: 1 });
    expect(snap.queues.compliance).toMatchObject({ workers: { count: 0 }, stalled: 0, lastCompletedAt: null });
    expect(snap.mode.version).toBe(0);
    expect(snap.redis.latencyMs).toBeGreaterThan(0);

    // The lean read of finished jobs the alert rules use: BullMQ's own jobs, newest first, with their run times.
    const [completedJobs, failedJobs] = await Promise.all([queue('infrastructure-auditor').getCompleted(), queue('infrastructure-auditor').getFailed()]);
    const expected = [...completedJobs.map((j) => ({ j, state: 'completed' })), ...failedJobs.map((j) => ({ j, state: 'failed' }))]
      .map(({ j, state }) => ({ name: j.name, finishedAt: j.finishedOn, runMs: (j.finishedOn ?? 0) - (j.processedOn ?? 0), state }))
      .sort((x, y) => (y.finishedAt ?? 0) - (x.finishedAt ?? 0));
    expect(expected).toHaveLength(6);
    expect(await t.reader.recentFinished('infrastructure-auditor', { limit: 10 })).toEqual(expected);
    // At most `limit` of each state; only the states asked; only those finished since.
    expect((await t.reader.recentFinished('infrastructure-auditor', { limit: 1 })).map((f) => f.state).sort()).toEqual(['completed', 'failed']);
    expect((await t.reader.recentFinished('infrastructure-auditor', { limit: 10, states: ['failed'] })).map((f) => f.state)).toEqual(['failed', 'failed']);
    const newestAt = expected[0]?.finishedAt ?? 0;
    expect(await t.reader.recentFinished('infrastructure-auditor', { limit: 10, since: new Date(newestAt) })).toEqual(expected.filter((f) => (f.finishedAt ?? 0) >= newestAt));
    expect(await t.reader.recentFinished('compliance', { limit: 10 })).toEqual([]);

    // "Stalled" is what BullMQ's own stalled checker moves back: the orphan, not the locked job.
    const checker = new Worker('implementation-support', null, { ...opts, stalledInterval: 100, autorun: false });
    workers.push(checker);
    void checker.startStalledCheckTimer();
    await eventually(async () => (await orphan.getState()) !== 'active');
    expect(await locked.getState()).toBe('active');
    expect((await t.reader.snapshot({ maxAgeMs: 0 })).queues['implementation-support']).toMatchObject({ counts: { active: 1 }, stalled: 0 });
    release();
  });

  describe('sharing and reuse', () => {
    let conn: Redis;
    let monitor: Redis;
    /** Commands Redis received from `conn`, as MONITOR saw them (CLIENT LIST is an admin command: MONITOR leaves it out). */
    const seen: string[] = [];
    let now = 0;

    beforeAll(async () => {
      conn = createRedis(redis.url, 'client', 'fleet-reader-under-test');
      await waitReady(conn);
      const address = `127.0.0.1:${conn.stream.localPort ?? 0}`;
      monitor = createRedis(redis.url, 'blocking');
      const feed = await monitor.monitor();
      feed.on('monitor', (_time: string, args: string[], source: string) => {
        if (source === address) {
          seen.push((args[0] ?? '').toLowerCase());
        }
      });
    });

    afterAll(async () => {
      await Promise.allSettled([conn.quit(), monitor.quit()]);
    });

    const reader = (reuseMs: number) => {
      const store = createSupportModeStore(conn, t.prefix);
      return createFleetReader({ connection: conn, queues: t.fleet.queues, readMode: () => store.read(), reuseMs, windowMinutes: 15, now: () => now });
    };
    /** Waits until MONITOR has shown everything sent on `conn` (a marker goes last), and hands over what arrived since the last call. */
    const commands = async () => {
      await conn.echo('end of the commands to count');
      await eventually(() => Promise.resolve(seen.at(-1) === 'echo'));
      return seen.splice(0).slice(0, -1);
    };
    const clientLists = async () => Number(/cmdstat_client\|list:calls=(\d+)/.exec(await t.client.info('commandstats'))?.[1] ?? 0);

    it('concurrent callers share one read: one pipeline, one CLIENT LIST for every queue', async () => {
      const r = reader(1_000);
      await commands();
      const listsBefore = await clientLists();
      const snaps = await Promise.all(Array.from({ length: 25 }, () => r.snapshot()));
      const sent = await commands();
      // PING, the stalled-jobs script, 12 reads per queue, and the support-mode GET: once, not 25 times.
      expect(sent.filter((c) => c === 'ping')).toHaveLength(1);
      expect(sent.filter((c) => c === 'eval' || c === 'evalsha')).toHaveLength(1);
      expect(sent.filter((c) => c === 'get')).toHaveLength(1);
      expect(sent).toHaveLength(3 + 12 * queueNames.length);
      expect((await clientLists()) - listsBefore).toBe(1);
      expect(new Set(snaps.map((s) => s.queues)).size).toBe(1);
    });

    it('reuses a read for the window, says how old it is, and reads again after it, when asked for fresh figures, or after invalidate()', async () => {
      const r = reader(1_000);
      now = 10_000;
      const first = await r.snapshot();
      expect(first.ageMs).toBe(0);
      await commands();

      now = 10_400;
      const reused = await r.snapshot();
      expect(reused.queues).toBe(first.queues);
      expect(reused.at).toBe(first.at);
      expect(reused.ageMs).toBe(400);
      expect(r.kept()?.ageMs).toBe(400);
      expect(await commands()).toEqual([]);

      // A caller that needs the state as it is now reads Redis, and its read is kept for the others.
      const fresh = await r.snapshot({ maxAgeMs: 0 });
      expect(fresh.queues).not.toBe(first.queues);
      expect(fresh.ageMs).toBe(0);
      expect(await commands()).toHaveLength(3 + 12 * queueNames.length);
      expect((await r.snapshot()).queues).toBe(fresh.queues);

      now = 11_400;
      expect(r.kept()).toBeNull();
      const next = await r.snapshot();
      expect(next.queues).not.toBe(fresh.queues);
      expect(await commands()).toHaveLength(3 + 12 * queueNames.length);

      r.invalidate();
      expect(r.kept()).toBeNull();
      expect((await r.snapshot()).queues).not.toBe(next.queues);
      expect(await commands()).toHaveLength(3 + 12 * queueNames.length);
    });

    it('with reuse off (0), every call reads, but calls in flight together still share one read', async () => {
      const r = reader(0);
      now = 20_000;
      const a = await r.snapshot();
      const b = await r.snapshot();
      expect(b.queues).not.toBe(a.queues);
      expect(r.kept()).toBeNull();
      expect(await commands()).toHaveLength(2 * (3 + 12 * queueNames.length));
      const together = await Promise.all([r.snapshot(), r.snapshot(), r.snapshot()]);
      expect(new Set(together.map((s) => s.queues)).size).toBe(1);
      expect(await commands()).toHaveLength(3 + 12 * queueNames.length);
    });

    it('a read that invalidate() overtook is not kept, nor handed to later callers', async () => {
      const r = reader(60_000);
      now = 30_000;
      const stale = r.snapshot();
      r.invalidate();
      const after = r.snapshot();
      const [s, a] = await Promise.all([stale, after]);
      expect(a.queues).not.toBe(s.queues);
      expect((await r.snapshot()).queues).toBe(a.queues);
      expect(await commands()).toHaveLength(2 * (3 + 12 * queueNames.length));
    });
  });
});
