import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { z } from 'zod';
import { checkpointSchema, signatureProblem, signedText, type Checkpoint } from './checkpoint.js';
import { recordBeforeChange, type AuditTrail, type StoredAuditEntry } from './ports.js';
import type { ArchivedSegment, ArchiveRegistry } from './registry.js';
import type { AuditSigner, KeyLookup } from './signing.js';
import { ArchiveObjectExistsError, type ArchiveDestinations, type ArchiveSink } from './sink.js';

/** Archiving cannot go on without losing evidence (an entry that is not what the chain says it is). */
export class ArchiveRefusedError extends Error {
  override readonly name = 'ArchiveRefusedError';
}

/** What was written did not read back the same: nothing was recorded, the run may be retried. */
export class ArchiveReadBackError extends Error {
  override readonly name = 'ArchiveReadBackError';
}

const hash = z.string().regex(/^[0-9a-f]{64}$/);

/** Where segments live in an archive destination. */
export const segmentPrefix = 'segments/';

export function segmentKey(firstSeq: number, lastSeq: number): string {
  return `${segmentPrefix}audit-trail-${String(firstSeq).padStart(12, '0')}-${String(lastSeq).padStart(12, '0')}.jsonl.gz`;
}

export function manifestKeyOf(segment: string): string {
  return segment.replace(/\.jsonl\.gz$/, '.manifest.json');
}

/** One line of a segment: the entry's stream id, its hash, and the exact JSON that was hashed. */
export const segmentLineSchema = z.object({ id: z.string(), hash: z.string(), json: z.string() }).strict();
export type SegmentLine = z.infer<typeof segmentLineSchema>;

/**
 * A segment's manifest: what the file holds (its first and last sequence number and stream id,
 * its SHA-256 and size), the chain's hash at both ends (what the first entry links to, and the
 * last entry's hash), the checkpoint signed when it was written, all signed with the same key.
 */
export const manifestSchema = z
  .object({
    version: z.literal(1),
    /** The segment's key in the destination. */
    file: z.string(),
    entries: z.number().int().positive(),
    firstSeq: z.number().int().positive(),
    lastSeq: z.number().int().positive(),
    firstStreamId: z.string(),
    lastStreamId: z.string(),
    firstAt: z.string(),
    lastAt: z.string(),
    /** SHA-256 of the gzipped file. */
    sha256: hash,
    bytes: z.number().int().positive(),
    chain: z.object({ before: hash, after: hash }).strict(),
    checkpoint: checkpointSchema,
    cutoff: z.string(),
    createdAt: z.string(),
    key: hash,
    signature: z.string().min(1),
  })
  .strict();
export type Manifest = z.infer<typeof manifestSchema>;

export function parseManifest(bytes: Uint8Array): Manifest | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const parsed = manifestSchema.safeParse(raw);
  return parsed.success ? parsed.data : `not a manifest (${parsed.error.issues[0]?.path.join('.') || 'its shape'})`;
}

export function sha256Bytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The lines of a gzipped segment; a string saying what is wrong when it is not one. */
export function readSegment(bytes: Uint8Array): SegmentLine[] | string {
  let text: string;
  try {
    text = gunzipSync(bytes).toString('utf8');
  } catch {
    return 'not a gzip file';
  }
  const lines: SegmentLine[] = [];
  for (const [i, line] of text.split('\n').entries()) {
    if (line === '') {
      continue;
    }
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch {
      return `line ${i + 1} is not JSON`;
    }
    const parsed = segmentLineSchema.safeParse(raw);
    if (!parsed.success) {
      return `line ${i + 1} is not an archived entry`;
    }
    lines.push(parsed.data);
  }
  return lines;
}

const segmentViewSchema = z.object({
  destination: z.string(),
  file: z.string(),
  manifest: z.string(),
  location: z.string(),
  firstSeq: z.number().int(),
  lastSeq: z.number().int(),
  entries: z.number().int(),
  sha256: z.string(),
});
export type SegmentView = z.infer<typeof segmentViewSchema>;

export const cleanupResultSchema = z.object({
  /** Entries removed from Redis. */
  removed: z.number().int().min(0),
  /** The archives that hold them. */
  archives: z.array(segmentViewSchema),
  /** What the first entry left in Redis links to: the last removed entry. */
  anchor: z.object({ seq: z.number().int(), hash: z.string() }),
  /** The archive whose read-back did not match, and why; its entries and those after it stay. */
  stopped: z.object({ archive: z.string(), reason: z.string() }).nullable(),
  /** Archived segments still waiting for cleanup. */
  pending: z.number().int().min(0),
});
export type CleanupResult = z.infer<typeof cleanupResultSchema>;

export const archiveResultSchema = z.object({
  cutoff: z.string(),
  destination: z.string(),
  archived: z.number(),
  /** Where the segments were written. */
  files: z.array(z.string()),
  segments: z.array(segmentViewSchema),
  fromSeq: z.number().nullable(),
  toSeq: z.number().nullable(),
  /** The checkpoint signed at the start of the run, which every manifest of the run carries. */
  checkpoint: z.object({ number: z.number().int(), seq: z.number().int(), location: z.string() }).nullable(),
  /** The cleanup that followed (the nightly run), or null. */
  cleanup: cleanupResultSchema.nullable(),
});
export type ArchiveResult = z.infer<typeof archiveResultSchema>;

function viewOf(s: ArchivedSegment): SegmentView {
  return { destination: s.destination, file: s.file, manifest: s.manifest, location: s.location, firstSeq: s.firstSeq, lastSeq: s.lastSeq, entries: s.entries, sha256: s.sha256 };
}

/** Writes an object, or accepts the one already there when `same` says it is what we meant to write (a run retried after a crash). */
async function putOrSame(sink: ArchiveSink, key: string, body: Uint8Array, same: (existing: Uint8Array) => boolean): Promise<string> {
  try {
    return await sink.put(key, body);
  } catch (err) {
    if (!(err instanceof ArchiveObjectExistsError)) {
      throw err;
    }
    const existing = await sink.get(key);
    if (existing && same(existing)) {
      return sink.location(key);
    }
    throw new ArchiveRefusedError(`${sink.location(key)} already exists with other content: the archive is not replaced (move it away after checking it)`);
  }
}

export interface ArchiveRunDeps {
  trail: AuditTrail;
  registry: ArchiveRegistry;
  sink: ArchiveSink;
  destination: string;
  signer: AuditSigner;
  clock: () => Date;
}

export interface ArchiveRunOptions {
  cutoff: Date;
  /** Only entries up to this sequence number (the head before the run announced itself). */
  upToSeq: number;
  checkpoint: Checkpoint;
  checkpointLocation: string;
  /** Entries per segment. */
  segmentEntries?: number;
  signal?: AbortSignal;
  /** After each segment: entries archived so far, and at most how many this run can archive. */
  onProgress?: (archived: number, atMost: number) => Promise<void>;
}

/**
 * Writes the entries recorded before `cutoff` (and not archived yet) to the destination as
 * gzipped JSON Lines segments, each with a signed manifest, reads each back, and only then
 * records it as archived. Entries stay in Redis: cleanup removes them. An entry that does not
 * chain (tampered, foreign) stops the run before it.
 */
export async function archiveSegments(deps: ArchiveRunDeps, options: ArchiveRunOptions): Promise<Omit<ArchiveResult, 'cleanup'>> {
  const segmentEntries = options.segmentEntries ?? 10_000;
  const page = Math.min(1_000, segmentEntries);
  // Stream ids start with the append time in ms: every id below `${cutoff}-0` is older.
  const end = `${options.cutoff.getTime() - 1}-18446744073709551615`;
  const last = await deps.registry.lastArchived();
  let link = last ? { seq: last.seq, hash: last.hash } : await deps.trail.anchor();
  let start = last ? `(${last.id}` : '-';
  const atMost = Math.max(options.upToSeq - link.seq, 1);
  const result: Omit<ArchiveResult, 'cleanup'> = {
    cutoff: options.cutoff.toISOString(),
    destination: deps.destination,
    archived: 0,
    files: [],
    segments: [],
    fromSeq: null,
    toSeq: null,
    checkpoint: { number: options.checkpoint.number, seq: options.checkpoint.seq, location: options.checkpointLocation },
  };
  let done = false;
  while (!done) {
    const lines: string[] = [];
    let first: { seq: number; id: string; at: string; prevHash: string } | null = null;
    let lastEntry: { seq: number; id: string; at: string; hash: string } | null = null;
    while (lines.length < segmentEntries) {
      options.signal?.throwIfAborted();
      const want = Math.min(page, segmentEntries - lines.length);
      const entries = await deps.trail.range({ start, end, count: want });
      for (const e of entries) {
        const event = e.event;
        if (event && event.seq > options.upToSeq) {
          done = true;
          break;
        }
        if (!event || createHash('sha256').update(e.json).digest('hex') !== e.hash || event.seq !== link.seq + 1 || event.prevHash !== link.hash) {
          const what = !event ? 'is not an audit event' : event.seq !== link.seq + 1 ? `has seq ${event.seq} where ${link.seq + 1} belongs` : 'does not match its hash or the entry before it';
          throw new ArchiveRefusedError(`audit-trail entry ${e.id} ${what}: archiving stops before it (GET /admin/bedrock-support/audit-trail/verify names the problem)`);
        }
        first ??= { seq: event.seq, id: e.id, at: event.at, prevHash: event.prevHash };
        lastEntry = { seq: event.seq, id: e.id, at: event.at, hash: e.hash };
        lines.push(JSON.stringify({ id: e.id, hash: e.hash, json: e.json }));
        link = { seq: event.seq, hash: e.hash };
        start = `(${e.id}`;
      }
      if (done || entries.length < want) {
        done = true;
        break;
      }
    }
    if (!first || !lastEntry) {
      break;
    }
    const segment = await writeSegment(deps, options, lines, first, lastEntry);
    result.archived += segment.entries;
    result.files.push(segment.location);
    result.segments.push(viewOf(segment));
    result.fromSeq ??= segment.firstSeq;
    result.toSeq = segment.lastSeq;
    await options.onProgress?.(result.archived, atMost);
  }
  return result;
}

async function writeSegment(
  deps: ArchiveRunDeps,
  options: ArchiveRunOptions,
  lines: string[],
  first: { seq: number; id: string; at: string; prevHash: string },
  last: { seq: number; id: string; at: string; hash: string },
): Promise<ArchivedSegment> {
  const file = segmentKey(first.seq, last.seq);
  const manifestKey = manifestKeyOf(file);
  const gz = gzipSync(`${lines.join('\n')}\n`);
  const digest = sha256Bytes(gz);
  const body: Omit<Manifest, 'signature'> = {
    version: 1,
    file,
    entries: lines.length,
    firstSeq: first.seq,
    lastSeq: last.seq,
    firstStreamId: first.id,
    lastStreamId: last.id,
    firstAt: first.at,
    lastAt: last.at,
    sha256: digest,
    bytes: gz.length,
    chain: { before: first.prevHash, after: last.hash },
    checkpoint: options.checkpoint,
    cutoff: options.cutoff.toISOString(),
    createdAt: deps.clock().toISOString(),
    key: deps.signer.fingerprint,
  };
  const manifest: Manifest = { ...body, signature: deps.signer.sign(signedText(body)) };
  const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  const location = await putOrSame(deps.sink, file, gz, (existing) => sha256Bytes(existing) === digest);
  // A manifest left by a run that crashed before recording it describes the same file: keep it.
  await putOrSame(deps.sink, manifestKey, manifestBytes, (existing) => {
    const m = parseManifest(existing);
    return typeof m !== 'string' && m.sha256 === digest && m.firstSeq === first.seq && m.lastSeq === last.seq && m.chain.after === last.hash;
  });
  // Read back before anything counts it as archived.
  const back = await deps.sink.get(file);
  if (!back || sha256Bytes(back) !== digest) {
    throw new ArchiveReadBackError(`${location} did not read back with SHA-256 ${digest}: not recorded as archived`);
  }
  const backManifest = await deps.sink.get(manifestKey);
  const parsed = backManifest ? parseManifest(backManifest) : 'missing';
  if (typeof parsed === 'string' || parsed.sha256 !== digest) {
    throw new ArchiveReadBackError(`${deps.sink.location(manifestKey)} did not read back as the manifest of ${file}: not recorded as archived`);
  }
  const segment: ArchivedSegment = {
    destination: deps.destination,
    file,
    manifest: manifestKey,
    location,
    firstSeq: first.seq,
    lastSeq: last.seq,
    firstId: first.id,
    lastId: last.id,
    entries: lines.length,
    sha256: digest,
    chainBefore: first.prevHash,
    chainAfter: last.hash,
    checkpoint: options.checkpoint.number,
    archivedAt: deps.clock().toISOString(),
    cleanedAt: null,
  };
  await deps.registry.recordSegment(segment);
  return segment;
}

export interface CleanupDeps {
  trail: AuditTrail;
  registry: ArchiveRegistry;
  destinations: ArchiveDestinations;
  /** The keys trusted to have signed manifests. */
  keys: KeyLookup;
  clock: () => Date;
}

/** Why a segment may not leave Redis; null when its archive reads back as written and holds exactly the entries Redis has. */
async function readBackProblem(deps: CleanupDeps, segment: ArchivedSegment, anchor: { seq: number; hash: string }): Promise<{ problem: string } | { entries: StoredAuditEntry[] }> {
  if (segment.firstSeq !== anchor.seq + 1 || segment.chainBefore !== anchor.hash) {
    return { problem: `it starts at seq ${segment.firstSeq} linking to ${segment.chainBefore.slice(0, 12)}…, but the first entry left in Redis follows seq ${anchor.seq} (${anchor.hash.slice(0, 12)}…)` };
  }
  let sink: ArchiveSink;
  try {
    sink = deps.destinations.sink(segment.destination);
  } catch (err) {
    return { problem: (err as Error).message };
  }
  // An archive that cannot be read (a store down) does not qualify: nothing leaves Redis.
  const read = async (key: string): Promise<Uint8Array | null | { problem: string }> => {
    try {
      return await sink.get(key);
    } catch (err) {
      return { problem: `the archive could not be read (${sink.location(key)}): ${(err as Error).name}: ${(err as Error).message}` };
    }
  };
  const bytes = await read(segment.file);
  if (bytes !== null && 'problem' in bytes) {
    return bytes;
  }
  if (!bytes) {
    return { problem: 'the file is not in the archive' };
  }
  const digest = sha256Bytes(bytes);
  if (digest !== segment.sha256) {
    return { problem: `the file reads back with SHA-256 ${digest}, not the ${segment.sha256} written` };
  }
  const manifestBytes = await read(segment.manifest);
  if (manifestBytes !== null && 'problem' in manifestBytes) {
    return manifestBytes;
  }
  const manifest = manifestBytes ? parseManifest(manifestBytes) : 'it is not in the archive';
  if (typeof manifest === 'string') {
    return { problem: `its manifest: ${manifest}` };
  }
  const signature = signatureProblem(manifest, deps.keys);
  if (signature) {
    return { problem: `its manifest: ${signature}` };
  }
  if (manifest.sha256 !== digest || manifest.firstSeq !== segment.firstSeq || manifest.lastSeq !== segment.lastSeq || manifest.chain.after !== segment.chainAfter) {
    return { problem: 'its manifest describes another file' };
  }
  const lines = readSegment(bytes);
  if (typeof lines === 'string') {
    return { problem: lines };
  }
  // The entries in Redis, one by one against the archived lines: only what the archive holds leaves.
  const entries: StoredAuditEntry[] = [];
  let start = segment.firstId;
  while (entries.length < lines.length) {
    const page = await deps.trail.range({ start, end: segment.lastId, count: 1_000 });
    if (page.length === 0) {
      break;
    }
    for (const e of page) {
      const line = lines[entries.length];
      if (!line || line.id !== e.id || line.hash !== e.hash || line.json !== e.json) {
        return { problem: `Redis holds the entry ${e.id} (seq ${e.event?.seq ?? '?'}) otherwise than the archive` };
      }
      entries.push(e);
      start = `(${e.id}`;
    }
  }
  if (entries.length !== lines.length) {
    return { problem: `the archive holds ${lines.length} entries, Redis ${entries.length} of that range` };
  }
  return { entries };
}

/**
 * Removes from Redis the entries of every archived segment whose file reads back with the hash
 * written, whose manifest is signed and matches, and whose lines are exactly the entries Redis
 * holds, in order from the anchor. Each removal is recorded in the trail before it is made.
 * Stops at the first segment that does not qualify: its entries and those after it stay.
 */
export async function cleanupArchived(deps: CleanupDeps, options: { actor: string; requestId?: string; reason?: string; signal?: AbortSignal }): Promise<CleanupResult> {
  let anchor = await deps.trail.anchor();
  const pending = (await deps.registry.segments()).filter((s) => s.cleanedAt === null).sort((a, b) => a.firstSeq - b.firstSeq);
  const result: CleanupResult = { removed: 0, archives: [], anchor, stopped: null, pending: pending.length };
  for (const segment of pending) {
    options.signal?.throwIfAborted();
    if (segment.lastSeq <= anchor.seq) {
      // Removed by a run that stopped before it could say so.
      await deps.registry.markCleaned(segment.file, deps.clock().toISOString());
      result.pending--;
      continue;
    }
    const checked = await readBackProblem(deps, segment, anchor);
    if ('problem' in checked) {
      result.stopped = { archive: segment.location, reason: checked.problem };
      break;
    }
    await recordBeforeChange(deps.trail, {
      actor: options.actor,
      action: 'audit-trail.cleanup',
      target: segment.file,
      details: { destination: segment.destination, location: segment.location, firstSeq: segment.firstSeq, lastSeq: segment.lastSeq, entries: segment.entries, sha256: segment.sha256, ...(options.requestId ? { requestId: options.requestId } : {}), ...(options.reason ? { reason: options.reason } : {}) },
    });
    for (let i = 0; i < checked.entries.length; i += 1_000) {
      await deps.trail.dropArchived(checked.entries.slice(i, i + 1_000));
    }
    await deps.registry.markCleaned(segment.file, deps.clock().toISOString());
    result.removed += checked.entries.length;
    result.archives.push(viewOf(segment));
    result.pending--;
    anchor = { seq: segment.lastSeq, hash: segment.chainAfter };
  }
  result.anchor = await deps.trail.anchor();
  return result;
}
