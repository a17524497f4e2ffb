/**
 * A streaming quantile sketch for latencies (the DDSketch idea: logarithmic bins): every
 * quantile it answers is within `relativeError` of a value that really is at that rank, whatever
 * the distribution, in memory bounded by the range of the values (about 1,200 bins between
 * 1 µs and 3 hours at 1 %), and two sketches merge exactly (the bins add up), so parts of a window
 * can be sketched apart and combined.
 */

/** The relative error of every quantile the analysis reports. */
export const sketchRelativeError = 0.01;

/** Values below this (ms) count as zero: one bin for everything under a microsecond. */
const minPositive = 1e-3;

/**
 * What a sketch holds, to keep it elsewhere (Redis hash fields) and build it back: every bin's
 * count by index, the values that counted as zero, how many values and their sum. Parts of the
 * same relative error add up field by field, so several writers can add theirs to one stored copy.
 */
export interface SketchParts {
  relativeError: number;
  count: number;
  sum: number;
  zeros: number;
  /** `[index, count]` of each bin in use; a bin `i` holds values in (gamma^(i-1), gamma^i]. */
  bins: [index: number, count: number][];
  /**
   * The smallest and largest value added, when the writer knows them (a whole sketch does; a
   * stored copy that several writers add to does not): with them, a sketch built back clamps its
   * quantiles and reports its max exactly as the original did.
   */
  min?: number | undefined;
  max?: number | undefined;
}

export class QuantileSketch {
  private readonly gamma: number;
  private readonly logGamma: number;
  /**
   * Bin counts: a bin `i` holds values in (gamma^(i-1), gamma^i], at `counts[i - offset]`. A dense
   * array (grown when a value falls outside it) rather than a map: adding is the hot path of an
   * analysis, two adds per record.
   */
  private counts = new Float64Array(1_536);
  private offset = -512;
  private used = 0;
  private zeros = 0;
  private total = 0;
  private sum = 0;
  private maximum = Number.NEGATIVE_INFINITY;
  private minimum = Number.POSITIVE_INFINITY;

  constructor(readonly relativeError = sketchRelativeError) {
    if (!(relativeError > 0 && relativeError < 1)) {
      throw new RangeError(`relativeError must be in (0, 1), got ${relativeError}`);
    }
    this.gamma = (1 + relativeError) / (1 - relativeError);
    this.logGamma = Math.log(this.gamma);
  }

  /** Adds one value (negative values and NaN are not latencies and are refused). */
  add(value: number): void {
    const index = this.binIndex(value);
    this.total += 1;
    this.sum += value;
    if (value > this.maximum) {
      this.maximum = value;
    }
    if (value < this.minimum) {
      this.minimum = value;
    }
    if (index === null) {
      this.zeros += 1;
      return;
    }
    this.bump(index, 1);
  }

  /**
   * The bin `value` falls in, null for the zero bin: what a writer that keeps only the parts
   * (see {@link SketchParts}) adds one to. Refuses what {@link add} refuses.
   */
  binIndex(value: number): number | null {
    if (!(value >= 0) || !Number.isFinite(value)) {
      throw new RangeError(`a sketch takes finite values >= 0, got ${value}`);
    }
    return value < minPositive ? null : Math.ceil(Math.log(value) / this.logGamma);
  }

  /** What this sketch holds, for {@link QuantileSketch.fromParts}. */
  parts(): SketchParts {
    return {
      relativeError: this.relativeError,
      count: this.total,
      sum: this.sum,
      zeros: this.zeros,
      bins: [...this.bins()],
      ...(this.total > 0 ? { min: this.minimum, max: this.maximum } : {}),
    };
  }

  /**
   * A sketch from stored parts. It answers every quantile as the original did; without `min` and
   * `max` in the parts it knows its smallest and largest value only to their bins (a quantile is
   * never clamped tighter than that).
   */
  static fromParts(parts: SketchParts): QuantileSketch {
    const sketch = new QuantileSketch(parts.relativeError);
    let binned = 0;
    for (const [index, n] of parts.bins) {
      if (n > 0) {
        sketch.bump(index, n);
        binned += n;
        sketch.minimum = Math.min(sketch.minimum, sketch.gamma ** (index - 1));
        sketch.maximum = Math.max(sketch.maximum, sketch.gamma ** index);
      }
    }
    sketch.zeros = parts.zeros;
    if (parts.zeros > 0) {
      sketch.minimum = 0;
      sketch.maximum = Math.max(sketch.maximum, minPositive);
    }
    // Counts come from the bins: a count written without its bin (a torn write) cannot shift a rank.
    sketch.total = binned + parts.zeros;
    if (sketch.total > 0 && parts.min !== undefined && parts.max !== undefined) {
      sketch.minimum = parts.min;
      sketch.maximum = parts.max;
    }
    sketch.sum = parts.sum;
    return sketch;
  }

  private bump(index: number, n: number): void {
    let at = index - this.offset;
    if (at < 0 || at >= this.counts.length) {
      this.grow(index);
      at = index - this.offset;
    }
    if (this.counts[at] === 0) {
      this.used += 1;
    }
    this.counts[at] = (this.counts[at] as number) + n;
  }

  /** Makes room for bin `index`, keeping every count where its index says. */
  private grow(index: number): void {
    const low = Math.min(this.offset, index - 64);
    const high = Math.max(this.offset + this.counts.length, index + 65);
    const next = new Float64Array(high - low);
    next.set(this.counts, this.offset - low);
    this.counts = next;
    this.offset = low;
  }

  /** The bins in use, by index, in order. */
  private *bins(): Generator<[index: number, count: number]> {
    for (let at = 0; at < this.counts.length; at++) {
      const n = this.counts[at] as number;
      if (n > 0) {
        yield [at + this.offset, n];
      }
    }
  }

  /** Adds every value of `other` (same relative error), as if each had been added here. */
  merge(other: QuantileSketch): void {
    if (other.relativeError !== this.relativeError) {
      throw new RangeError('only sketches of the same relative error merge');
    }
    for (const [index, n] of other.bins()) {
      this.bump(index, n);
    }
    this.zeros += other.zeros;
    this.total += other.total;
    this.sum += other.sum;
    this.maximum = Math.max(this.maximum, other.maximum);
    this.minimum = Math.min(this.minimum, other.minimum);
  }

  get count(): number {
    return this.total;
  }

  get mean(): number | null {
    return this.total === 0 ? null : this.sum / this.total;
  }

  get max(): number | null {
    return this.total === 0 ? null : this.maximum;
  }

  get totalValue(): number {
    return this.sum;
  }

  /**
   * The value at quantile `q` (0-1), nearest rank: within `relativeError` of the value at that
   * rank, and never outside the smallest and largest value added. `null` when empty.
   */
  quantile(q: number): number | null {
    if (this.total === 0) {
      return null;
    }
    const rank = Math.min(this.total, Math.max(1, Math.ceil(q * this.total)));
    if (rank <= this.zeros) {
      return this.minimum;
    }
    let seen = this.zeros;
    for (const [index, n] of this.bins()) {
      seen += n;
      if (seen >= rank) {
        // The middle of the bin, in relative terms: at most relativeError from any value in it.
        const estimate = (2 * this.gamma ** index) / (this.gamma + 1);
        return Math.min(this.maximum, Math.max(this.minimum, estimate));
      }
    }
    return this.maximum;
  }

  /** Bins in use (for the memory bound). */
  get size(): number {
    return this.used + (this.zeros > 0 ? 1 : 0);
  }
}
