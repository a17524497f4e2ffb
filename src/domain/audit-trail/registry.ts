import { z } from 'zod';

const hash = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * The newest checkpoint as its writer left it: a cache in Redis. The checkpoint file in the
 * archive is the anchor; this copy says how many there should be, so a deleted newest file shows.
 */
export const checkpointHeadSchema = z.object({
  number: z.number().int().positive(),
  seq: z.number().int().min(0),
  hash,
  at: z.string(),
  /** SHA-256 of the checkpoint's canonical JSON: what the next checkpoint names as its predecessor. */
  digest: hash,
  location: z.string(),
});
export type CheckpointHead = z.infer<typeof checkpointHeadSchema>;

/** One archive segment: a gzipped JSON Lines file and its manifest, written, read back, and (later) cleaned up from Redis. */
export const archivedSegmentSchema = z.object({
  destination: z.string(),
  /** The segment's key in the destination (`segments/audit-trail-…jsonl.gz`). */
  file: z.string(),
  manifest: z.string(),
  location: z.string(),
  firstSeq: z.number().int().positive(),
  lastSeq: z.number().int().positive(),
  firstId: z.string(),
  lastId: z.string(),
  entries: z.number().int().positive(),
  /** SHA-256 of the gzipped file as written and read back. */
  sha256: hash,
  /** The hash the first entry links to, and the hash of the last entry. */
  chainBefore: hash,
  chainAfter: hash,
  checkpoint: z.number().int().positive(),
  archivedAt: z.string(),
  /** When its entries left Redis; null while they are still there. */
  cleanedAt: z.string().nullable(),
});
export type ArchivedSegment = z.infer<typeof archivedSegmentSchema>;

/** The last archived entry: the next archive run starts after it. */
export const lastArchivedSchema = z.object({ seq: z.number().int().positive(), id: z.string(), hash });
export type LastArchived = z.infer<typeof lastArchivedSchema>;

/** What Redis keeps about the archive: caches and bookkeeping, never the evidence itself. */
export interface ArchiveRegistry {
  checkpointHead(): Promise<CheckpointHead | null>;
  /** Moves the cached newest checkpoint forward (never back). */
  setCheckpointHead(head: CheckpointHead): Promise<void>;
  /** Public keys that signed checkpoints, by fingerprint, and the one in use. */
  publicKeys(): Promise<{ current: string | null; keys: Record<string, string> }>;
  publishKey(fingerprint: string, pem: string): Promise<void>;
  /** Every segment written, in no order. */
  segments(): Promise<ArchivedSegment[]>;
  lastArchived(): Promise<LastArchived | null>;
  /** Records a segment that was written and read back, and moves the last archived entry to its end. */
  recordSegment(segment: ArchivedSegment): Promise<void>;
  markCleaned(file: string, at: string): Promise<void>;
}
