import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCircuitBreaker } from '../../src/domain/llm/circuit-breaker.js';
import type { CircuitBreaker, CircuitBreakerSettings } from '../../src/domain/llm/circuit-breaker.js';
import { createLlmStore } from '../../src/store/llm.store.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const prefix = `{${uniquePrefix('breaker')}}`;
let redisA: Redis;
let redisB: Redis;
let testNo = 0;

beforeAll(() => {
  redisA = testRedis();
  redisB = testRedis();
});

afterAll(async () => {
  await deleteKeys(redisA, prefix);
  await Promise.all([redisA.quit(), redisB.quit()]);
});

/** Two breakers, as in two processes: separate connections, same key prefix, one test clock. */
function twoProcesses(settings?: Partial<CircuitBreakerSettings>): {
  a: CircuitBreaker;
  b: CircuitBreaker;
  clock: { now: number };
} {
  testNo += 1;
  const keyPrefix = `${prefix}:t${testNo}`;
  const clock = { now: Date.UTC(2025, 0, 15, 12, 0, 0) };
  const make = (redis: Redis) =>
    createCircuitBreaker({ store: createLlmStore(redis, keyPrefix).breaker, settings, clock: () => clock.now });
  return { a: make(redisA), b: make(redisB), clock };
}

describe('circuit breaker in Redis', () => {
  it('opens after 3 consecutive failures, and only consecutive ones count', async () => {
    const { a, clock } = twoProcesses();
    await a.recordFailure('direct', 'boom 1');
    await a.recordFailure('direct', 'boom 2');
    await a.recordSuccess('direct');
    await a.recordFailure('direct', 'boom 3');
    await a.recordFailure('direct', 'boom 4');
    expect(await a.canPass('direct')).toMatchObject({ allowed: true, state: 'closed' });
    clock.now += 1000;
    expect(await a.recordFailure('direct', 'boom 5')).toBe('open');
    expect(await a.canPass('direct')).toEqual({ allowed: false, state: 'open', trial: null });

    const snap = await a.snapshot('direct');
    expect(snap).toMatchObject({
      state: 'open',
      consecutiveFailures: 3,
      openedAt: clock.now,
      retryAt: clock.now + 30_000,
      lastError: 'boom 5',
      lastErrorAt: clock.now,
    });
    expect(snap.lastSuccessAt).toBe(clock.now - 1000);
    // The other path is independent.
    expect(await a.canPass('mcp')).toMatchObject({ allowed: true, state: 'closed' });
  });

  it('shares state across processes: one process opening it refuses the other', async () => {
    const { a, b } = twoProcesses();
    for (let i = 0; i < 3; i += 1) {
      await a.recordFailure('mcp', `down ${i}`);
    }
    expect(await b.canPass('mcp')).toMatchObject({ allowed: false, state: 'open' });
    expect((await b.snapshot('mcp')).lastError).toBe('down 2');
  });

  it('stays open 30 s, then lets one trial through; 2 successful trials close it', async () => {
    const { a, b, clock } = twoProcesses();
    for (let i = 0; i < 3; i += 1) {
      await a.recordFailure('direct', 'down');
    }
    clock.now += 29_999;
    expect((await b.canPass('direct')).allowed).toBe(false);
    expect((await a.snapshot('direct')).retryAt).toBe(clock.now + 1);
    clock.now += 1;
    // Its open time over, the breaker lets the next caller through: the snapshot says calls pass.
    expect(await a.snapshot('direct')).toMatchObject({ state: 'open', retryAt: null });

    const first = await b.canPass('direct');
    expect(first.allowed).toBe(true);
    expect(first.state).toBe('half_open');
    // The trial's token: only this caller's verdict counts toward closing.
    expect(first.trial).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    // A second caller, in the other process, must wait for the trial's verdict.
    expect(await a.canPass('direct')).toEqual({ allowed: false, state: 'half_open', trial: null });
    // The snapshot says until when: should the trial's caller die, its slot frees after the lease.
    expect((await a.snapshot('direct')).retryAt).toBe(clock.now + 60_000);

    expect(await b.recordSuccess('direct', first.trial)).toBe('half_open');
    // Between trials nothing is in flight: calls pass.
    expect((await a.snapshot('direct')).retryAt).toBeNull();
    const second = await a.canPass('direct');
    expect(second).toMatchObject({ allowed: true, state: 'half_open' });
    expect(await a.recordSuccess('direct', second.trial)).toBe('closed');

    expect(await b.canPass('direct')).toEqual({ allowed: true, state: 'closed', trial: null });
    expect(await a.snapshot('direct')).toMatchObject({ state: 'closed', consecutiveFailures: 0, openedAt: null });
  });

  it('reopens for another 30 s when a half-open trial fails', async () => {
    const { a, clock } = twoProcesses();
    for (let i = 0; i < 3; i += 1) {
      await a.recordFailure('direct', 'down');
    }
    clock.now += 30_000;
    const trial = await a.canPass('direct');
    expect(trial.state).toBe('half_open');
    await a.recordSuccess('direct', trial.trial);
    const trial2 = await a.canPass('direct');
    expect(trial2.allowed).toBe(true);
    clock.now += 500;
    expect(await a.recordFailure('direct', 'still down')).toBe('open');
    const reopenedAt = clock.now;
    expect((await a.snapshot('direct')).openedAt).toBe(reopenedAt);

    clock.now = reopenedAt + 29_999;
    expect((await a.canPass('direct')).allowed).toBe(false);
    clock.now = reopenedAt + 30_000;
    // The success before the failure does not carry over: two fresh successes are needed.
    const t3 = await a.canPass('direct');
    expect(t3.state).toBe('half_open');
    expect(await a.recordSuccess('direct', t3.trial)).toBe('half_open');
  });

  it('allows exactly one half-open trial among many concurrent callers on two connections', async () => {
    const { a, b, clock } = twoProcesses();
    for (let i = 0; i < 3; i += 1) {
      await a.recordFailure('mcp', 'down');
    }
    clock.now += 30_000;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).canPass('mcp')));
    expect(results.filter((r) => r.allowed)).toHaveLength(1);
    expect(results.every((r) => r.state === 'half_open')).toBe(true);
  });

  it('frees the trial slot on release, and when the trial holder never reports back', async () => {
    const { a, b, clock } = twoProcesses({ trialLeaseMs: 5_000 });
    for (let i = 0; i < 3; i += 1) {
      await a.recordFailure('direct', 'down');
    }
    clock.now += 30_000;
    const t1 = await a.canPass('direct');
    expect(t1.allowed).toBe(true);
    await a.release('direct', t1.trial);
    const t2 = await b.canPass('direct');
    expect(t2.allowed).toBe(true);

    // A release with a stale ticket does not free the slot t2 holds.
    await a.release('direct', t1.trial);
    expect((await a.canPass('direct')).allowed).toBe(false);

    // t2's holder crashed: after the lease another trial may go.
    clock.now += 4_999;
    expect((await a.canPass('direct')).allowed).toBe(false);
    clock.now += 1;
    expect((await a.canPass('direct')).allowed).toBe(true);
  });

  it('counts toward closing only the successes of the trial holder', async () => {
    const { a, clock } = twoProcesses();
    for (let i = 0; i < 3; i += 1) {
      await a.recordFailure('direct', 'down');
    }
    clock.now += 30_000;
    const t1 = await a.canPass('direct');
    // A late success from a call that started before the breaker opened.
    expect(await a.recordSuccess('direct')).toBe('half_open');
    expect(await a.recordSuccess('direct')).toBe('half_open');
    expect((await a.canPass('direct')).allowed).toBe(false);
    expect(await a.recordSuccess('direct', t1.trial)).toBe('half_open');
  });

  it('honours configured thresholds', async () => {
    const { a, clock } = twoProcesses({ failureThreshold: 5, openMs: 1_000, closeAfterSuccesses: 1 });
    for (let i = 0; i < 4; i += 1) {
      await a.recordFailure('direct', 'down');
    }
    expect((await a.canPass('direct')).allowed).toBe(true);
    await a.recordFailure('direct', 'down');
    expect((await a.canPass('direct')).allowed).toBe(false);
    clock.now += 1_000;
    const trial = await a.canPass('direct');
    expect(trial.allowed).toBe(true);
    expect(await a.recordSuccess('direct', trial.trial)).toBe('closed');
  });

  it('reports transitions to a listener', async () => {
    testNo += 1;
    const clock = { now: 1_000_000 };
    const events: string[] = [];
    const breaker = createCircuitBreaker({
      store: createLlmStore(redisA, `${prefix}:t${testNo}`).breaker,
      clock: () => clock.now,
      settings: { closeAfterSuccesses: 1 },
      onTransition: (e) => events.push(`${e.path}:${e.to}`),
    });
    for (let i = 0; i < 3; i += 1) {
      await breaker.recordFailure('mcp', 'down');
    }
    clock.now += 30_000;
    const trial = await breaker.canPass('mcp');
    await breaker.recordSuccess('mcp', trial.trial);
    expect(events).toEqual(['mcp:open', 'mcp:half_open', 'mcp:closed']);
  });

  it('keeps working after SCRIPT FLUSH emptied the script cache, as a restarted Redis would have', async () => {
    const { a, clock } = twoProcesses();
    // Each script runs once on this connection, so the calls below go out as EVALSHA.
    await a.recordFailure('direct', 'down');
    await a.recordSuccess('direct');
    await a.release('direct', 'no-such-trial');
    expect((await a.canPass('direct')).allowed).toBe(true);

    await redisA.script('FLUSH');
    for (let i = 1; i <= 3; i += 1) {
      await a.recordFailure('direct', `down ${i}`);
    }
    expect(await a.canPass('direct')).toEqual({ allowed: false, state: 'open', trial: null });

    clock.now += 30_000;
    await redisA.script('FLUSH');
    const trial = await a.canPass('direct');
    expect(trial).toMatchObject({ allowed: true, state: 'half_open' });
    await redisA.script('FLUSH');
    await a.release('direct', trial.trial ?? '');
    const next = await a.canPass('direct');
    expect(next.allowed).toBe(true);
    await redisA.script('FLUSH');
    expect(await a.recordSuccess('direct', next.trial)).toBe('half_open');
  });

  it('rejects nonsensical settings', () => {
    expect(() =>
      createCircuitBreaker({ store: createLlmStore(redisA, prefix).breaker, settings: { failureThreshold: 0 } }),
    ).toThrowError('failureThreshold');
  });
});
