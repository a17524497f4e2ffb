import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { queueNames } from '../../src/domain/queue-names.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import type { Runner } from '../../src/workers/runner.js';
import { startTestRunner } from '../helpers/fleet.js';

/** What `POST /test/bedrock-support/{component}` answers when the canary does not pass. */
describe('component test: a canary that fails', () => {
  let t: TestApp;
  let runner: Runner | undefined;

  beforeEach(async () => {
    t = await makeTestApp('component-test', { env: { BSM_ATTEMPTS: '1' } });
  });

  afterEach(async () => {
    await runner?.close();
    runner = undefined;
    await t.close();
  });

  /** Support mode active, and the project's runner on meta-monitor with a build that cannot run this canary (say, a payload it does not know). */
  const startFailingWorker = async () => {
    await t.call('POST', '/admin/bedrock-support/enable', { body: { active: true } });
    const fail = () => Promise.reject(new Error('unknown payload version'));
    runner = startTestRunner(t, ['meta-monitor'], { handlers: { 'meta-monitor': { canary: fail, 'analyze-executions': fail } } });
    await runner.workers.get('meta-monitor')?.waitUntilReady();
  };

  it('an unknown component is a 404 naming the valid ones, and enqueues nothing', async () => {
    const r = await t.call('POST', '/test/bedrock-support/nope');
    expect(r.status).toBe(404);
    const body = (await r.json()) as { error: { message: string } };
    for (const name of queueNames) {
      expect(body.error.message).toContain(name);
    }
    const counts = await Promise.all(queueNames.map((q) => t.fleet.queue(q).getJobCountByTypes('waiting', 'prioritized', 'active')));
    expect(counts).toEqual(queueNames.map(() => 0));
  });

  it('answers 502 canary_failed with the job and its error when the worker fails it', async () => {
    await startFailingWorker();
    const r = await t.call('POST', '/test/bedrock-support/meta-monitor');
    const body = (await r.json()) as { error: { code: string; message: string; details: Record<string, unknown> } };
    expect(r.status, JSON.stringify(body)).toBe(502);
    expect(body.error).toMatchObject({
      code: 'canary_failed',
      message: expect.stringContaining('unknown payload version') as unknown,
      details: { component: 'meta-monitor', attemptsMade: 1, error: 'unknown payload version' },
    });
    const job = await t.fleet.queue('meta-monitor').getJob(body.error.details.jobId as string);
    expect(await job?.getState()).toBe('failed');
  });

  it('failures counted by BullMQ make the component unhealthy, with the count in its reasons', async () => {
    await startFailingWorker();
    for (let i = 0; i < 4; i += 1) {
      expect((await t.call('POST', '/test/bedrock-support/meta-monitor')).status).toBe(502);
    }
    const health = (await (await t.call('GET', '/health/meta-monitor', { role: null })).json()) as { status: string; reasons: string[]; signals: { recent: { failed: number } } };
    expect(health.status).toBe('unhealthy');
    expect(health.signals.recent.failed).toBe(4);
    expect(health.reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^4 of 4 jobs failed in the last \d+ min$/)]));
  });
});
