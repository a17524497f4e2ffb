import { setTimeout as wait } from 'node:timers/promises';

/** How often and how long to wait before trying a throttled request again. */
export interface RetryPolicy {
  /** Tries in all, the first included (1: no retry). */
  attempts: number;
  /** The first wait; each next one doubles, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 5, baseMs: 200, maxMs: 5_000 };

export interface RetryOptions {
  /** Whether an error means "throttled, try later"; anything else is thrown at once. */
  throttled: (error: unknown) => boolean;
  signal?: AbortSignal;
  /** Default: a timer that the signal cancels. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Default `Math.random`: spreads the waits of callers throttled together. */
  random?: () => number;
  /** Told of each throttled try before its wait. */
  onThrottled?: (attempt: number, waitMs: number) => void;
}

/** The wait after the `attempt`-th throttled try (1-based): half to all of the capped exponential step. */
export function backoffMs(policy: RetryPolicy, attempt: number, random: () => number): number {
  const step = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
  return Math.round(step * (0.5 + random() / 2));
}

/**
 * Runs `work`, and again after a growing wait each time it is throttled, up to `policy.attempts`
 * tries; the last throttling error is thrown when they are spent. Answers the value and how many
 * tries were throttled.
 */
export async function retryWhileThrottled<T>(work: () => Promise<T>, policy: RetryPolicy, options: RetryOptions): Promise<{ value: T; throttled: number }> {
  const sleep = options.sleep ?? ((ms: number, signal?: AbortSignal) => wait(ms, undefined, { signal }));
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return { value: await work(), throttled: attempt - 1 };
    } catch (error) {
      if (!options.throttled(error) || attempt >= policy.attempts || options.signal?.aborted === true) {
        throw error;
      }
      const ms = backoffMs(policy, attempt, random);
      options.onThrottled?.(attempt, ms);
      await sleep(ms, options.signal);
    }
  }
}
