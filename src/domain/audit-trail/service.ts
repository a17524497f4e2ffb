import { z } from 'zod';
import { archiveSegments, cleanupArchived, parseManifest, type ArchiveResult, type CleanupResult } from './archive.js';
import { checkpointDigest, checkpointKey, checkpointNumberOf, checkpointPrefix, parseCheckpoint, signatureProblem, SigningKeyMissingError, writeCheckpoint, type Checkpoint, type CheckpointWrite } from './checkpoint.js';
import { recordBeforeChange, type AuditTrail } from './ports.js';
import type { ArchiveRegistry } from './registry.js';
import { keyLookup, parsePublicKey, type AuditPublicKey, type AuditSigner, type KeyLookup } from './signing.js';
import { ArchiveDestinationError, primaryDestination, type ArchiveDestinations, type ArchiveSink } from './sink.js';
import { completenessProblems, trailProblemSchema, TrailVerifier, verifyParts, type CheckpointClaim, type TrailProblem, type VerifyPart } from './verify.js';

/** Another checkpoint, archive run or cleanup holds the archive lock. */
export class AuditArchiveBusyError extends Error {
  override readonly name = 'AuditArchiveBusyError';
}

/** What a verification covers: both parts, or one. */
export const verifyScopes = ['all', ...verifyParts] as const;
export type VerifyScope = (typeof verifyScopes)[number];

const link = z.object({ seq: z.number().int(), hash: z.string() });

export const trailVerificationSchema = z.object({
  scope: z.enum(verifyScopes),
  ok: z.boolean(),
  verifiedAt: z.string(),
  /** Entries read from Redis. */
  entries: z.number().int(),
  firstSeq: z.number().int().nullable(),
  lastSeq: z.number().int().nullable(),
  /** What the first stored entry links to: genesis (seq 0) or the last archived entry. */
  anchor: link,
  /** What the head key records. */
  head: link,
  /** The newest checkpoint read from the archive, and whether the chain agrees with it (null: it signs an archived entry, or it was not read). */
  checkpoint: z
    .object({ number: z.number().int(), seq: z.number().int(), hash: z.string(), at: z.string(), location: z.string(), key: z.string(), agrees: z.boolean().nullable() })
    .nullable(),
  /** Checkpoints read and compared. */
  checkpointsChecked: z.number().int(),
  firstProblem: trailProblemSchema.nullable(),
  /** The first 100 problems of each part, in trail order. */
  problems: z.array(trailProblemSchema),
  problemCount: z.number().int(),
  durationMs: z.number(),
  entriesPerSecond: z.number(),
});
export type TrailVerificationReport = z.infer<typeof trailVerificationSchema>;

export const publicKeyViewSchema = z.object({
  algorithm: z.literal('Ed25519'),
  pem: z.string(),
  fingerprint: z.string(),
  /** `signing-key`: this process holds the private key; `published`: a signer published it (Redis). */
  source: z.enum(['signing-key', 'published']),
  /** Every key that signed checkpoints of this install, by fingerprint. */
  knownKeys: z.array(z.string()),
});
export type PublicKeyView = z.infer<typeof publicKeyViewSchema>;

export interface AuditTrailServiceDeps {
  trail: AuditTrail;
  registry: ArchiveRegistry;
  destinations: ArchiveDestinations;
  /** The private key, where this process has one (compliance workers, `bsm all`). */
  signer: AuditSigner | null;
  /** Runs `work` holding the fleet-wide archive lock (checkpoints, archive runs and cleanups take turns). */
  exclusive: <T>(work: () => Promise<T>) => Promise<T>;
  clock: () => Date;
  /** Milliseconds for durations (default `performance.now`). */
  now?: () => number;
  /** Entries read per XRANGE while verifying. */
  pageSize?: number;
  /** Entries per archive segment. */
  segmentEntries?: number;
  /** The newest checkpoints read and compared on each verification. */
  checkpointsRead?: number;
}

export interface ArchiveRequest {
  actor: string;
  /** Entries recorded before this are archived. */
  cutoff: Date;
  destination: string;
  /** Clean up afterwards (the nightly run). */
  cleanup: boolean;
  requestId?: string;
  signal?: AbortSignal;
  onProgress?: (archived: number, atMost: number) => Promise<void>;
}

/** The audit trail's verification, checkpoints, archive and cleanup. */
export interface AuditTrailService {
  /** The configured archive destinations by name, the primary first. */
  readonly destinations: readonly string[];
  /** A destination's configured URL; undefined for an unknown name. */
  destinationUrl(name: string): string | undefined;
  verify(scope: VerifyScope, options?: { signal?: AbortSignal }): Promise<TrailVerificationReport>;
  publicKey(): Promise<PublicKeyView | null>;
  /** Publishes this process's public key (Redis), so processes without the private key can verify. */
  publishKey(): Promise<void>;
  checkpoint(actor: string): Promise<CheckpointWrite>;
  archive(request: ArchiveRequest): Promise<ArchiveResult>;
  /** `reason` is stored as given: the caller redacts it. */
  cleanup(request: { actor: string; requestId?: string; reason?: string; signal?: AbortSignal }): Promise<CleanupResult>;
}

interface CheckpointEvidence {
  claims: CheckpointClaim[];
  newest: (Checkpoint & { location: string }) | null;
  read: number;
  problems: Omit<TrailProblem, 'part'>[];
}

export function createAuditTrailService(deps: AuditTrailServiceDeps): AuditTrailService {
  const now = deps.now ?? (() => performance.now());
  const pageSize = deps.pageSize ?? 1_000;
  const checkpointsRead = deps.checkpointsRead ?? 24;
  const primary = () => deps.destinations.sink(primaryDestination(deps.destinations));

  /** This process's key, and every key a signer published. */
  const trustedKeys = async (): Promise<{ lookup: KeyLookup; current: AuditPublicKey | null; all: string[] }> => {
    const published = await deps.registry.publicKeys();
    const keys: AuditPublicKey[] = deps.signer ? [deps.signer] : [];
    for (const pem of Object.values(published.keys)) {
      try {
        const key = parsePublicKey(pem);
        if (!keys.some((k) => k.fingerprint === key.fingerprint)) {
          keys.push(key);
        }
      } catch {
        // A published key that does not parse trusts nothing; checkpoints it signed show as untrusted.
      }
    }
    const current = deps.signer ?? keys.find((k) => k.fingerprint === published.current) ?? null;
    return { lookup: keyLookup(keys), current, all: keys.map((k) => k.fingerprint) };
  };

  /** The checkpoints in the archive: numbering, the newest few read, signatures and links checked. */
  const checkpointEvidence = async (keys: KeyLookup): Promise<CheckpointEvidence> => {
    const evidence: CheckpointEvidence = { claims: [], newest: null, read: 0, problems: [] };
    const cached = await deps.registry.checkpointHead();
    let sink: ArchiveSink;
    let names: string[];
    try {
      sink = primary();
      names = await sink.list(checkpointPrefix);
    } catch (err) {
      evidence.problems.push({ code: 'checkpoint_unreadable', seq: null, streamId: null, checkpoint: cached?.number ?? null, detail: `the archive's checkpoints cannot be listed: ${(err as Error).message}` });
      return evidence;
    }
    const numbers = names
      .map(checkpointNumberOf)
      .filter((n): n is number => n !== null)
      .sort((a, b) => a - b);
    const present = new Set(numbers);
    const max = numbers.at(-1) ?? 0;
    let missing = 0;
    for (let n = 1; n <= max && missing < 100; n++) {
      if (!present.has(n)) {
        missing++;
        evidence.problems.push({ code: 'checkpoint_missing', seq: null, streamId: null, checkpoint: n, detail: `checkpoint #${n} is not in the archive (${sink.location(checkpointKey(n))}), though later ones are: it was deleted` });
      }
    }
    if (cached && cached.number > max) {
      evidence.problems.push({
        code: 'checkpoint_missing',
        seq: null,
        streamId: null,
        checkpoint: cached.number,
        detail: `checkpoint #${cached.number} (seq ${cached.seq}, ${cached.at}) was written to ${cached.location} but is not in the archive: Redis counts ${cached.number} checkpoints, the archive's newest is ${max === 0 ? 'none' : `#${max}`}`,
      });
    }
    // The newest few, newest first: each checked, and linked to the one before it.
    const newestFirst = numbers.slice(-checkpointsRead).reverse();
    let later: Checkpoint | null = null;
    for (const n of newestFirst) {
      const key = checkpointKey(n);
      let bytes: Uint8Array | null;
      try {
        bytes = await sink.get(key);
      } catch (err) {
        evidence.problems.push({ code: 'checkpoint_unreadable', seq: null, streamId: null, checkpoint: n, detail: `${sink.location(key)} cannot be read: ${(err as Error).message}` });
        later = null;
        continue;
      }
      const cp = bytes ? parseCheckpoint(bytes) : 'it is gone';
      if (typeof cp === 'string') {
        evidence.problems.push({ code: 'checkpoint_invalid', seq: null, streamId: null, checkpoint: n, detail: `${sink.location(key)}: ${cp}` });
        later = null;
        continue;
      }
      evidence.read++;
      const bad = cp.number !== n ? `it says it is #${cp.number}` : signatureProblem(cp, keys);
      if (bad) {
        evidence.problems.push({ code: 'checkpoint_invalid', seq: cp.seq, streamId: null, checkpoint: n, detail: `checkpoint #${n} (${sink.location(key)}): ${bad}` });
        later = null;
        continue;
      }
      if (later && later.number === cp.number + 1 && (later.previous !== checkpointDigest(cp) || later.seq < cp.seq)) {
        evidence.problems.push({ code: 'checkpoint_invalid', seq: later.seq, streamId: null, checkpoint: later.number, detail: `checkpoint #${later.number} does not follow #${n} (its predecessor digest or sequence number differs): one of them was replaced` });
      }
      if (n === cached?.number && checkpointDigest(cp) !== cached.digest) {
        evidence.problems.push({ code: 'checkpoint_invalid', seq: cp.seq, streamId: null, checkpoint: n, detail: `checkpoint #${n} in the archive is not the one written (${cached.location}, digest ${cached.digest.slice(0, 12)}…): it was replaced` });
      }
      evidence.newest ??= { ...cp, location: sink.location(key) };
      evidence.claims.push({ number: cp.number, seq: cp.seq, hash: cp.hash, at: cp.at });
      later = cp;
    }
    return evidence;
  };

  /** The archived entry the first stored one links to, as the signed manifest of its segment records it. */
  const boundaryProblems = async (anchor: { seq: number; hash: string }, keys: KeyLookup): Promise<Omit<TrailProblem, 'part'>[]> => {
    if (anchor.seq === 0) {
      return [];
    }
    const segment = (await deps.registry.segments()).find((s) => s.lastSeq === anchor.seq && s.cleanedAt !== null);
    if (!segment) {
      return [{ code: 'archive_missing', seq: anchor.seq, streamId: null, checkpoint: null, detail: `entries up to seq ${anchor.seq} left Redis, but no archived segment recorded ends there: they were removed without a verifiable archive` }];
    }
    let bytes: Uint8Array | null;
    try {
      bytes = await deps.destinations.sink(segment.destination).get(segment.manifest);
    } catch (err) {
      return [{ code: 'archive_missing', seq: anchor.seq, streamId: null, checkpoint: null, detail: `the manifest of ${segment.location} cannot be read: ${(err as Error).message}` }];
    }
    const manifest = bytes ? parseManifest(bytes) : 'it is not in the archive';
    if (typeof manifest === 'string') {
      return [{ code: 'archive_missing', seq: anchor.seq, streamId: null, checkpoint: null, detail: `the manifest of ${segment.location}: ${manifest}` }];
    }
    const bad = signatureProblem(manifest, keys);
    if (bad) {
      return [{ code: 'anchor_mismatch', seq: anchor.seq, streamId: null, checkpoint: null, detail: `the manifest of ${segment.location}: ${bad}` }];
    }
    if (manifest.lastSeq !== anchor.seq || manifest.chain.after !== anchor.hash) {
      return [{ code: 'anchor_mismatch', seq: anchor.seq, streamId: null, checkpoint: null, detail: `the anchor in Redis (seq ${anchor.seq}, ${anchor.hash.slice(0, 12)}…) is not the last archived entry the manifest of ${segment.location} signs (seq ${manifest.lastSeq}, ${manifest.chain.after.slice(0, 12)}…)` }];
    }
    return [];
  };

  const partOf = (code: TrailProblem['code']): VerifyPart => ((completenessProblems as readonly string[]).includes(code) ? 'completeness' : 'integrity');

  const sinkFor = (name: string) => {
    if (!deps.destinations.names.includes(name)) {
      throw new ArchiveDestinationError(`unknown archive destination "${name}": configured are ${deps.destinations.names.join(', ')}`);
    }
    return deps.destinations.sink(name);
  };

  const checkpointLocked = (actor: string, options: { announce: boolean; force?: boolean }) =>
    writeCheckpoint({ trail: deps.trail, registry: deps.registry, sink: primary(), signer: deps.signer, clock: deps.clock }, { actor, ...options });

  return {
    destinations: deps.destinations.names,
    destinationUrl: (name) => deps.destinations.url(name),

    async verify(scope, options = {}) {
      const started = now();
      const [anchor, head, keys] = await Promise.all([deps.trail.anchor(), deps.trail.head(), trustedKeys()]);
      const evidence = await checkpointEvidence(keys.lookup);
      const verifier = new TrailVerifier(
        anchor,
        evidence.claims.filter((c) => c.seq >= anchor.seq),
      );
      for (const p of [...evidence.problems, ...(await boundaryProblems(anchor, keys.lookup))]) {
        verifier.report(partOf(p.code), p.code, p.seq, p.streamId, p.checkpoint, p.detail);
      }
      // The head was read before the pages: entries appended meanwhile lie past it. They are left for
      // the next verification, once the head read again shows an append put them there (an append
      // moves the head and adds the entry in one script); an entry past a head that did not move
      // was added around the trail.
      let beyond: { seq: number; id: string } | null = null;
      let start = '-';
      pages: for (;;) {
        options.signal?.throwIfAborted();
        const page = await deps.trail.range({ start, count: pageSize });
        for (const entry of page) {
          const seq = entry.event?.seq;
          if (typeof seq === 'number' && seq > head.seq) {
            beyond = { seq, id: entry.id };
            break pages;
          }
          verifier.add(entry);
        }
        const last = page.at(-1);
        if (!last || page.length < pageSize) {
          break;
        }
        start = `(${last.id}`;
      }
      if (beyond) {
        const current = await deps.trail.head();
        if (current.seq < beyond.seq) {
          verifier.report('integrity', 'head_mismatch', beyond.seq, beyond.id, null, `entry seq ${beyond.seq} lies past the head (seq ${current.seq}): entries were added around the audit trail`);
        }
      }
      const result = verifier.finish(head);
      const parts: readonly VerifyPart[] = scope === 'all' ? verifyParts : [scope];
      const problems = result.inOrder.filter((p) => parts.includes(p.part));
      const problemCount = parts.map((p) => result.counts[p]).reduce((a, b) => a + b, 0);
      const durationMs = Math.max(now() - started, 0.001);
      const newest = evidence.newest;
      return {
        scope,
        ok: problemCount === 0,
        verifiedAt: deps.clock().toISOString(),
        entries: result.entries,
        firstSeq: result.firstSeq,
        lastSeq: result.lastSeq,
        anchor,
        head,
        checkpoint: newest
          ? {
              number: newest.number,
              seq: newest.seq,
              hash: newest.hash,
              at: newest.at,
              location: newest.location,
              key: newest.key,
              agrees: newest.seq < anchor.seq ? null : result.lastAgreeingCheckpoint === newest.number,
            }
          : null,
        checkpointsChecked: evidence.read,
        firstProblem: problems[0] ?? null,
        problems,
        problemCount,
        durationMs: Math.round(durationMs * 1000) / 1000,
        entriesPerSecond: Math.round((result.entries / durationMs) * 1000),
      };
    },

    async publicKey() {
      const keys = await trustedKeys();
      const current = keys.current;
      if (!current) {
        return null;
      }
      return { algorithm: 'Ed25519', pem: current.pem, fingerprint: current.fingerprint, source: deps.signer ? 'signing-key' : 'published', knownKeys: keys.all };
    },

    async publishKey() {
      if (deps.signer) {
        await deps.registry.publishKey(deps.signer.fingerprint, deps.signer.pem);
      }
    },

    checkpoint: (actor) => deps.exclusive(() => checkpointLocked(actor, { announce: true })),

    async archive(request) {
      const sink = sinkFor(request.destination);
      const signer = deps.signer;
      if (!signer) {
        throw new SigningKeyMissingError('no audit signing key in this process: set BSM_AUDIT_SIGNING_KEY on the workers that run the compliance queue (manifests and checkpoints are signed)');
      }
      return deps.exclusive(async () => {
        const cutoff = request.cutoff;
        const before = await deps.trail.head();
        await recordBeforeChange(deps.trail, {
          actor: request.actor,
          action: 'audit-trail.archive',
          target: request.destination,
          details: { cutoff: cutoff.toISOString(), destination: request.destination, upToSeq: before.seq, cleanup: request.cleanup, ...(request.requestId ? { requestId: request.requestId } : {}) },
        });
        // Every archive run anchors the head outside Redis first; each manifest of the run carries it.
        const written = await checkpointLocked(request.actor, { announce: false, force: true });
        const head = written.head;
        const cpBytes = head ? await primary().get(checkpointKey(head.number)) : null;
        const checkpoint = cpBytes ? parseCheckpoint(cpBytes) : 'not written';
        if (!head || typeof checkpoint === 'string') {
          throw new Error(`the archive run's checkpoint did not read back: ${typeof checkpoint === 'string' ? checkpoint : ''}`);
        }
        const archived = await archiveSegments(
          { trail: deps.trail, registry: deps.registry, sink, destination: request.destination, signer, clock: deps.clock },
          { cutoff, upToSeq: before.seq, checkpoint, checkpointLocation: head.location, segmentEntries: deps.segmentEntries, signal: request.signal, onProgress: request.onProgress },
        );
        const cleanup = request.cleanup ? await cleanupArchived({ trail: deps.trail, registry: deps.registry, destinations: deps.destinations, keys: (await trustedKeys()).lookup, clock: deps.clock }, request) : null;
        return { ...archived, cleanup };
      });
    },

    async cleanup(request) {
      const keys = await trustedKeys();
      return deps.exclusive(() => cleanupArchived({ trail: deps.trail, registry: deps.registry, destinations: deps.destinations, keys: keys.lookup, clock: deps.clock }, request));
    },
  };

}
