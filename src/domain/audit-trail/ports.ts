import type { AuditEvent, AuditEventInput, TrailTail } from './chain.js';

/** A stored entry as read back: the stream id, the exact JSON that was hashed, and its hash. */
export interface StoredAuditEntry {
  id: string;
  json: string;
  hash: string;
  /** Null when the stored JSON is not an audit event (verification reports such an entry as a break). */
  event: AuditEvent | null;
}

export interface AuditTrail {
  /** Appends one entry, chained to the current head, atomically across processes. */
  append(input: AuditEventInput): Promise<AuditEvent & { hash: string }>;
  head(): Promise<{ seq: number; hash: string }>;
  /** The last archived entry (or genesis): what the first stored entry links to. */
  anchor(): Promise<{ seq: number; hash: string }>;
  /** Entries in order, from stream id `start` (inclusive, default the first), at most `count`. */
  range(options?: { start?: string; end?: string; count?: number }): Promise<StoredAuditEntry[]>;
  /** Stored entries (not archived). */
  length(): Promise<number>;
  /** The newest `count + 1` entries with the head and the anchor, read in one step (see `verifyTail`). */
  tail(count: number): Promise<TrailTail>;
  /** Removes archived entries and moves the anchor to the last of them, atomically. */
  dropArchived(entries: StoredAuditEntry[]): Promise<void>;
}

/** The audit trail did not take the entry of a change, so the change was not made. */
export class AuditUnavailableError extends Error {
  override readonly name = 'AuditUnavailableError';
}

/**
 * Writes the entry of a change about to be made: every change is in the audit trail, or it does
 * not happen. Throws {@link AuditUnavailableError} when the trail does not take it.
 */
export async function recordBeforeChange(trail: { append(input: AuditEventInput): Promise<unknown> }, input: AuditEventInput): Promise<void> {
  try {
    await trail.append(input);
  } catch (err) {
    throw new AuditUnavailableError(`the audit trail could not record this change, so it was not made: ${(err as Error).message}`);
  }
}
