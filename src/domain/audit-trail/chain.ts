import { z } from 'zod';
import { boundDetails, boundText } from './bound.js';
import { canonicalJson, sha256 } from './canonical.js';

export { canonicalJson, sha256 } from './canonical.js';

/** What a caller appends to the audit trail. */
export interface AuditEventInput {
  /** Who did it: an API key name, `scheduler`, `worker:<queue>`, `system`. */
  actor: string;
  /** What happened, dotted: `support-mode.enable`, `audit.trigger`, `audit-trail.archive`. */
  action: string;
  /** What it happened to (a component, an audit id). */
  target?: string;
  details?: Record<string, unknown>;
}

/** One stored entry. `prevHash` is the SHA-256 of the previous entry's canonical JSON. */
export interface AuditEvent extends AuditEventInput {
  seq: number;
  at: string;
  prevHash: string;
}

/** An audit event as read back from storage. */
export const auditEventSchema = z.object({
  seq: z.number().int().positive(),
  at: z.string(),
  prevHash: z.string(),
  actor: z.string(),
  action: z.string(),
  target: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** Parses an entry's stored JSON; null when it is not an audit event (a tampered or foreign entry: verification reports it). */
export function parseAuditEvent(json: string): AuditEvent | null {
  try {
    const parsed = auditEventSchema.safeParse(JSON.parse(json));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** An entry with its own hash (SHA-256 of {@link canonicalJson} of the entry). */
export interface ChainedEvent {
  event: AuditEvent;
  json: string;
  hash: string;
}

/** The hash before the first entry. */
export const genesisHash = '0'.repeat(64);

/** Builds the next entry after `head`, its parts within {@link auditBounds}. */
export function chainEvent(input: AuditEventInput, head: { seq: number; hash: string }, at: Date): ChainedEvent {
  const event: AuditEvent = {
    seq: head.seq + 1,
    at: at.toISOString(),
    prevHash: head.hash,
    actor: boundText(input.actor),
    action: boundText(input.action),
    ...(input.target === undefined ? {} : { target: boundText(input.target) }),
    ...(input.details === undefined ? {} : { details: boundDetails(input.details) }),
  };
  const json = canonicalJson(event);
  return { event, json, hash: sha256(json) };
}

export interface ChainBreak {
  seq: number;
  /** `head_mismatch`: the newest stored entry is not the one the head names (entries removed or added past it). */
  problem: 'hash_mismatch' | 'broken_link' | 'sequence_gap' | 'unparseable' | 'head_mismatch';
  detail: string;
}

/**
 * Checks a run of stored entries: each one's hash matches its JSON, each links to the one
 * before, and sequence numbers have no gaps. `anchor` is the entry before the run
 * (genesis, or the last archived entry).
 */
export function verifyChain(entries: { json: string; hash: string }[], anchor: { seq: number; hash: string }): { ok: boolean; checked: number; breaks: ChainBreak[] } {
  const breaks: ChainBreak[] = [];
  let prev = anchor;
  for (const entry of entries) {
    let event: AuditEvent;
    try {
      event = JSON.parse(entry.json) as AuditEvent;
    } catch {
      breaks.push({ seq: prev.seq + 1, problem: 'unparseable', detail: 'entry is not valid JSON' });
      continue;
    }
    if (sha256(canonicalJson(event)) !== entry.hash || canonicalJson(event) !== entry.json) {
      breaks.push({ seq: event.seq, problem: 'hash_mismatch', detail: 'content does not match its hash' });
    }
    if (event.seq !== prev.seq + 1) {
      breaks.push({ seq: event.seq, problem: 'sequence_gap', detail: `expected seq ${prev.seq + 1}, found ${event.seq}` });
    }
    if (event.prevHash !== prev.hash) {
      breaks.push({ seq: event.seq, problem: 'broken_link', detail: 'prevHash does not match the previous entry' });
    }
    prev = { seq: event.seq, hash: entry.hash };
  }
  return { ok: breaks.length === 0, checked: entries.length, breaks };
}

/** The newest entries of the trail and what they must agree with, read together (one MULTI). */
export interface TrailTail {
  /** Oldest first: at most `count + 1` of the newest entries (the extra one is the anchor of the rest). */
  entries: { json: string; hash: string }[];
  /** The head the trail keeps: seq and hash of the last appended entry. */
  head: { seq: number; hash: string };
  /** The last archived entry (or genesis): what the first stored entry links to. */
  anchor: { seq: number; hash: string };
}

/**
 * Verifies the newest `count` entries: each one's hash, its link to the one before and the
 * sequence, and that the newest is the one the head names. A bounded check, cheap enough to run
 * every minute; the entry before the run is taken as it is stored (the full verification, the
 * compliance check, covers it).
 */
export function verifyTail(tail: TrailTail, count: number): { ok: boolean; checked: number; breaks: ChainBreak[] } {
  let run = tail.entries;
  let anchor = tail.anchor;
  if (run.length > count) {
    const [base, ...rest] = run;
    const parsed = base ? parseAuditEvent(base.json) : null;
    const next = rest[0] ? parseAuditEvent(rest[0].json) : null;
    anchor = { seq: parsed?.seq ?? (next ? next.seq - 1 : 0), hash: base?.hash ?? genesisHash };
    run = rest;
  }
  const result = verifyChain(run, anchor);
  const last = run.at(-1);
  const newest = last ? { seq: parseAuditEvent(last.json)?.seq ?? -1, hash: last.hash } : anchor;
  if (newest.seq !== tail.head.seq || newest.hash !== tail.head.hash) {
    result.breaks.push({ seq: tail.head.seq, problem: 'head_mismatch', detail: `the head names seq ${tail.head.seq}, the newest stored entry is seq ${newest.seq}${newest.seq === tail.head.seq ? ' with another hash' : ''}` });
  }
  return { ok: result.breaks.length === 0, checked: result.checked, breaks: result.breaks };
}
