/**
 * Splitting a request's items into batches within an API's limits: at most `maxItems` items and
 * `maxBytes` bytes each (the request's fixed part, `overheadBytes`, included). Order is kept.
 */
export interface BatchLimits {
  maxItems: number;
  maxBytes: number;
  /** Bytes of the request besides its items (envelope, separators are counted per item by `sizeOf`). */
  overheadBytes: number;
}

/** Thrown when one item alone does not fit in a request. */
export class ItemTooLargeError extends RangeError {
  override readonly name = 'ItemTooLargeError';
}

export function batches<T>(items: readonly T[], limits: BatchLimits, sizeOf: (item: T) => number): T[][] {
  const out: T[][] = [];
  let current: T[] = [];
  let bytes = limits.overheadBytes;
  for (const item of items) {
    const size = sizeOf(item);
    if (limits.overheadBytes + size > limits.maxBytes) {
      throw new ItemTooLargeError(`an item of ${size} bytes does not fit in a request of at most ${limits.maxBytes} bytes`);
    }
    if (current.length > 0 && (current.length >= limits.maxItems || bytes + size > limits.maxBytes)) {
      out.push(current);
      current = [];
      bytes = limits.overheadBytes;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) {
    out.push(current);
  }
  return out;
}
