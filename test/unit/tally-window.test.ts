import { describe, expect, it } from 'vitest';
import { bucketMs, bucketsOf, planWindow } from '../../src/domain/llm/tally-window.js';
import type { WindowPlan } from '../../src/domain/llm/tally-window.js';

const HOUR = bucketMs.hour;
const DAY = bucketMs.day;
const midnight = Date.UTC(2025, 5, 9);

/** How many pieces of the plan (buckets and spans) hold the instant `t`. */
function coverage(plan: WindowPlan, t: number): number {
  const inBuckets = plan.buckets.filter((b) => t >= b.start && t < b.start + bucketMs[b.unit]).length;
  const inSpans = plan.spans.filter((s) => t >= s.from && (s.toInclusive ? t <= s.to : t < s.to)).length;
  return inBuckets + inSpans;
}

describe('bucketsOf', () => {
  it('counts a decision in its UTC hour and its UTC day', () => {
    expect(bucketsOf(midnight + 5 * HOUR + 59 * 60_000)).toEqual([
      { unit: 'hour', start: midnight + 5 * HOUR },
      { unit: 'day', start: midnight },
    ]);
    expect(bucketsOf(midnight)).toEqual([
      { unit: 'hour', start: midnight },
      { unit: 'day', start: midnight },
    ]);
    expect(bucketsOf(midnight - 1)).toEqual([
      { unit: 'hour', start: midnight - HOUR },
      { unit: 'day', start: midnight - DAY },
    ]);
  });
});

describe('planWindow', () => {
  it('reads stored decisions only, when nothing has been counted yet or the window holds no whole hour', () => {
    expect(planWindow(midnight, midnight + 3 * DAY, null)).toEqual({ buckets: [], spans: [{ from: midnight, to: midnight + 3 * DAY, toInclusive: true }] });
    const short = planWindow(midnight + 10 * 60_000, midnight + HOUR + 50 * 60_000, 0);
    expect(short).toEqual({ buckets: [], spans: [{ from: midnight + 10 * 60_000, to: midnight + HOUR + 50 * 60_000, toInclusive: true }] });
  });

  it('reads whole days and hours from the counters and the ends from the stored decisions', () => {
    const from = midnight - 2 * HOUR - 5;
    const to = midnight + 2 * DAY + 3 * HOUR + 7;
    expect(planWindow(from, to, 0)).toEqual({
      buckets: [
        { unit: 'hour', start: midnight - 2 * HOUR },
        { unit: 'hour', start: midnight - HOUR },
        { unit: 'day', start: midnight },
        { unit: 'day', start: midnight + DAY },
        { unit: 'hour', start: midnight + 2 * DAY },
        { unit: 'hour', start: midnight + 2 * DAY + HOUR },
        { unit: 'hour', start: midnight + 2 * DAY + 2 * HOUR },
      ],
      spans: [
        { from, to: midnight - 2 * HOUR, toInclusive: false },
        { from: midnight + 2 * DAY + 3 * HOUR, to, toInclusive: true },
      ],
    });
  });

  it('reads what came before counting began, to the end of that hour, from the stored decisions', () => {
    const since = midnight + 20 * HOUR + 17 * 60_000;
    const plan = planWindow(midnight, midnight + 30 * HOUR, since);
    expect(plan.spans[0]).toEqual({ from: midnight, to: midnight + 21 * HOUR, toInclusive: false });
    expect(plan.buckets[0]).toEqual({ unit: 'hour', start: midnight + 21 * HOUR });
  });

  it('a 30-day window reads at most 29 day and 46 hour buckets', () => {
    const to = midnight + 17 * DAY + 13 * HOUR + 1234;
    const plan = planWindow(to - 30 * DAY, to, 0);
    expect(plan.buckets.filter((b) => b.unit === 'day')).toHaveLength(29);
    expect(plan.buckets.filter((b) => b.unit === 'hour').length).toBeLessThanOrEqual(46);
    expect(plan.spans).toHaveLength(2);
  });

  it('covers every instant of the window exactly once, and nothing outside it', () => {
    let seed = 3;
    const random = () => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const wrong: string[] = [];
    for (let round = 0; round < 300; round += 1) {
      const from = midnight + Math.floor((random() - 0.5) * 4 * DAY);
      const to = from + 1 + Math.floor(random() * random() * 10 * DAY);
      const since = random() < 0.2 ? null : midnight + Math.floor((random() - 0.5) * 6 * DAY);
      const plan = planWindow(from, to, since);
      const edges = [from, to, since ?? from, ...plan.buckets.map((b) => b.start), ...plan.spans.flatMap((s) => [s.from, s.to])];
      const instants = [...edges.flatMap((t) => [t - 1, t, t + 1]), ...Array.from({ length: 20 }, () => from + Math.floor(random() * (to - from + 1)))];
      for (const t of instants) {
        if (coverage(plan, t) !== (t >= from && t <= to ? 1 : 0)) {
          wrong.push(`[${from}, ${to}] since ${since}: ${t} covered ${coverage(plan, t)} times`);
        }
      }
      // Counters are read only where every decision was counted.
      for (const b of plan.buckets) {
        if (since === null || b.start < since) {
          wrong.push(`[${from}, ${to}] since ${since}: reads the ${b.unit} at ${b.start}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });
});
