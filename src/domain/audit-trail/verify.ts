import { z } from 'zod';
import { canonicalJson, sha256 } from './canonical.js';
import { auditEventSchema } from './chain.js';

/**
 * The two halves of a verification. Completeness: no sequence number missing or out of order,
 * time never going backwards, nothing cut off the end. Integrity: every entry's hash is the
 * SHA-256 of its JSON, every entry links to the one before, and the chain agrees with the signed
 * checkpoints kept outside Redis.
 */
export const verifyParts = ['completeness', 'integrity'] as const;
export type VerifyPart = (typeof verifyParts)[number];

/** What can be wrong, by the part it belongs to. */
export const completenessProblems = ['missing_entries', 'out_of_order', 'time_backwards', 'truncated'] as const;
export const integrityProblems = [
  'unparseable',
  'not_canonical',
  'hash_mismatch',
  'broken_link',
  'head_mismatch',
  'anchor_mismatch',
  'checkpoint_mismatch',
  'checkpoint_missing',
  'checkpoint_invalid',
  'checkpoint_unreadable',
  'archive_missing',
] as const;
export const trailProblemCodes = [...completenessProblems, ...integrityProblems] as const;
export type TrailProblemCode = (typeof trailProblemCodes)[number];

export const trailProblemSchema = z.object({
  part: z.enum(verifyParts),
  code: z.enum(trailProblemCodes),
  /** The sequence number of the first bad entry (or of the first one missing); null when no entry is concerned. */
  seq: z.number().int().nullable(),
  /** The Redis stream id of that entry; null when it is not in the stream (missing, or a checkpoint's problem). */
  streamId: z.string().nullable(),
  /** The checkpoint concerned, by its number. */
  checkpoint: z.number().int().nullable(),
  detail: z.string(),
});
export type TrailProblem = z.infer<typeof trailProblemSchema>;

/** What a signed checkpoint says: the chain's hash at `seq`, as it was at `at`. */
export interface CheckpointClaim {
  number: number;
  seq: number;
  hash: string;
  at: string;
}

/** An entry as the verifier reads it: the stream id, the JSON that was hashed, and the stored hash. */
export interface VerifiableEntry {
  id: string;
  json: string;
  hash: string;
}

/** The most problems kept per part; the count goes on. */
export const problemsKept = 100;

/** A link of the chain: the sequence number and hash of an entry (or of the anchor before the first). */
export interface ChainLink {
  seq: number;
  hash: string;
}

/**
 * Checks the audit trail entry by entry, in stream order, holding only the entry before and a
 * bounded list of problems: a million entries verify in the memory of a few. Pure: the caller
 * pages the entries in (`add`) and says what the head key records (`finish`).
 *
 * `anchor` is what the first entry links to (genesis, or the last archived entry); `checkpoints`
 * are the signed claims whose sequence number lies in the stored range, compared as the entries
 * pass.
 */
export class TrailVerifier {
  private prev: ChainLink & { at: number | null; id: string | null };
  /** The highest sequence number seen (or the anchor's): the next one expected is one more. */
  private maxSeq: number;
  private readonly bySeq = new Map<number, CheckpointClaim[]>();
  private lastAgreeing: CheckpointClaim | null = null;
  private readonly kept: Record<VerifyPart, TrailProblem[]> = { completeness: [], integrity: [] };
  /** Every kept problem of both parts, in the order found. */
  private readonly found: TrailProblem[] = [];
  private readonly counts: Record<VerifyPart, number> = { completeness: 0, integrity: 0 };
  entries = 0;
  firstSeq: number | null = null;

  constructor(
    private readonly anchor: ChainLink,
    checkpoints: readonly CheckpointClaim[] = [],
  ) {
    this.prev = { ...anchor, at: null, id: null };
    this.maxSeq = anchor.seq;
    for (const cp of checkpoints) {
      if (cp.seq === anchor.seq) {
        // The anchor itself is covered: the archived entry before the first stored one.
        if (cp.hash !== anchor.hash) {
          this.report('integrity', 'checkpoint_mismatch', anchor.seq, null, cp.number, `checkpoint #${cp.number} signed hash ${short(cp.hash)} at seq ${cp.seq}; the trail's anchor (the last archived entry) has ${short(anchor.hash)}`);
        } else {
          this.lastAgreeing = cp;
        }
        continue;
      }
      const at = this.bySeq.get(cp.seq) ?? [];
      at.push(cp);
      this.bySeq.set(cp.seq, at);
    }
  }

  /** Reports a problem found outside the entries (a checkpoint, the archive). */
  report(part: VerifyPart, code: TrailProblemCode, seq: number | null, streamId: string | null, checkpoint: number | null, detail: string): void {
    this.counts[part]++;
    if (this.kept[part].length < problemsKept) {
      const problem = { part, code, seq, streamId, checkpoint, detail };
      this.kept[part].push(problem);
      this.found.push(problem);
    }
  }

  add(entry: VerifiableEntry): void {
    this.entries++;
    let raw: unknown;
    try {
      raw = JSON.parse(entry.json);
    } catch {
      raw = undefined;
    }
    const parsed = auditEventSchema.safeParse(raw);
    if (!parsed.success) {
      const guess = this.maxSeq + 1;
      this.report('integrity', 'unparseable', guess, entry.id, null, raw === undefined ? 'the entry is not valid JSON' : `the entry is not an audit event (${parsed.error.issues[0]?.path.join('.') || 'its shape'})`);
      // Taken as the entry it stands in for, so one bad entry is one problem.
      this.maxSeq = guess;
      this.prev = { seq: guess, hash: entry.hash, at: this.prev.at, id: entry.id };
      return;
    }
    const event = parsed.data;
    this.firstSeq ??= event.seq;
    const expected = this.maxSeq + 1;
    if (event.seq > expected) {
      const missing = event.seq - expected === 1 ? `seq ${expected} is` : `seqs ${expected}-${event.seq - 1} are`;
      this.report('completeness', 'missing_entries', event.seq, entry.id, null, `expected seq ${expected}, found ${event.seq}: ${missing} not in the trail (removed, or moved further on)`);
    } else if (event.seq < expected) {
      this.report('completeness', 'out_of_order', event.seq, entry.id, null, `seq ${event.seq} comes after seq ${this.maxSeq}: entries were reordered or inserted`);
    }
    const at = Date.parse(event.at);
    if (this.prev.at !== null && Number.isFinite(at) && at < this.prev.at) {
      this.report('completeness', 'time_backwards', event.seq, entry.id, null, `recorded at ${event.at}, before the entry ahead of it (seq ${this.prev.seq}, ${new Date(this.prev.at).toISOString()})`);
    }
    if (sha256(entry.json) !== entry.hash) {
      this.report('integrity', 'hash_mismatch', event.seq, entry.id, null, `the stored hash is not the SHA-256 of the entry's JSON: the entry was changed after it was written`);
    } else if (canonicalJson(raw) !== entry.json) {
      this.report('integrity', 'not_canonical', event.seq, entry.id, null, 'the JSON is not in canonical form: it was not written by the audit trail');
    }
    if (event.prevHash !== this.prev.hash) {
      if (this.prev.id === null) {
        this.report('integrity', 'anchor_mismatch', event.seq, entry.id, null, `the first stored entry links to ${short(event.prevHash)}, but the entry before it (seq ${this.anchor.seq}, ${this.anchor.seq === 0 ? 'genesis' : 'the last archived'}) hashes ${short(this.anchor.hash)}`);
      } else {
        this.report('integrity', 'broken_link', event.seq, entry.id, null, `prevHash ${short(event.prevHash)} is not the hash of the entry before it (seq ${this.prev.seq}, stream id ${this.prev.id}: ${short(this.prev.hash)}): that entry or this one was changed, or one was removed or moved between them`);
      }
    }
    for (const cp of this.bySeq.get(event.seq) ?? []) {
      if (cp.hash === entry.hash) {
        this.lastAgreeing = cp;
      } else {
        const since = this.lastAgreeing ? `, after seq ${this.lastAgreeing.seq} (where checkpoint #${this.lastAgreeing.number} agrees)` : '';
        this.report('integrity', 'checkpoint_mismatch', event.seq, entry.id, cp.number, `checkpoint #${cp.number} (${cp.at}) signed hash ${short(cp.hash)} at seq ${cp.seq}; the trail has ${short(entry.hash)}: the chain was rewritten at or before seq ${cp.seq}${since}`);
      }
    }
    this.bySeq.delete(event.seq);
    this.maxSeq = Math.max(this.maxSeq, event.seq);
    this.prev = { seq: event.seq, hash: entry.hash, at: Number.isFinite(at) ? at : this.prev.at, id: entry.id };
  }

  /** The end of the trail, checked against the head key and the checkpoints not met on the way. */
  finish(head: ChainLink): TrailVerification {
    if (head.seq > this.maxSeq) {
      this.report('completeness', 'truncated', this.maxSeq + 1, null, null, `the head records seq ${head.seq}, the trail ends at seq ${this.maxSeq}: entries ${this.maxSeq + 1}-${head.seq} were cut off`);
    } else if (head.seq < this.maxSeq) {
      this.report('integrity', 'head_mismatch', head.seq, null, null, `the head records seq ${head.seq}, but the trail goes on to seq ${this.maxSeq}: entries were added around the audit trail`);
    } else if (head.hash !== this.prev.hash) {
      this.report('integrity', 'head_mismatch', head.seq, this.prev.id, null, `the head records hash ${short(head.hash)} for seq ${head.seq}; the last entry has ${short(this.prev.hash)}`);
    }
    const unmet = [...this.bySeq.values()].flat().sort((a, b) => a.seq - b.seq);
    for (const cp of unmet) {
      if (cp.seq > this.maxSeq) {
        this.report('completeness', 'truncated', this.maxSeq + 1, null, cp.number, `checkpoint #${cp.number} (${cp.at}) covers the trail up to seq ${cp.seq}; the trail ends at seq ${this.maxSeq}: entries ${this.maxSeq + 1}-${cp.seq} were cut off`);
      } else {
        this.report('integrity', 'checkpoint_mismatch', cp.seq, null, cp.number, `checkpoint #${cp.number} (${cp.at}) signed seq ${cp.seq}, which is not in the trail`);
      }
    }
    return {
      entries: this.entries,
      firstSeq: this.firstSeq,
      lastSeq: this.entries === 0 ? null : this.maxSeq,
      lastAgreeingCheckpoint: this.lastAgreeing?.number ?? null,
      problems: this.kept,
      inOrder: this.found,
      counts: this.counts,
    };
  }
}

export interface TrailVerification {
  entries: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The newest checkpoint the chain agrees with (met on the way, or the anchor's). */
  lastAgreeingCheckpoint: number | null;
  /** The first {@link problemsKept} problems of each part, in trail order. */
  problems: Record<VerifyPart, TrailProblem[]>;
  /** The kept problems of both parts in the order found: outside the entries first (checkpoints, the archive), then along the stream, then at its end. */
  inOrder: TrailProblem[];
  /** Every problem of each part. */
  counts: Record<VerifyPart, number>;
}

function short(hash: string): string {
  return hash.length > 16 ? `${hash.slice(0, 12)}…` : hash;
}
