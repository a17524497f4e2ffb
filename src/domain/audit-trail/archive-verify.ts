import { manifestKeyOf, parseManifest, readSegment, segmentPrefix, sha256Bytes, type Manifest } from './archive.js';
import { checkpointDigest, checkpointKey, checkpointNumberOf, checkpointPrefix, keyPrefix, parseCheckpoint, signatureProblem, type Checkpoint } from './checkpoint.js';
import { genesisHash, parseAuditEvent } from './chain.js';
import { keyLookup, parsePublicKey, type AuditPublicKey, type KeyLookup } from './signing.js';
import type { ArchiveSink } from './sink.js';
import { TrailVerifier, type CheckpointClaim, type TrailProblemCode } from './verify.js';

/** What offline verification reads: an archive destination, read only. */
export type ArchiveReader = Pick<ArchiveSink, 'get' | 'list' | 'location' | 'url'>;

export type ArchiveProblemCode = TrailProblemCode | 'manifest_invalid' | 'segment_missing' | 'segment_mismatch' | 'no_key';

export interface ArchiveProblem {
  /** The file the problem is in (its location). */
  where: string;
  code: ArchiveProblemCode;
  seq: number | null;
  streamId: string | null;
  checkpoint: number | null;
  detail: string;
}

export interface ArchiveVerification {
  ok: boolean;
  url: string;
  segments: number;
  entries: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** The hash of the last archived entry: where the trail in Redis goes on. */
  lastHash: string | null;
  checkpoints: number;
  newestCheckpoint: { number: number; seq: number; at: string } | null;
  /** Checkpoints whose entry is in the archive and was compared with it. */
  checkpointsCompared: number;
  /** Checkpoints signing entries that are not in the archive (still in Redis). */
  checkpointsBeyond: number;
  /** Fingerprints of the keys trusted, and whether they were given (pinned) or read from the archive. */
  keys: string[];
  keysPinned: boolean;
  problems: ArchiveProblem[];
  problemCount: number;
}

const kept = 100;

/**
 * Verifies an archive with nothing but its files and the public keys: every manifest's signature,
 * every segment's SHA-256 and line count against its manifest, the chain across all segments from
 * genesis (hashes, links, sequence numbers, time), each segment's ends against its manifest, the
 * checkpoints' numbering, signatures and links, and each checkpoint against the archived entry it
 * signs. Reads one segment at a time.
 */
export async function verifyArchive(reader: ArchiveReader, options: { publicKeys?: AuditPublicKey[] } = {}): Promise<ArchiveVerification> {
  const problems: ArchiveProblem[] = [];
  let problemCount = 0;
  const report = (p: ArchiveProblem) => {
    problemCount++;
    if (problems.length < kept) {
      problems.push(p);
    }
  };

  // Keys: those given, or those the archive publishes (then nothing outside the archive vouches for them).
  let keys: AuditPublicKey[] = options.publicKeys ?? [];
  const keysPinned = keys.length > 0;
  if (!keysPinned) {
    for (const key of (await reader.list(keyPrefix)).filter((k) => k.endsWith('.pem')).sort()) {
      const bytes = await reader.get(key);
      try {
        keys.push(parsePublicKey(Buffer.from(bytes ?? []).toString('utf8')));
      } catch (err) {
        report({ where: reader.location(key), code: 'no_key', seq: null, streamId: null, checkpoint: null, detail: (err as Error).message });
      }
    }
  }
  keys = keys.filter((k, i) => keys.findIndex((o) => o.fingerprint === k.fingerprint) === i);
  if (keys.length === 0) {
    report({ where: reader.location(keyPrefix), code: 'no_key', seq: null, streamId: null, checkpoint: null, detail: 'no public key to check signatures with: pass one with --public-key (GET /admin/bedrock-support/audit-trail/public-key)' });
  }
  const lookup: KeyLookup = keyLookup(keys);

  // Manifests first (small): the order of the segments and the archive's last entry.
  const manifests: { key: string; manifest: Manifest }[] = [];
  for (const key of (await reader.list(segmentPrefix)).filter((k) => k.endsWith('.manifest.json'))) {
    const bytes = await reader.get(key);
    const parsed = bytes ? parseManifest(bytes) : 'gone';
    if (typeof parsed === 'string') {
      report({ where: reader.location(key), code: 'manifest_invalid', seq: null, streamId: null, checkpoint: null, detail: parsed });
      continue;
    }
    const bad = signatureProblem(parsed, lookup) ?? (manifestKeyOf(parsed.file) !== key ? `it describes ${parsed.file}` : null);
    if (bad) {
      report({ where: reader.location(key), code: 'manifest_invalid', seq: parsed.firstSeq, streamId: null, checkpoint: null, detail: bad });
      continue;
    }
    manifests.push({ key, manifest: parsed });
  }
  manifests.sort((a, b) => a.manifest.firstSeq - b.manifest.firstSeq);
  const lastSeq = manifests.at(-1)?.manifest.lastSeq ?? null;

  // Checkpoints: numbered without gaps, signed, each naming the one before.
  const numbers = (await reader.list(checkpointPrefix))
    .map(checkpointNumberOf)
    .filter((n): n is number => n !== null)
    .sort((a, b) => a - b);
  const present = new Set(numbers);
  const claims: CheckpointClaim[] = [];
  const byNumber = new Map<number, string>();
  let previous: Checkpoint | null = null;
  let newest: Checkpoint | null = null;
  for (let n = 1; n <= (numbers.at(-1) ?? 0); n++) {
    const where = reader.location(checkpointKey(n));
    if (!present.has(n)) {
      report({ where, code: 'checkpoint_missing', seq: null, streamId: null, checkpoint: n, detail: `checkpoint #${n} is not in the archive, though later ones are: it was deleted` });
      previous = null;
      continue;
    }
    const bytes = await reader.get(checkpointKey(n));
    const cp = bytes ? parseCheckpoint(bytes) : 'gone';
    if (typeof cp === 'string') {
      report({ where, code: 'checkpoint_invalid', seq: null, streamId: null, checkpoint: n, detail: cp });
      previous = null;
      continue;
    }
    const bad =
      cp.number !== n
        ? `it says it is #${cp.number}`
        : (signatureProblem(cp, lookup) ??
          (previous && (cp.previous !== checkpointDigest(previous) || cp.seq < previous.seq) ? `it does not follow checkpoint #${previous.number} (its predecessor digest or sequence number differs)` : null) ??
          (n === 1 && cp.previous !== null ? 'the first checkpoint names a predecessor' : null));
    if (bad) {
      report({ where, code: 'checkpoint_invalid', seq: cp.seq, streamId: null, checkpoint: n, detail: bad });
      previous = null;
      continue;
    }
    byNumber.set(n, checkpointDigest(cp));
    claims.push({ number: cp.number, seq: cp.seq, hash: cp.hash, at: cp.at });
    previous = cp;
    newest = cp;
  }

  // Every manifest's checkpoint: signed, and the one the checkpoints folder holds under its number.
  for (const { key, manifest } of manifests) {
    const cp = manifest.checkpoint;
    const bad = signatureProblem(cp, lookup);
    const held = byNumber.get(cp.number);
    if (bad) {
      report({ where: reader.location(key), code: 'checkpoint_invalid', seq: cp.seq, streamId: null, checkpoint: cp.number, detail: `the checkpoint it carries: ${bad}` });
    } else if (held === undefined && !present.has(cp.number)) {
      report({ where: reader.location(key), code: 'checkpoint_missing', seq: cp.seq, streamId: null, checkpoint: cp.number, detail: `it carries checkpoint #${cp.number}, which is not in ${reader.location(checkpointPrefix)}: it was deleted` });
    } else if (held !== undefined && held !== checkpointDigest(cp)) {
      report({ where: reader.location(key), code: 'checkpoint_invalid', seq: cp.seq, streamId: null, checkpoint: cp.number, detail: `the checkpoint #${cp.number} it carries differs from ${reader.location(checkpointKey(cp.number))}` });
    }
  }

  // The entries, segment after segment, as one chain from genesis.
  const compared = claims.filter((c) => lastSeq !== null && c.seq <= lastSeq && c.seq > 0);
  const verifier = new TrailVerifier({ seq: 0, hash: genesisHash }, compared);
  const segmentOf = (seq: number | null) => manifests.find((m) => seq !== null && seq >= m.manifest.firstSeq && seq <= m.manifest.lastSeq);
  let lastHash: string | null = null;
  for (const { key, manifest } of manifests) {
    const where = reader.location(manifest.file);
    const bytes = await reader.get(manifest.file);
    if (!bytes) {
      report({ where, code: 'segment_missing', seq: manifest.firstSeq, streamId: manifest.firstStreamId, checkpoint: null, detail: `the segment of ${reader.location(key)} is not in the archive` });
      continue;
    }
    const digest = sha256Bytes(bytes);
    if (digest !== manifest.sha256) {
      report({ where, code: 'segment_mismatch', seq: manifest.firstSeq, streamId: manifest.firstStreamId, checkpoint: null, detail: `SHA-256 ${digest}, the signed manifest says ${manifest.sha256}: the file was changed` });
    }
    const lines = readSegment(bytes);
    if (typeof lines === 'string') {
      report({ where, code: 'segment_mismatch', seq: manifest.firstSeq, streamId: null, checkpoint: null, detail: lines });
      continue;
    }
    const first = lines[0];
    const last = lines.at(-1);
    if (lines.length !== manifest.entries || first?.id !== manifest.firstStreamId || last?.id !== manifest.lastStreamId || last.hash !== manifest.chain.after || parseAuditEvent(first.json)?.prevHash !== manifest.chain.before) {
      report({ where, code: 'segment_mismatch', seq: manifest.firstSeq, streamId: first?.id ?? null, checkpoint: null, detail: `it holds ${lines.length} entries from ${first?.id ?? '-'} to ${last?.id ?? '-'}; its signed manifest says ${manifest.entries} from ${manifest.firstStreamId} to ${manifest.lastStreamId}, chained from ${manifest.chain.before.slice(0, 12)}… to ${manifest.chain.after.slice(0, 12)}…` });
    }
    for (const line of lines) {
      verifier.add(line);
    }
    lastHash = last?.hash ?? lastHash;
  }
  const result = verifier.finish({ seq: verifier.entries === 0 ? 0 : (lastSeq ?? 0), hash: lastHash ?? genesisHash });
  for (const p of [...result.problems.completeness, ...result.problems.integrity].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))) {
    report({ where: reader.location(segmentOf(p.seq)?.manifest.file ?? segmentPrefix), code: p.code, seq: p.seq, streamId: p.streamId, checkpoint: p.checkpoint, detail: p.detail });
  }
  // Problems beyond those kept were counted by the verifier.
  problemCount += result.counts.completeness + result.counts.integrity - result.problems.completeness.length - result.problems.integrity.length;

  return {
    ok: problemCount === 0,
    url: reader.url,
    segments: manifests.length,
    entries: result.entries,
    firstSeq: result.firstSeq,
    lastSeq: result.lastSeq,
    lastHash,
    checkpoints: numbers.length,
    newestCheckpoint: newest ? { number: newest.number, seq: newest.seq, at: newest.at } : null,
    checkpointsCompared: compared.length,
    checkpointsBeyond: claims.length - compared.length,
    keys: keys.map((k) => k.fingerprint),
    keysPinned,
    problems,
    problemCount,
  };
}
