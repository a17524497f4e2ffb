import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Job } from 'bullmq';
import type { ComplianceCheckResult } from '../../src/domain/compliance/daily-check.js';
import type { DailyCheckResult } from '../../src/domain/support-mode/daily-check.js';
import type { WeeklyReviewResult } from '../../src/domain/support-mode/weekly-review.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import { verifyChain } from '../../src/domain/audit-trail/chain.js';
import { apply } from '../../src/domain/support-mode/state.js';
import { createSupportModeStore } from '../../src/store/support-mode.store.js';
import { archiveDestinations } from '../../src/store/archive-sink.js';
import { readSegment } from '../../src/domain/audit-trail/archive.js';
import type { JobDeps } from '../../src/jobs/deps.js';
import { dailyCheckJob } from '../../src/jobs/bedrock-support/daily-check.job.js';
import { alertEvaluationJob } from '../../src/jobs/bedrock-support/alert-evaluation.job.js';
import { auditJob } from '../../src/jobs/infrastructure-auditor/audit.job.js';
import { scoreOf } from '../../src/domain/audit/report.js';
import { analyzeExecutionsJob } from '../../src/jobs/meta-monitor/analyze-executions.job.js';
import { composeAdapters, type Adapters } from '../../src/runtime/compose.js';
import { createControlChannel } from '../../src/store/control-channel.js';
import type { Runner } from '../../src/workers/runner.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { startTestRunner } from '../helpers/fleet.js';
import { afterEach, beforeEach } from 'vitest';
import { queueNames } from '../../src/domain/queue-names.js';

describe('scheduled jobs do real work', () => {
  let root: string;
  let t: TestFleet;
  let runner: Runner | undefined;
  let deps: JobDeps;
  let adapters: Adapters | undefined;
  let archiveDir: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'bsm-jobs-archive-'));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  // Each test gets a fleet of its own (own key prefix, own audit trail and reports): nothing it
  // reads was left by another test.
  beforeEach(async () => {
    t = await makeTestFleet('jobs');
    archiveDir = await mkdtemp(join(root, 'archive-'));
    adapters = composeAdapters({
      config: t.config,
      redis: t.client,
      prefix: t.prefix,
      logger: t.logger,
      control: createControlChannel(t.client, null, t.prefix),
      archiveDestinations: archiveDestinations([{ name: 'default', url: `file://${archiveDir}` }]),
      auditSigner: t.auditSigner,
    });
    deps = adapters.jobDeps;
    // Support mode fully active, so every queue is meant to run.
    await createSupportModeStore(t.client, t.prefix).update((s) => apply(s, { type: 'enable', activate: true }, { by: 'test' }, new Date()));
  });

  afterEach(async () => {
    await runner?.close();
    runner = undefined;
    await adapters?.close();
    await t.cleanup();
  });

  /**
   * The project's runner on `queues` (default: every queue but implementation-support, so the
   * checks see one queue without a worker); resolves once each of them shows its worker.
   */
  const startRunner = async (queues: QueueName[] = ['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'compliance']) => {
    const r = startTestRunner(t, queues, { deps });
    runner = r;
    await eventually(async () => (await Promise.all(queues.map(async (q) => (await t.queueState(q)).workers.count))).every((n) => n === 1));
    return r;
  };

  const finishedJob = async (job: Job) => {
    const queue = t.fleet.queue(job.queueName as QueueName);
    const done = await eventually(async () => {
      const j = await queue.getJob(job.id as string);
      return j?.finishedOn !== undefined ? j : null;
    });
    if (done.failedReason) {
      throw new Error(`job failed: ${done.failedReason}`);
    }
    return done;
  };
  const finish = async (job: Job) => (await finishedJob(job)).returnvalue as unknown;

  it('daily check records the real queue counts and workers, and stores the result', async () => {
    await startRunner();
    await t.fleet.add('implementation-support', 'canary', {});
    await t.fleet.add('implementation-support', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'daily-check', {});
    const result = (await finish(job)) as DailyCheckResult;
    const impl = result.queues.find((q) => q.name === 'implementation-support');
    expect(impl).toMatchObject({ workers: 0, waiting: 2, state: 'running' });
    expect(result.queues.find((q) => q.name === 'meta-monitor')?.workers).toBe(1);
    expect(result.queues.find((q) => q.name === 'bedrock-support')?.active).toBe(1);
    expect(result.problems).toEqual(['implementation-support: no live worker']);
    expect(result.status).toBe('degraded');
    expect(result.supportMode).toMatchObject({ status: 'active', featureFlag: true, components: { 'meta-monitor': 'active' } });
    const stored = await deps.reports.get('daily-check', job.id as string, dailyCheckJob.result);
    expect(stored?.body).toEqual(result);
    expect((await deps.reports.latest('daily-check', dailyCheckJob.result))?.id).toBe(job.id);
  });

  it('weekly review aggregates the stored daily checks and measured job totals', async () => {
    await startRunner();
    // Two mornings' checks, both finding implementation-support without a worker.
    for (let i = 0; i < 2; i++) {
      await finish(await t.fleet.add('bedrock-support', 'daily-check', {}));
    }
    const job = await t.fleet.add('bedrock-support', 'weekly-review', {});
    const result = (await finish(job)) as WeeklyReviewResult;
    expect(result.dailyChecks).toEqual({ count: 2, degraded: 2, recurringProblems: [{ problem: 'implementation-support: no live worker', days: 2 }] });
    // The two daily checks completed before this review started; the review itself was still running.
    expect(result.queues.find((q) => q.name === 'bedrock-support')).toEqual({ name: 'bedrock-support', completed: 2, failed: 0, failureRate: 0 });
    expect(result.queues.find((q) => q.name === 'implementation-support')).toEqual({ name: 'implementation-support', completed: 0, failed: 0, failureRate: null });
  });

  it('an infrastructure audit of the built-in inventory probes Redis and the queues, records gaps and stores a report', async () => {
    await startRunner();
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'comprehensive' }, { priority: 'high' });
    const summary = (await finish(job)) as { score: number; auditId: string };
    const report = (await deps.reports.get('audit', job.id as string, auditJob.result))?.body;
    expect(report?.auditId).toBe(`audit-${job.id as string}`);
    expect(report?.inventory.source).toBe('built-in');
    const status = Object.fromEntries((report?.targets ?? []).map((x) => [x.id, x.status]));
    expect(status).toMatchObject({ 'queue-implementation-support': 'fail', 'queue-meta-monitor': 'pass' });
    // The test's redis-server runs with noeviction and without AOF.
    const redis = report?.targets.find((x) => x.id === 'fleet-redis');
    expect(redis?.observations.find((o) => o.check === 'eviction-policy')).toMatchObject({ met: true, observed: 'noeviction' });
    const gaps = (report?.gaps ?? []).map((g) => `${g.subject}/${g.check}`).sort();
    expect(gaps).toContain('queue-implementation-support/workers');
    expect(gaps).toContain('fleet-redis/aof');
    expect(await deps.gaps.get(report?.gaps[0]?.id ?? '')).toMatchObject({ status: 'detected', count: 1, lastSeenBy: report?.auditId });
    expect(summary.score).toBe(scoreOf(report?.targets ?? []));
  });

  it('an incremental audit probes what failed, changed or was not probed within the hour, and resolves what it saw fixed', async () => {
    const first = await startRunner();
    const previous = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'comprehensive' });
    await finish(previous);
    await first.close();

    // Since then implementation-support got a worker and meta-monitor lost its own.
    await startRunner(['bedrock-support', 'infrastructure-auditor', 'implementation-support', 'compliance']);
    await eventually(async () => (await t.queueState('meta-monitor')).workers.count === 0);
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'incremental' });
    await finish(job);
    const report = (await deps.reports.get('audit', job.id as string, auditJob.result))?.body;
    expect(report?.type).toBe('incremental');
    const probed = (report?.targets ?? []).map((x) => x.id);
    // What failed last time is probed again; a target that passed within the hour is not (meta-monitor's loss waits for its turn).
    expect(probed).toContain('queue-implementation-support');
    expect(probed).toContain('fleet-redis');
    expect(probed).not.toContain('queue-meta-monitor');
    expect(report?.resolved.map((r) => r.subject)).toEqual(['queue-implementation-support']);
    expect(report?.trend.previousAuditId).toBe(`audit-${previous.id as string}`);
  });

  it('an incremental audit with nothing before it probes every target', async () => {
    await startRunner();
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'incremental' });
    await finish(job);
    const report = (await deps.reports.get('audit', job.id as string, auditJob.result))?.body;
    expect(report?.summary.targets).toBe(6);
    expect(report?.trend).toMatchObject({ previousAuditId: null, previousScore: null, scoreDelta: null });
  });

  it('a targeted audit probes only its targets; an unknown target fails the job at once', async () => {
    await startRunner();
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'targeted', targets: ['queue-implementation-support', 'fleet-redis'] });
    await finish(job);
    const report = (await deps.reports.get('audit', job.id as string, auditJob.result))?.body;
    expect(report?.targets.map((x) => x.id)).toEqual(['fleet-redis', 'queue-implementation-support']);
    const none = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'targeted', targets: ['queue.nope'] });
    const failed = await eventually(async () => {
      const j = await t.fleet.queue('infrastructure-auditor').getJob(none.id as string);
      return j?.finishedOn !== undefined ? j : null;
    });
    expect(failed.failedReason).toContain('unknown target id: queue.nope');
    expect(failed.attemptsMade).toBe(1);
  });

  /** What an evaluation found firing, as `rule subject level`. */
  type Firing = { rule: string; subject: string; level: string };
  const firingOf = (result: unknown) => (result as { firing: Firing[] }).firing.map((a) => `${a.rule} ${a.subject} ${a.level}`);

  it('alert evaluation fires P1 for a running queue with work and no worker, and stores the result', async () => {
    await startRunner();
    // Two jobs wait on implementation-support, which has no worker; every other queue has one.
    await t.fleet.add('implementation-support', 'canary', {});
    await t.fleet.add('implementation-support', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
    const result = await finish(job);
    // The fleet rule, and the health rule behind GET /health/component/implementation-support.
    expect(firingOf(result)).toEqual(['queue.no-worker implementation-support P1', 'component.unhealthy implementation-support P1']);
    expect((result as { firing: Firing[] }).firing[0]).toMatchObject({ title: 'implementation-support has work and no worker', detail: '2 waiting, 0 workers' });
    expect((await deps.reports.get('alert-evaluation', job.id as string, alertEvaluationJob.result))?.body).toEqual(result);
  });

  it('alert evaluation leaves a queue without a worker alone while it is paused or has no work', async () => {
    await startRunner(['bedrock-support', 'infrastructure-auditor', 'compliance']);
    await t.fleet.setPaused('meta-monitor', true);
    await t.fleet.add('meta-monitor', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
    // No fleet rule; the health rules see the active component's queue paused and without a worker.
    expect(firingOf(await finish(job)).filter((a) => a.startsWith('queue.'))).toEqual([]);
  });

  it('alert evaluation of a healthy fleet fires nothing', async () => {
    await startRunner([...queueNames]);
    await t.fleet.add('implementation-support', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
    const result = await finish(job);
    expect(firingOf(result)).toEqual([]);
    expect((await deps.reports.latest('alert-evaluation', alertEvaluationJob.result))?.body).toEqual(result);
  });

  it('execution analysis of the fleet reports the jobs that ran, with measured durations', async () => {
    await startRunner();
    const daily = await finishedJob(await t.fleet.add('bedrock-support', 'daily-check', {}));
    await finish(await t.fleet.add('infrastructure-auditor', 'audit', {}));
    const job = await t.fleet.add('meta-monitor', 'analyze-executions', { timeframe: 'last-1h', source: 'fleet' });
    await finish(job);
    const report = await deps.reports.get('analyze-executions', job.id as string, analyzeExecutionsJob.result);
    const op = report?.body.operations.find((g) => g.operation === 'bedrock-support/daily-check');
    expect(op).toMatchObject({ executions: 1, failures: 0, queue: 'bedrock-support' });
    // One execution: every quantile is that job's own run time as BullMQ recorded it (within the sketch's 1 %).
    const ranMs = (daily.finishedOn ?? 0) - (daily.processedOn ?? 0);
    expect(op?.latencyMs.max).toBe(ranMs);
    expect(Math.abs((op?.latencyMs.p50 ?? -1) - ranMs)).toBeLessThanOrEqual(Math.max(0.1, ranMs * 0.01));
    expect(report?.body.operations.find((g) => g.operation === 'infrastructure-auditor/audit')?.executions).toBe(1);
    expect(report?.body.analysisId).toBe(job.id?.startsWith('analysis-') ? job.id : `analysis-${job.id}`);
  });

  it('compliance check verifies residency and the audit trail', async () => {
    await startRunner();
    await deps.auditTrail.append({ actor: 'tester', action: 'test.event' });
    const job = await t.fleet.add('compliance', 'compliance-check', {});
    const result = (await finish(job)) as ComplianceCheckResult;
    expect(result.status).toBe('compliant');
    expect(result.items.find((i) => i.id === 'audit-trail.integrity')?.detail).toBe('1 stored entries verified');
  });

  it('archive writes old audit-trail entries to the archive and reads them back; the nightly run then removes them from Redis', async () => {
    await startRunner();
    const trail = deps.auditTrail;
    for (const action of ['test.one', 'test.two', 'test.three']) {
      await trail.append({ actor: 'tester', action });
    }
    // Nothing is a day old yet: nothing moves, but the run is recorded and anchored by a checkpoint.
    const none = await t.fleet.add('compliance', 'archive-audit-trail', { olderThanDays: 1 });
    expect(await finish(none)).toMatchObject({ archived: 0, segments: [], checkpoint: { number: 1, seq: 4 }, cleanup: null });
    expect((await readdir(archiveDir)).sort()).toEqual(['checkpoints', 'keys']);
    const before = await trail.range();
    expect(before.map((e) => e.event?.action)).toEqual(['test.one', 'test.two', 'test.three', 'audit-trail.archive']);

    // Two days on, every entry is older than a day: all of them go to the archive, then leave Redis.
    const realClock = deps.clock;
    deps.clock = () => new Date(realClock().getTime() + 2 * 86_400_000);
    try {
      const job = await t.fleet.add('compliance', 'archive-audit-trail', { olderThanDays: 1, cleanup: true });
      const result = await finish(job);
      expect(result).toMatchObject({ archived: 4, fromSeq: 1, toSeq: 4, checkpoint: { number: 2, seq: 5 }, cleanup: { removed: 4, stopped: null, pending: 0, anchor: { seq: 4 } } });
    } finally {
      deps.clock = realClock;
    }
    expect((await readdir(join(archiveDir, 'segments'))).sort()).toEqual(['audit-trail-000000000001-000000000004.jsonl.gz', 'audit-trail-000000000001-000000000004.manifest.json']);
    const lines = readSegment(await readFile(join(archiveDir, 'segments', 'audit-trail-000000000001-000000000004.jsonl.gz')));
    expect(typeof lines === 'string' ? lines : lines.map((l) => l.id)).toEqual(before.map((e) => e.id));
    // What stays in Redis is the record of the run and of its cleanup, chained onto the archived entries.
    const rest = await trail.range();
    expect(rest.map((e) => e.event?.action)).toEqual(['audit-trail.archive', 'audit-trail.cleanup']);
    expect(verifyChain(rest, await trail.anchor()).ok).toBe(true);
    expect(await deps.auditTrailService.verify('all')).toMatchObject({ ok: true, entries: 2, anchor: { seq: 4 }, checkpoint: { number: 2, seq: 5, agrees: true } });
  });

});
