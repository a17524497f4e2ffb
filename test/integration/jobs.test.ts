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
import { createFileArchiveSink } from '../../src/store/archive-sink.js';
import type { JobDeps } from '../../src/jobs/deps.js';
import { dailyCheckJob } from '../../src/jobs/bedrock-support/daily-check.job.js';
import { alertEvaluationJob } from '../../src/jobs/bedrock-support/alert-evaluation.job.js';
import { auditJob } from '../../src/jobs/infrastructure-auditor/audit.job.js';
import { analyzeExecutionsJob } from '../../src/jobs/meta-monitor/analyze-executions.job.js';
import { composeAdapters, type Adapters } from '../../src/runtime/compose.js';
import { createControlChannel } from '../../src/store/control-channel.js';
import type { Runner } from '../../src/workers/runner.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { startTestRunner } from '../helpers/fleet.js';
import { afterEach, beforeEach } from 'vitest';
import type { FiringAlert } from '../../src/domain/alerts/fleet-rules.js';
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
      archiveSink: () => createFileArchiveSink(archiveDir),
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

  it('an infrastructure audit checks Redis and the queues and stores a report', async () => {
    await startRunner();
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'comprehensive' }, { priority: 'high' });
    const summary = (await finish(job)) as { score: number };
    const report = await deps.reports.get('audit', job.id as string, auditJob.result);
    const checks = Object.fromEntries((report?.body.checks ?? []).map((c) => [c.id, c]));
    expect(checks['queue.implementation-support.workers']?.status).toBe('fail');
    expect(checks['queue.meta-monitor.workers']?.status).toBe('pass');
    // The test's redis-server runs with noeviction.
    expect(checks['redis.eviction-policy']).toMatchObject({ status: 'pass', observed: 'noeviction' });
    const total = report?.body.checks.length ?? 0;
    const passed = report?.body.summary.pass ?? 0;
    expect(summary.score).toBe(Math.round((passed / total) * 100));
  });

  it('an incremental audit reports what changed since the previous audit', async () => {
    // The previous audit: implementation-support has no worker.
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
    // Only the queue checks are compared exactly: Redis latency on a busy machine may cross its threshold either way.
    const queueIds = (ids: string[] = []) => ids.filter((id) => id.startsWith('queue.'));
    expect(report?.changes?.previousAuditId).toBe(previous.id);
    expect(queueIds(report?.changes?.newlyFailing)).toEqual(['queue.meta-monitor.workers']);
    expect(queueIds(report?.changes?.resolved)).toEqual(['queue.implementation-support.workers']);
    // Not passing in both audits (the test's Redis keeps no AOF): not a change. The comprehensive audit reports no changes at all.
    expect(report?.checks.find((c) => c.id === 'redis.persistence')?.status).toBe('warn');
    expect(report?.changes?.newlyFailing).not.toContain('redis.persistence');
    expect((await deps.reports.get('audit', previous.id as string, auditJob.result))?.body.changes).toBeUndefined();
  });

  it('an incremental audit without a previous one reports every failing check as new', async () => {
    await startRunner();
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'incremental' });
    await finish(job);
    const report = (await deps.reports.get('audit', job.id as string, auditJob.result))?.body;
    const notPassing = (report?.checks ?? []).filter((c) => c.status !== 'pass').map((c) => c.id);
    expect(notPassing).toContain('queue.implementation-support.workers');
    expect(report?.changes).toEqual({ newlyFailing: notPassing, resolved: [], previousAuditId: null });
  });

  it('a targeted audit covers only its targets, and scores and summarises only them', async () => {
    await startRunner();
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'targeted', targets: ['queue.implementation-support', 'redis.eviction-policy'] });
    const summary = (await finish(job)) as { type: string; score: number; summary: Record<string, number> };
    const report = (await deps.reports.get('audit', job.id as string, auditJob.result))?.body;
    expect(report?.type).toBe('targeted');
    expect(report?.checks.map((c) => [c.id, c.status])).toEqual([
      ['redis.eviction-policy', 'pass'],
      ['queue.implementation-support.workers', 'fail'],
      ['queue.implementation-support.backlog', 'pass'],
    ]);
    expect(summary).toMatchObject({ type: 'targeted', score: 67, summary: { pass: 2, warn: 0, fail: 1 } });
    // A target no check has: nothing is audited, and nothing passes.
    const none = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'targeted', targets: ['queue.nope'] });
    expect(await finish(none)).toMatchObject({ score: 0, summary: { pass: 0, warn: 0, fail: 0 } });
  });

  it('alert evaluation fires P1 for a running queue with work and no worker, and stores the result', async () => {
    await startRunner();
    // Two jobs wait on implementation-support, which has no worker; every other queue has one.
    await t.fleet.add('implementation-support', 'canary', {});
    await t.fleet.add('implementation-support', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
    const result = (await finish(job)) as { evaluatedAt: string; firing: FiringAlert[] };
    const firing: FiringAlert[] = [
      { id: 'queue.implementation-support.no-worker', priority: 'P1', title: 'implementation-support has work and no worker', detail: '2 waiting, 0 workers' },
    ];
    expect(result.firing).toEqual(firing);
    expect((await deps.reports.get('alert-evaluation', job.id as string, alertEvaluationJob.result))?.body).toEqual(result);
  });

  it('alert evaluation leaves a queue without a worker alone while it is paused or has no work', async () => {
    await startRunner(['bedrock-support', 'infrastructure-auditor', 'compliance']);
    await t.fleet.setPaused('meta-monitor', true);
    await t.fleet.add('meta-monitor', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
    expect(((await finish(job)) as { firing: FiringAlert[] }).firing).toEqual([]);
  });

  it('alert evaluation of a healthy fleet fires nothing', async () => {
    await startRunner([...queueNames]);
    await t.fleet.add('implementation-support', 'canary', {});
    const job = await t.fleet.add('bedrock-support', 'alert-evaluation', {});
    const result = (await finish(job)) as { evaluatedAt: string; firing: FiringAlert[] };
    expect(result.firing).toEqual([]);
    expect((await deps.reports.latest('alert-evaluation', alertEvaluationJob.result))?.body).toEqual(result);
  });

  it('execution analysis reports the jobs that ran, with measured durations', async () => {
    await startRunner();
    const daily = await finishedJob(await t.fleet.add('bedrock-support', 'daily-check', {}));
    await finish(await t.fleet.add('infrastructure-auditor', 'audit', {}));
    const job = await t.fleet.add('meta-monitor', 'analyze-executions', { timeframe: 'last-1h' });
    await finish(job);
    const report = await deps.reports.get('analyze-executions', job.id as string, analyzeExecutionsJob.result);
    const group = report?.body.groups.find((g) => g.queue === 'bedrock-support' && g.name === 'daily-check');
    expect(group).toMatchObject({ executions: 1, completed: 1, failed: 0 });
    // One execution: its p50 and max are that job's own run time as BullMQ recorded it.
    const ranMs = (daily.finishedOn ?? 0) - (daily.processedOn ?? 0);
    expect(group?.durationMs).toEqual({ p50: ranMs, p95: ranMs, max: ranMs });
    expect(report?.body.groups.find((g) => g.name === 'audit')?.executions).toBe(1);
  });

  it('compliance check verifies residency and the audit trail', async () => {
    await startRunner();
    await deps.auditTrail.append({ actor: 'tester', action: 'test.event' });
    const job = await t.fleet.add('compliance', 'compliance-check', {});
    const result = (await finish(job)) as ComplianceCheckResult;
    expect(result.status).toBe('compliant');
    expect(result.items.find((i) => i.id === 'audit-trail.integrity')?.detail).toBe('1 stored entries verified');
  });

  it('archive moves old audit-trail entries to the archive and records that it did', async () => {
    await startRunner();
    const trail = deps.auditTrail;
    for (const action of ['test.one', 'test.two', 'test.three']) {
      await trail.append({ actor: 'tester', action });
    }
    const before = await trail.range();
    // Nothing is a day old yet: nothing moves.
    const none = await t.fleet.add('compliance', 'archive-audit-trail', { olderThanDays: 1 });
    expect(await finish(none)).toMatchObject({ archived: 0 });
    expect(await readdir(archiveDir)).toEqual([]);

    // Two days on, every entry is older than a day: all of them go to the archive.
    const realClock = deps.clock;
    deps.clock = () => new Date(realClock().getTime() + 2 * 86_400_000);
    try {
      const job = await t.fleet.add('compliance', 'archive-audit-trail', { olderThanDays: 1 });
      const result = await finish(job);
      expect(result).toMatchObject({ archived: 3, fromSeq: 1, toSeq: 3 });
    } finally {
      deps.clock = realClock;
    }
    const files = await readdir(archiveDir);
    expect(files).toEqual(['audit-trail-000000000001-000000000003.jsonl']);
    const archivedLines = (await Promise.all(files.map((f) => readFile(join(archiveDir, f), 'utf8')))).join('').trim().split('\n');
    expect(archivedLines.map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(before.map((e) => e.id));
    expect(archivedLines.some((l) => l.includes('test.three'))).toBe(true);
    // What stays in Redis is the record of the archive run, chained onto the archived entries.
    const rest = await trail.range();
    expect(rest.map((e) => e.event?.action)).toEqual(['audit-trail.archive']);
    expect(verifyChain(rest, await trail.anchor()).ok).toBe(true);
  });
});
