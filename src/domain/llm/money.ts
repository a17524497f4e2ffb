/*
 * Money is added up as integer nano-dollars (1e-9 USD), so that sums kept in Redis counters are
 * exact: 0.1 + 0.2 is 0.3 there.
 */

const NANO_PER_USD = 1_000_000_000;

/** `usd` in whole nano-dollars. */
export function toNanoUsd(usd: number): number {
  return Math.round(usd * NANO_PER_USD);
}

/** Whole nano-dollars in USD. */
export function fromNanoUsd(nano: number): number {
  return nano / NANO_PER_USD;
}
