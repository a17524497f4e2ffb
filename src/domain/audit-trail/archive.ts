import { z } from 'zod';
import type { StoredAuditEntry } from './ports.js';

/** Where archived entries go. Returns where they were written. */
/** Archiving cannot go on without losing evidence. */
export class ArchiveRefusedError extends Error {
  override readonly name = 'ArchiveRefusedError';
}

export interface ArchiveSink {
  write(name: string, lines: string[]): Promise<string>;
}

/** The part of the audit trail the archive needs. */
export interface ArchivableTrail {
  range(options?: { start?: string; end?: string; count?: number }): Promise<StoredAuditEntry[]>;
  dropArchived(entries: StoredAuditEntry[]): Promise<void>;
}

export const archiveResultSchema = z.object({
  cutoff: z.string(),
  archived: z.number(),
  files: z.array(z.string()),
  fromSeq: z.number().nullable(),
  toSeq: z.number().nullable(),
});
export type ArchiveResult = z.infer<typeof archiveResultSchema>;

/**
 * Moves entries recorded before `cutoff` to the sink, in batches: each batch is written
 * (and flushed) before it is removed from Redis, so a crash leaves at worst a duplicate
 * in the archive, never a loss.
 */
export async function archiveBefore(trail: ArchivableTrail, sink: ArchiveSink, cutoff: Date, options: { batch?: number; signal?: AbortSignal } = {}): Promise<ArchiveResult> {
  const batch = options.batch ?? 1_000;
  // Stream ids start with the append time in ms: every id below `${cutoff}-0` is older.
  const end = `${cutoff.getTime() - 1}-18446744073709551615`;
  const result: ArchiveResult = { cutoff: cutoff.toISOString(), archived: 0, files: [], fromSeq: null, toSeq: null };
  for (;;) {
    options.signal?.throwIfAborted();
    const entries = await trail.range({ end, count: batch });
    const first = entries[0];
    const last = entries.at(-1);
    if (!first || !last) {
      return result;
    }
    // An entry that is not an audit event is evidence of tampering: it stays where the chain check reports it.
    const corrupt = entries.find((e) => e.event === null);
    if (corrupt || !first.event || !last.event) {
      throw new ArchiveRefusedError(`audit-trail entry ${corrupt?.id ?? first.id} is not an audit event: archiving stops before it (run the compliance check to see the break)`);
    }
    const name = `audit-trail-${String(first.event.seq).padStart(12, '0')}-${String(last.event.seq).padStart(12, '0')}.jsonl`;
    const location = await sink.write(
      name,
      entries.map((e) => JSON.stringify({ id: e.id, hash: e.hash, json: e.json })),
    );
    await trail.dropArchived(entries);
    result.archived += entries.length;
    result.files.push(location);
    result.fromSeq ??= first.event.seq;
    result.toSeq = last.event.seq;
  }
}
