import { describe, expect, it } from 'vitest';
import { binMantissas, binUpperBound, histogramPercentile, percentile } from '../../src/domain/stats.js';

describe('percentile', () => {
  it('is the nearest-rank value', () => {
    const values = [100, 200, 300, 12_000, 50, 10];
    expect(percentile(values, 50)).toBe(100);
    expect(percentile(values, 95)).toBe(12_000);
    expect(percentile(values, 0)).toBe(10);
    expect(percentile([], 50)).toBeNull();
  });
});

describe('histogramPercentile', () => {
  it('finds what percentile finds among the values repeated by their counts', () => {
    const histogram: [number, number][] = [
      [300, 2],
      [10, 1],
      [12_000, 1],
      [50, 3],
      [7, 0],
    ];
    const expanded = histogram.flatMap(([value, count]) => Array.from({ length: count }, () => value));
    for (const p of [0, 1, 10, 25, 40, 50, 57, 60, 75, 86, 90, 95, 99, 100]) {
      expect(histogramPercentile(histogram, p), `p${p}`).toBe(percentile(expanded, p));
    }
  });

  it('is null for an empty histogram or only zero counts', () => {
    expect(histogramPercentile([], 50)).toBeNull();
    expect(histogramPercentile([[5, 0]], 50)).toBeNull();
  });
});

describe('binUpperBound', () => {
  it('keeps values that are bin bounds', () => {
    const changed: number[] = [];
    for (let exponent = -9; exponent <= 6; exponent += 1) {
      for (const mantissa of binMantissas) {
        // Written as decimal text, as the values appear in a histogram field (0.0011, 450).
        const v = Number(`${mantissa}e${exponent}`);
        if (binUpperBound(v) !== v) {
          changed.push(v);
        }
      }
    }
    expect(changed).toEqual([]);
    expect(binUpperBound(0)).toBe(0);
  });

  it('rounds up to the next bound, at most a sixth above the value', () => {
    expect(binUpperBound(1234)).toBe(1400);
    expect(binUpperBound(1201)).toBe(1400);
    expect(binUpperBound(9.5)).toBe(10);
    expect(binUpperBound(0.037)).toBe(0.04);
    expect(binUpperBound(123.456)).toBe(140);
    expect(binUpperBound(14_302)).toBe(16_000);
    const outside: number[] = [];
    for (let v = 0.001; v < 1e6; v *= 1.037) {
      const r = binUpperBound(v);
      if (r < v * (1 - 1e-9) || r > (v * 7) / 6 + 1e-12) {
        outside.push(v);
      }
    }
    expect(outside).toEqual([]);
  });

  it('never changes the order of two values', () => {
    const inversions: number[] = [];
    let previous = 0;
    for (let v = 0; v < 50_000; v += 0.73) {
      const r = binUpperBound(v);
      if (r < previous) {
        inversions.push(v);
      }
      previous = r;
    }
    expect(inversions).toEqual([]);
  });
});
