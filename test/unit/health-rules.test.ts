import { describe, expect, it } from 'vitest';
import { evaluateFleetRules } from '../../src/domain/alerts/fleet-rules.js';
import { builtInInventory } from '../../src/domain/audit/inventory.js';
import { latencyObservation } from '../../src/probes/findings.js';
import type { FleetState } from '../../src/domain/fleet/fleet-state.js';
import { redisSlowMs } from '../../src/domain/fleet/thresholds.js';
import { queueNames } from '../../src/domain/queue-names.js';
import { assessLlm, assessQueue, healthThresholds, type QueueSignals } from '../../src/domain/support-mode/health.js';
import { quietQueue } from '../helpers/fleet-state.js';

const now = new Date('2026-11-26T12:00:00Z');
const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();

/** A running queue with a worker and nothing wrong. */
const base = (over: Partial<QueueSignals> = {}): QueueSignals => ({
  name: 'meta-monitor',
  expectedRunning: true,
  paused: false,
  workers: 1,
  waiting: 0,
  active: 0,
  failedKept: 0,
  recent: { windowMinutes: 15, completed: 0, failed: 0 },
  stalled: 0,
  lastCompletedAt: ago(60),
  ...over,
});

const recent = (completed: number, failed: number) => ({ recent: { windowMinutes: 15, completed, failed } });

describe('health rules', () => {
  it('a running queue with a worker and nothing failing is healthy, with no reasons', () => {
    expect(assessQueue(base(), now, 1)).toMatchObject({ status: 'healthy', active: true, reasons: [] });
  });

  it('no worker: unhealthy when the queue should run, degraded when it is paused anyway', () => {
    expect(assessQueue(base({ workers: 0 }), now, 1)).toMatchObject({ status: 'unhealthy', reasons: ['no live worker'] });
    const inactive = assessQueue(base({ workers: 0, expectedRunning: false, paused: true }), now, 1);
    expect(inactive.status).toBe('degraded');
    expect(inactive.reasons).toContain('no live worker');
  });

  it('the failed ratio over the window: 10 % degrades, 50 % is unhealthy, too few samples say nothing', () => {
    expect(assessQueue(base(recent(10, 0)), now, 1).status).toBe('healthy');
    expect(assessQueue(base(recent(10, 1)), now, 1)).toMatchObject({ status: 'healthy', signals: { failedRatio: 0.091 } });
    expect(assessQueue(base(recent(9, 1)), now, 1)).toMatchObject({ status: 'degraded', reasons: ['1 of 10 jobs failed in the last 15 min'], signals: { failedRatio: 0.1 } });
    expect(assessQueue(base(recent(6, 4)), now, 1).status).toBe('degraded');
    expect(assessQueue(base(recent(5, 5)), now, 1)).toMatchObject({ status: 'unhealthy', reasons: ['5 of 10 jobs failed in the last 15 min'] });
    // Three failures of three are below the sample floor: no verdict on the ratio.
    expect(healthThresholds.minSamples).toBe(4);
    expect(assessQueue(base(recent(0, 3)), now, 1)).toMatchObject({ status: 'healthy', signals: { failedRatio: 1 } });
    expect(assessQueue(base(recent(0, 4)), now, 1).status).toBe('unhealthy');
  });

  it('stalled jobs degrade', () => {
    expect(assessQueue(base({ stalled: 2 }), now, 1)).toMatchObject({ status: 'degraded', reasons: ['2 stalled job(s)'] });
  });

  it('work waiting while nothing runs and nothing completed for 15 min: the queue is stuck', () => {
    const stuckAfter = healthThresholds.stuckAfterSeconds;
    expect(assessQueue(base({ waiting: 3, lastCompletedAt: ago(stuckAfter) }), now, 1).status).toBe('healthy');
    expect(assessQueue(base({ waiting: 3, lastCompletedAt: ago(stuckAfter + 1) }), now, 1)).toMatchObject({
      status: 'degraded',
      reasons: [`3 job(s) waiting and none completed for ${stuckAfter + 1} s`],
      signals: { lastCompletedAgeSeconds: stuckAfter + 1 },
    });
    expect(assessQueue(base({ waiting: 3, lastCompletedAt: null }), now, 1).reasons).toEqual(['3 job(s) waiting and none completed yet']);
    // A job running means it moves; an inactive queue's waiting jobs are expected.
    expect(assessQueue(base({ waiting: 3, active: 1, lastCompletedAt: null }), now, 1).status).toBe('healthy');
    expect(assessQueue(base({ waiting: 3, lastCompletedAt: null, expectedRunning: false, paused: true }), now, 1).reasons).not.toContain('3 job(s) waiting and none completed yet');
  });

  it('a paused queue of an active component degrades; an inactive one carries its inactivity verdict', () => {
    expect(assessQueue(base({ paused: true }), now, 1)).toMatchObject({ status: 'degraded', reasons: ['queue paused although the component is active'] });
    const emergency = assessQueue(base({ expectedRunning: false, paused: true, inactive: { status: 'unhealthy', code: 'emergency_shutdown', reason: 'stopped by the emergency shutdown' } }), now, 1);
    expect(emergency).toMatchObject({ status: 'unhealthy', active: false, reasons: ['stopped by the emergency shutdown'] });
  });

  it('a slow Redis degrades every queue, and the worst verdict wins with every reason kept', () => {
    expect(assessQueue(base(), now, 99).status).toBe('healthy');
    expect(assessQueue(base(), now, 100)).toMatchObject({ status: 'degraded', reasons: ['redis ping 100 ms'] });
    const many = assessQueue(base({ workers: 0, stalled: 1, ...recent(1, 3) }), now, 150);
    expect(many.status).toBe('unhealthy');
    expect(many.reasons).toEqual(['no live worker', '3 of 4 jobs failed in the last 15 min', '1 stalled job(s)', 'redis ping 150 ms']);
  });

  it('one slow-Redis threshold: health degrades, the audit warns and the alert rules raise a P2 at the same latency', () => {
    expect(redisSlowMs).toBe(100);
    expect(healthThresholds.redisSlowMs).toBe(redisSlowMs);
    const fleet = (latencyMs: number): FleetState => ({
      at: now.toISOString(),
      redis: { latencyMs },
      queues: Object.fromEntries(queueNames.map((q) => [q, quietQueue(q)])) as FleetState['queues'],
    });
    const fleetRedis = builtInInventory().targets.find((x) => x.kind === 'redis');
    const fleetRedisBudget = fleetRedis?.kind === 'redis' ? fleetRedis.latencyBudgetMs : NaN;
    const verdicts = (latencyMs: number) => ({
      health: assessQueue(base(), now, latencyMs).status,
      audit: latencyObservation('Redis', latencyMs, fleetRedisBudget).met ? 'pass' : 'fail',
      alert: evaluateFleetRules(fleet(latencyMs)).find((a) => a.rule === 'redis.slow')?.level ?? null,
    });
    expect(verdicts(redisSlowMs - 0.001)).toEqual({ health: 'healthy', audit: 'pass', alert: null });
    expect(verdicts(redisSlowMs)).toEqual({ health: 'degraded', audit: 'fail', alert: 'P2' });
    expect(verdicts(10 * redisSlowMs)).toEqual({ health: 'degraded', audit: 'fail', alert: 'P2' });
  });

  it('LLM paths: a configured remote path the router skips degrades; unconfigured ones and local do not', () => {
    const path = (name: string, over: object = {}) => ({ path: name, configured: true, available: true, refusedBecause: null, breaker: null, ...over });
    expect(assessLlm([path('direct'), path('mcp'), path('local')])).toEqual({ status: 'healthy', reasons: [] });
    expect(assessLlm([path('direct', { configured: false, available: false }), path('mcp', { configured: false, available: false }), path('local')]).status).toBe('healthy');
    expect(assessLlm([path('direct', { available: false, breaker: { state: 'open', retryAt: '2026-11-26T12:00:30.000Z' } }), path('mcp'), path('local')])).toEqual({
      status: 'degraded',
      reasons: ['LLM path direct unavailable: circuit breaker open until 2026-11-26T12:00:30.000Z'],
    });
    expect(assessLlm([path('direct', { available: false, breaker: { state: 'half_open', retryAt: '2026-11-26T12:01:00.000Z' } })]).reasons).toEqual([
      'LLM path direct unavailable: circuit breaker half-open, its one trial call in flight until 2026-11-26T12:01:00.000Z',
    ]);
    expect(assessLlm([path('direct', { available: false, refusedBecause: 'the daily LLM budget is exhausted' })]).reasons).toEqual(['LLM path direct unavailable: the daily LLM budget is exhausted']);
  });
});
