/**
 * Which counters and which stored decisions make up a time window's tally.
 *
 * Decisions are counted in the bucket of their UTC hour and in that of their UTC day. A window
 * `[from, to]` reads the whole days and whole hours inside it from the counters, and the parts
 * shorter than an hour at its two ends from the stored decisions, so the tally is exact to the
 * millisecond while a 30-day window reads at most 29 day and 46 hour buckets. Before counting
 * began (`countedSince`: an install that kept decisions before it kept counters) everything is
 * read from the stored decisions.
 */

/** Bucket sizes in ms. UTC days and hours both start at multiples of their size since the epoch. */
export const bucketMs = { hour: 3_600_000, day: 86_400_000 } as const;
/** `hour` or `day`. */
export type BucketUnit = keyof typeof bucketMs;

/** The counters of one UTC hour or day, starting at `start` (epoch ms). */
export interface TallyBucket {
  unit: BucketUnit;
  start: number;
}

/** Stored decisions with `from <= at < to`, or `<= to` when `toInclusive`. */
export interface DecisionSpan {
  from: number;
  to: number;
  toInclusive: boolean;
}

/** A window's tally: these buckets' counters plus the stored decisions of these spans. */
export interface WindowPlan {
  buckets: TallyBucket[];
  spans: DecisionSpan[];
}

const floorTo = (t: number, size: number): number => Math.floor(t / size) * size;
const ceilTo = (t: number, size: number): number => Math.ceil(t / size) * size;

/** The buckets a decision made at `at` is counted in: its UTC hour and its UTC day. */
export function bucketsOf(at: number): TallyBucket[] {
  return [
    { unit: 'hour', start: floorTo(at, bucketMs.hour) },
    { unit: 'day', start: floorTo(at, bucketMs.day) },
  ];
}

/**
 * How to tally the decisions with `from <= at <= to`, when every decision since `countedSince`
 * (null: none yet) has been counted in its buckets.
 */
export function planWindow(from: number, to: number, countedSince: number | null): WindowPlan {
  // The first whole hour every one of whose decisions is in the counters.
  const first = countedSince === null ? Infinity : Math.max(ceilTo(from, bucketMs.hour), ceilTo(countedSince, bucketMs.hour));
  const last = floorTo(to, bucketMs.hour);
  if (!(first < last)) {
    return { buckets: [], spans: [{ from, to, toInclusive: true }] };
  }
  const buckets: TallyBucket[] = [];
  let t = first;
  while (t < last) {
    const unit: BucketUnit = t % bucketMs.day === 0 && t + bucketMs.day <= last ? 'day' : 'hour';
    buckets.push({ unit, start: t });
    t += bucketMs[unit];
  }
  const spans: DecisionSpan[] = [];
  if (from < first) {
    spans.push({ from, to: first, toInclusive: false });
  }
  spans.push({ from: last, to, toInclusive: true });
  return { buckets, spans };
}
