/** What one attempt against a limit got. */
export interface RateLimitVerdict {
  allowed: boolean;
  /** Requests a key may make per window. */
  limit: number;
  /** How many are left in the current window after this one. */
  remaining: number;
  /** When the window ends (0 when the attempt was allowed and more remain). */
  retryAfterMs: number;
}

/** A fixed-window limit per key (an API key's name), shared by every API process on one Redis. */
export interface RateLimiter {
  /** Counts one attempt for `key`; a refused attempt is not counted. */
  take(key: string): Promise<RateLimitVerdict>;
}
