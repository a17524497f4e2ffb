import type { FleetReader, FleetSnapshot } from './ports.js';

/**
 * A view derived from fleet snapshots, computed once per read of the fleet rather than once per
 * request: snapshots handed out from one read share their `queues` object, which identifies the
 * read. A view that depends on the time (ages in whole seconds) is also recomputed when `now`
 * enters a new `resolutionMs` bucket. The value is shared by every caller: read-only.
 */
export function perRead<T>(derive: (snapshot: FleetSnapshot, now: Date) => T, resolutionMs = Number.POSITIVE_INFINITY): (snapshot: FleetSnapshot, now: Date) => T {
  let last: { read: object; bucket: number; value: T } | null = null;
  return (snapshot, now) => {
    const bucket = Number.isFinite(resolutionMs) ? Math.floor(now.getTime() / resolutionMs) : 0;
    if (last === null || last.read !== snapshot.queues || last.bucket !== bucket) {
      last = { read: snapshot.queues, bucket, value: derive(snapshot, now) };
    }
    return last.value;
  };
}

/**
 * Calls `answer` with the kept snapshot at once when there is one, so the caller returns a value
 * rather than a promise (a web server can then answer without an async chain), or else with the
 * snapshot `read` fetches.
 */
export function withSnapshot<R>(reader: FleetReader, answer: (snapshot: FleetSnapshot) => R, read: () => Promise<FleetSnapshot> = () => reader.snapshot()): R | Promise<R> {
  const kept = reader.kept();
  return kept ? answer(kept) : read().then(answer);
}
