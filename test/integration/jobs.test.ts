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
import { createAuditTrail } from '../../src/store/audit-trail.store.js';
import type { JobDeps } from '../../src/jobs/deps.js';
import { dailyCheckJob } from '../../src/jobs/bedrock-support/daily-check.job.js';
import { auditJob } from '../../src/jobs/infrastructure-auditor/audit.job.js';
import { analyzeExecutionsJob } from '../../src/jobs/meta-monitor/analyze-executions.job.js';
import { composeAdapters, type Adapters } from '../../src/runtime/compose.js';
import { createControlChannel } from '../../src/store/control-channel.js';
import { startWorkers, type Runner } from '../../src/workers/runner.js';
import { eventually, makeTestFleet, type TestFleet } from '../helpers/fleet.js';

describe('scheduled jobs do real work', () => {
  let t: TestFleet;
  let runner: Runner;
  let deps: JobDeps;
  let adapters: Adapters;
  let archiveDir: string;

  beforeAll(async () => {
    t = await makeTestFleet('jobs');
    archiveDir = await mkdtemp(join(tmpdir(), 'bsm-jobs-archive-'));
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
    // Workers on every queue but implementation-support, so the checks see one queue without a worker.
    runner = startWorkers({
      queues: ['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'compliance'],
      deps,
      connection: t.blocking,
      fleet: t.fleet,
      prefix: t.prefix,
      settings: t.config.queues,
      graceMs: 1000,
      logger: t.logger,
    });
  });

  afterAll(async () => {
    await runner.close();
    await adapters.close();
    await t.cleanup();
    await rm(archiveDir, { recursive: true, force: true });
  });

  const finish = async (job: Job) => {
    const queue = t.fleet.queue(job.queueName as QueueName);
    const done = await eventually(async () => {
      const j = await queue.getJob(job.id as string);
      return j?.finishedOn !== undefined ? j : null;
    });
    if (done.failedReason) {
      throw new Error(`job failed: ${done.failedReason}`);
    }
    return done.returnvalue as unknown;
  };

  it('daily check records the real queue counts and workers, and stores the result', async () => {
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
    const job = await t.fleet.add('bedrock-support', 'weekly-review', {});
    const result = (await finish(job)) as WeeklyReviewResult;
    expect(result.dailyChecks).toMatchObject({ count: 1, degraded: 1 });
    const bs = result.queues.find((q) => q.name === 'bedrock-support');
    // The daily check completed before this review started.
    expect(bs?.completed).toBeGreaterThanOrEqual(1);
    expect(bs?.failed).toBe(0);
    expect(result.queues.find((q) => q.name === 'implementation-support')).toEqual({ name: 'implementation-support', completed: 0, failed: 0, failureRate: null });
  });

  it('an infrastructure audit checks Redis and the queues and stores a report', async () => {
    const job = await t.fleet.add('infrastructure-auditor', 'audit', { type: 'comprehensive' }, { priority: 'high' });
    const summary = (await finish(job)) as { auditId: string; score: number };
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

  it('execution analysis reports the jobs that ran, with measured durations', async () => {
    const job = await t.fleet.add('meta-monitor', 'analyze-executions', { timeframe: 'last-1h' });
    await finish(job);
    const report = await deps.reports.get('analyze-executions', job.id as string, analyzeExecutionsJob.result);
    const daily = report?.body.groups.find((g) => g.queue === 'bedrock-support' && g.name === 'daily-check');
    expect(daily).toMatchObject({ executions: 1, completed: 1, failed: 0 });
    expect(daily?.durationMs.p50).toBeGreaterThanOrEqual(0);
    expect(report?.body.groups.find((g) => g.name === 'audit')?.executions).toBe(1);
  });

  it('compliance check verifies residency and the audit trail', async () => {
    await deps.auditTrail.append({ actor: 'tester', action: 'test.event' });
    const job = await t.fleet.add('compliance', 'compliance-check', {});
    const result = (await finish(job)) as ComplianceCheckResult;
    expect(result.status).toBe('compliant');
    expect(result.items.find((i) => i.id === 'audit-trail.integrity')?.detail).toBe('1 stored entries verified');
  });

  it('archive moves old audit-trail entries to the archive and records that it did', async () => {
    const trail = createAuditTrail(t.client, t.prefix);
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
      expect(result).toMatchObject({ archived: before.length, fromSeq: before[0]?.event?.seq, toSeq: before.at(-1)?.event?.seq });
    } finally {
      deps.clock = realClock;
    }
    const files = await readdir(archiveDir);
    expect(files.length).toBeGreaterThan(0);
    const archivedLines = (await Promise.all(files.map((f) => readFile(join(archiveDir, f), 'utf8')))).join('').trim().split('\n');
    expect(archivedLines).toHaveLength(before.length);
    expect(archivedLines.some((l) => l.includes('test.three'))).toBe(true);
    // What stays in Redis is the record of the archive run, chained onto the archived entries.
    const rest = await trail.range();
    expect(rest.map((e) => e.event?.action)).toEqual(['audit-trail.archive']);
    expect(verifyChain(rest, await trail.anchor()).ok).toBe(true);
  });
});
