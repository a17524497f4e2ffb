import { randomUUID } from 'node:crypto';
import type { BreakerState, BreakerStore, TransitionResult } from './ports.js';
import type { RemotePath } from './routing-matrix.js';

export type { BreakerState } from './ports.js';

/** Thresholds of the breaker; the defaults are the runbook's. */
export interface CircuitBreakerSettings {
  /** Consecutive failures that open a closed breaker. Default 3. */
  failureThreshold: number;
  /** How long an open breaker refuses calls before one trial is let through. Default 30 000 ms. */
  openMs: number;
  /** Consecutive successful trials that close a half-open breaker. Default 2. */
  closeAfterSuccesses: number;
  /**
   * How long a half-open trial holds the single trial slot if its holder never reports back
   * (crashed process). Should exceed the longest latency budget. Default 60 000 ms.
   */
  trialLeaseMs: number;
}

export const defaultBreakerSettings: CircuitBreakerSettings = {
  failureThreshold: 3,
  openMs: 30_000,
  closeAfterSuccesses: 2,
  trialLeaseMs: 60_000,
};

/** Whether a call may go out now. */
export interface BreakerPass {
  allowed: boolean;
  state: BreakerState;
  /**
   * Set when this caller holds the half-open trial: pass it to `recordSuccess` (only the trial's
   * success counts toward closing) or to `release` when the trial ends without a verdict.
   */
  trial: string | null;
}

/** What the health endpoint shows about one path. Times are epoch milliseconds. */
export interface BreakerSnapshot {
  path: RemotePath;
  state: BreakerState;
  consecutiveFailures: number;
  openedAt: number | null;
  /**
   * When the path takes calls again: for an open breaker, when it lets a trial through; while
   * half-open with a trial in flight, when that trial's slot frees should it never report (its
   * caller died). Null when calls pass now.
   */
  retryAt: number | null;
  lastSuccessAt: number | null;
  lastError: string | null;
  lastErrorAt: number | null;
  changedAt: number | null;
}

/** Called after a state change (for logs and metrics). */
export type BreakerTransitionListener = (event: { path: RemotePath; to: BreakerState; at: number; error?: string }) => void;

/**
 * A circuit breaker per remote path whose state lives in Redis, so every process sees the same
 * state. Each transition is one atomic Lua script; time is passed in from `clock`.
 */
export interface CircuitBreaker {
  readonly settings: Readonly<CircuitBreakerSettings>;
  /** Asks to call `path`. In half-open only one caller at a time (across processes) is allowed. */
  canPass(path: RemotePath): Promise<BreakerPass>;
  recordSuccess(path: RemotePath, trial?: string | null): Promise<BreakerState>;
  recordFailure(path: RemotePath, errorMessage: string): Promise<BreakerState>;
  /** Frees a half-open trial that ended with no verdict (throttled, aborted by the caller). */
  release(path: RemotePath, trial: string | null): Promise<void>;
  snapshot(path: RemotePath): Promise<BreakerSnapshot>;
  /** Forces the breaker closed and forgets its history (an operator action). */
  reset(path: RemotePath): Promise<void>;
}

export interface CircuitBreakerOptions {
  store: BreakerStore;
  settings?: Partial<CircuitBreakerSettings>;
  /** Epoch milliseconds; injectable so tests can move time. Default `Date.now`. */
  clock?: () => number;
  onTransition?: BreakerTransitionListener;
}

const MAX_ERROR_CHARS = 300;

function retryAtOf(r: { state: BreakerState; openedAt: number | null; trialUntil: number | null }, now: number, openMs: number): number | null {
  if (r.state === 'open') {
    // Past its open time the next caller gets the trial: calls pass now.
    return r.openedAt === null || r.openedAt + openMs <= now ? null : r.openedAt + openMs;
  }
  return r.state === 'half_open' && r.trialUntil !== null && r.trialUntil > now ? r.trialUntil : null;
}

export function createCircuitBreaker(options: CircuitBreakerOptions): CircuitBreaker {
  const settings: CircuitBreakerSettings = { ...defaultBreakerSettings, ...options.settings };
  for (const [name, value] of Object.entries(settings)) {
    if (!Number.isFinite(value) || value < 1) {
      throw new Error(`circuit breaker setting ${name} must be a positive number, got ${String(value)}`);
    }
  }
  const clock = options.clock ?? Date.now;
  const { store, onTransition } = options;

  function notify(path: RemotePath, result: TransitionResult, at: number, error?: string): BreakerState {
    if (result.changed && onTransition) {
      onTransition({ path, to: result.state, at, ...(error === undefined ? {} : { error }) });
    }
    return result.state;
  }

  return {
    settings,
    async canPass(path) {
      const now = clock();
      const result = await store.tryPass(path, {
        now,
        openMs: settings.openMs,
        trialLeaseMs: settings.trialLeaseMs,
        trial: randomUUID(),
      });
      notify(path, result, now);
      return { allowed: result.allowed, state: result.state, trial: result.trial };
    },
    async recordSuccess(path, trial = null) {
      const now = clock();
      const result = await store.recordSuccess(path, { now, closeAfterSuccesses: settings.closeAfterSuccesses, trial });
      return notify(path, result, now);
    },
    async recordFailure(path, errorMessage) {
      const now = clock();
      const message = errorMessage.slice(0, MAX_ERROR_CHARS);
      const result = await store.recordFailure(path, { now, failureThreshold: settings.failureThreshold, message });
      return notify(path, result, now, message);
    },
    async release(path, trial) {
      if (trial !== null) {
        await store.releaseTrial(path, trial);
      }
    },
    async snapshot(path) {
      const r = await store.read(path);
      return {
        path,
        state: r.state,
        consecutiveFailures: r.consecutiveFailures,
        openedAt: r.openedAt,
        retryAt: retryAtOf(r, clock(), settings.openMs),
        lastSuccessAt: r.lastSuccessAt,
        lastError: r.lastError,
        lastErrorAt: r.lastErrorAt,
        changedAt: r.changedAt,
      };
    },
    async reset(path) {
      await store.reset(path);
    },
  };
}
