import type { Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditJob } from '../../src/jobs/infrastructure-auditor/audit.job.js';
import { createReportStore } from '../../src/store/reports.store.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { eventually } from '../helpers/fleet.js';
import { startBedrockFake, type BedrockFake } from '../fakes/bedrock-fake.js';

/**
 * The auditor's queue on its own app with the direct path on a Bedrock fake, one attempt per job
 * (a throttled job that spent an attempt would fail), back-off and concurrency as given.
 */
async function throttlingApp(label: string, bedrock: BedrockFake, backoff: { firstMs: number; maxMs: number }, concurrency: number): Promise<TestApp> {
  stubAwsEnv(bedrock.url);
  const t = await makeTestApp(label, {
    workers: ['infrastructure-auditor'],
    env: {
      BEDROCK_ENABLED: 'true',
      BSM_ATTEMPTS: '1',
      BSM_LLM_THROTTLE_BACKOFF_MS: String(backoff.firstMs),
      BSM_LLM_THROTTLE_BACKOFF_MAX_MS: String(backoff.maxMs),
      BSM_INFRASTRUCTURE_AUDITOR_CONCURRENCY: String(concurrency),
      BSM_INFRASTRUCTURE_AUDITOR_RATE_MAX: '1000',
      BSM_INFRASTRUCTURE_AUDITOR_RATE_DURATION_MS: '1000',
    },
  });
  await t.supportMode.execute({ type: 'enable', activate: true }, { by: 'test' });
  return t;
}

describe('a queue of LLM jobs against a throttling Bedrock', () => {
  let bedrock: BedrockFake;
  let t: TestApp;

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    t = await throttlingApp('throttle', bedrock, { firstMs: 150, maxMs: 150 }, 4);
  });

  afterAll(async () => {
    await t.close();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  it('every one of 50 jobs completes through the direct path; none fails; the queue backed off instead', async () => {
    bedrock.setDefault({ kind: 'ok', text: 'narrative', usage: { inputTokens: 10, outputTokens: 5 } });
    bedrock.throttleFirst(40);
    const jobs: Job[] = [];
    for (let i = 0; i < 50; i++) {
      jobs.push(await t.fleet.add('infrastructure-auditor', 'audit', { type: 'targeted', targets: ['fleet-redis'] }));
    }
    const queue = t.fleet.queue('infrastructure-auditor');
    // The whole queue backs off, not just the throttled job: queue.rateLimit() fills the queue's
    // limiter (MAX_SAFE_INTEGER) for the back-off time; the ordinary limiter never counts that high.
    let sampling = true;
    let longestTtlMs = 0;
    const sampler = (async () => {
      while (sampling) {
        longestTtlMs = Math.max(longestTtlMs, await queue.getRateLimitTtl(Number.MAX_SAFE_INTEGER));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const done = await eventually(
      async () => {
        const all = await Promise.all(jobs.map((j) => queue.getJob(j.id as string)));
        return all.every((j) => j?.finishedOn !== undefined) ? all : null;
      },
      60_000,
      100,
    );
    sampling = false;
    await sampler;
    expect(longestTtlMs).toBeGreaterThan(0);
    expect(longestTtlMs).toBeLessThanOrEqual(150);
    expect(done.filter((j) => j?.failedReason).map((j) => j?.failedReason)).toEqual([]);
    expect(await queue.getJobCounts('failed')).toEqual({ failed: 0 });

    const throttled = bedrock.requests.length - 50;
    expect(throttled).toBe(40);
    const reports = createReportStore(t.client, t.prefix);
    const narratives = await Promise.all(jobs.map(async (j) => (await reports.get('audit', j.id as string, auditJob.result))?.body.narrative));
    expect(narratives.every((n) => n?.path === 'direct' && n.text === 'narrative')).toBe(true);
  });
});

describe('throttles in a row double the back-off, up to its maximum', () => {
  let bedrock: BedrockFake;
  let t: TestApp;

  beforeAll(async () => {
    bedrock = await startBedrockFake();
    t = await throttlingApp('throttle-doubling', bedrock, { firstMs: 100, maxMs: 400 }, 1);
  });

  afterAll(async () => {
    await t.close();
    await bedrock.close();
    vi.unstubAllEnvs();
  });

  it('100, 200, 400, 400 … ms while Bedrock keeps throttling; every job completes', async () => {
    bedrock.setDefault({ kind: 'ok', text: 'narrative', usage: { inputTokens: 10, outputTokens: 5 } });
    bedrock.throttleFirst(6);
    const queue = t.fleet.queue('infrastructure-auditor');
    const ttls: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        ttls.push(await queue.getRateLimitTtl(Number.MAX_SAFE_INTEGER));
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    const jobs: Job[] = [];
    for (let i = 0; i < 3; i++) {
      jobs.push(await t.fleet.add('infrastructure-auditor', 'audit', { type: 'targeted', targets: ['fleet-redis'] }));
    }
    await eventually(async () => (await Promise.all(jobs.map((j) => queue.getJob(j.id as string)))).every((j) => j?.finishedOn !== undefined && !j.failedReason), 30_000, 100);
    sampling = false;
    await sampler;
    const longest = Math.max(...ttls);
    // Past the first back-off, so it doubled; never past the maximum.
    expect(longest).toBeGreaterThan(200);
    expect(longest).toBeLessThanOrEqual(400);
    expect(bedrock.requests.length).toBe(6 + 3);
  });
});
