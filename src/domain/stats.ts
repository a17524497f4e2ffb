/** 1-based nearest rank of percentile `p` (0-100) among `count` ordered values. */
function nearestRank(count: number, p: number): number {
  return Math.min(count, Math.max(1, Math.ceil((p / 100) * count)));
}

/** Nearest-rank percentile of `values` (0-100); `null` for no values. */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) {
    return null;
  }
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[nearestRank(sorted.length, p) - 1] ?? null;
}

/**
 * Nearest-rank percentile (0-100) of a histogram given as `[value, count]` pairs, as
 * {@link percentile} would find it among the values each repeated `count` times; `null` when
 * the counts add up to nothing.
 */
export function histogramPercentile(histogram: Iterable<readonly [value: number, count: number]>, p: number): number | null {
  const bins = [...histogram].filter(([, count]) => count > 0).sort(([a], [b]) => a - b);
  const total = bins.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) {
    return null;
  }
  const rank = nearestRank(total, p);
  let seen = 0;
  for (const [value, count] of bins) {
    seen += count;
    if (seen >= rank) {
      return value;
    }
  }
  return null;
}

/** Twenty round numbers per decade, each at most a sixth above the one before: histogram bin bounds. */
export const binMantissas = [1, 1.1, 1.2, 1.4, 1.6, 1.8, 2, 2.2, 2.5, 2.8, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8, 9] as const;

/**
 * The upper bound of the log-scale histogram bin that holds `value`: the smallest `m * 10^k` at
 * or above it with `m` in {@link binMantissas} (1234 -> 1400, 300 -> 300, 0.037 -> 0.04), so at
 * most 17 % above it. Zero, negative and non-finite values are returned unchanged; the binning
 * never changes the order of two values.
 */
export function binUpperBound(value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    return value;
  }
  const exponent = Math.floor(Math.log10(value));
  // The tolerance keeps a value that is a bound (300, 0.0011) from being pushed up to the next
  // one by the binary fraction of the division.
  const mantissa = value / 10 ** exponent - 1e-9;
  const bound = binMantissas.find((m) => m >= mantissa);
  // Through the decimal text, so 1.1e-3 is 0.0011 and not 1.1 * 0.001 = 0.0011000000000000001.
  return Number(bound === undefined ? `1e${exponent + 1}` : `${bound}e${exponent}`);
}

/** `value` rounded to `digits` decimals. */
export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
