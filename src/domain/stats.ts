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

/**
 * `value` rounded up to `digits` significant digits (1234 -> 1300, 0.0456 -> 0.046, 300 -> 300):
 * at most one unit of the last digit kept above it. Zero, negative and non-finite values are
 * returned unchanged, so the rounding never changes the order of two values.
 */
export function roundUpSignificant(value: number, digits = 2): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    return value;
  }
  let exponent = Math.floor(Math.log10(value)) - (digits - 1);
  // The tolerance keeps a value that is already short (300, 0.35) from being pushed up by the
  // binary fraction of the division.
  let mantissa = Math.ceil(value / 10 ** exponent - 1e-9);
  if (mantissa >= 10 ** digits) {
    mantissa /= 10;
    exponent += 1;
  }
  // Through the decimal text, so 1.1 is 1.1 and not 11 * 0.1 = 1.1000000000000001.
  return Number(`${mantissa}e${exponent}`);
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
