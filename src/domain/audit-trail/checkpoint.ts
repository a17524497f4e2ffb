import { z } from 'zod';
import { canonicalJson, sha256 } from './canonical.js';
import { recordBeforeChange, type AuditTrail } from './ports.js';
import type { ArchiveRegistry, CheckpointHead } from './registry.js';
import type { AuditSigner, KeyLookup } from './signing.js';
import { ArchiveObjectExistsError, type ArchiveSink } from './sink.js';

const hash = z.string().regex(/^[0-9a-f]{64}$/);

/**
 * A signed checkpoint: the audit trail's head (sequence number and hash) at a time, signed with
 * Ed25519, numbered, and naming the checkpoint before it by its digest, so a missing one shows
 * as a gap in the numbers and a replaced one as a broken link.
 */
export const checkpointSchema = z
  .object({
    version: z.literal(1),
    number: z.number().int().positive(),
    seq: z.number().int().min(0),
    hash,
    at: z.string(),
    /** Digest of checkpoint `number - 1` ({@link checkpointDigest}); null for the first. */
    previous: hash.nullable(),
    /** Fingerprint of the key that signed it. */
    key: hash,
    /** Ed25519 signature of {@link signedText} of the rest, base64. */
    signature: z.string().min(1),
  })
  .strict();
export type Checkpoint = z.infer<typeof checkpointSchema>;
export type CheckpointBody = Omit<Checkpoint, 'signature'>;

/** Where checkpoints live in the archive. */
export const checkpointPrefix = 'checkpoints/';
/** Where the public keys that signed them are published, by fingerprint. */
export const keyPrefix = 'keys/';

export function checkpointKey(number: number): string {
  return `${checkpointPrefix}checkpoint-${String(number).padStart(12, '0')}.json`;
}

/** The number in a checkpoint's key; null for a key that is not one. */
export function checkpointNumberOf(key: string): number | null {
  const m = /^checkpoints\/checkpoint-(\d{12})\.json$/.exec(key);
  return m ? Number(m[1]) : null;
}

/** What is signed: the canonical JSON of everything but the signature. */
export function signedText(body: Record<string, unknown>): string {
  const { signature: _signature, ...rest } = body;
  return canonicalJson(rest);
}

export function signCheckpoint(body: CheckpointBody, signer: AuditSigner): Checkpoint {
  return { ...body, signature: signer.sign(signedText(body)) };
}

/** What the next checkpoint names as `previous`. */
export function checkpointDigest(checkpoint: Checkpoint): string {
  return sha256(canonicalJson(checkpoint));
}

/** The bytes of a checkpoint file. */
export function checkpointBytes(checkpoint: Checkpoint): Uint8Array {
  return Buffer.from(`${canonicalJson(checkpoint)}\n`, 'utf8');
}

/** Parses a checkpoint file; a string saying what is wrong when it is not one. */
export function parseCheckpoint(bytes: Uint8Array): Checkpoint | string {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return 'not JSON';
  }
  const parsed = checkpointSchema.safeParse(raw);
  return parsed.success ? parsed.data : `not a checkpoint (${parsed.error.issues[0]?.path.join('.') || 'its shape'})`;
}

/** Why a signed object (checkpoint, manifest) does not verify; null when it does. */
export function signatureProblem(signed: { key: string; signature: string } & Record<string, unknown>, keys: KeyLookup): string | null {
  const key = keys(signed.key);
  if (!key) {
    return `signed by key ${signed.key.slice(0, 16)}…, which is not a trusted key`;
  }
  return key.verify(signedText(signed), signed.signature) ? null : `its signature does not verify with key ${signed.key.slice(0, 16)}…: it was changed after it was signed`;
}

/** The signing key is not configured in this process. */
export class SigningKeyMissingError extends Error {
  override readonly name = 'SigningKeyMissingError';
}

export interface CheckpointWriterDeps {
  trail: Pick<AuditTrail, 'head' | 'append'>;
  registry: Pick<ArchiveRegistry, 'checkpointHead' | 'setCheckpointHead' | 'publishKey'>;
  /** The primary archive destination. */
  sink: ArchiveSink;
  signer: AuditSigner | null;
  clock: () => Date;
}

export interface CheckpointWrite {
  written: boolean;
  /** Why none was written: the trail is empty, or nothing was appended since the last one. */
  reason: 'written' | 'empty' | 'unchanged';
  head: CheckpointHead | null;
}

/** The newest checkpoint in the archive (by its key), read back: how a writer without a cached head finds where to go on. */
async function newestInArchive(sink: ArchiveSink): Promise<CheckpointHead | null> {
  const numbers = (await sink.list(checkpointPrefix)).map(checkpointNumberOf).filter((n): n is number => n !== null);
  if (numbers.length === 0) {
    return null;
  }
  const newest = Math.max(...numbers);
  const bytes = await sink.get(checkpointKey(newest));
  const parsed = bytes ? parseCheckpoint(bytes) : 'missing';
  if (typeof parsed === 'string') {
    throw new Error(`the newest checkpoint in the archive (${sink.location(checkpointKey(newest))}) cannot be read: ${parsed}`);
  }
  return { number: parsed.number, seq: parsed.seq, hash: parsed.hash, at: parsed.at, digest: checkpointDigest(parsed), location: sink.location(checkpointKey(newest)) };
}

/**
 * Signs the trail's head into the next checkpoint and writes it to the archive. With `announce`,
 * the checkpoint is first recorded in the trail itself (`audit-trail.checkpoint`), so it covers
 * its own entry. Nothing is written for an empty trail, nor (unless `force`) when the head is the
 * one the last checkpoint signed. The caller holds the archive lock.
 */
export async function writeCheckpoint(deps: CheckpointWriterDeps, options: { actor: string; announce: boolean; force?: boolean }): Promise<CheckpointWrite> {
  const signer = deps.signer;
  if (!signer) {
    throw new SigningKeyMissingError('no audit signing key in this process: set BSM_AUDIT_SIGNING_KEY (an Ed25519 private key, PEM or base64 PKCS#8) on the workers that run the compliance queue');
  }
  let last = (await deps.registry.checkpointHead()) ?? (await newestInArchive(deps.sink));
  let head = await deps.trail.head();
  if (head.seq === 0) {
    return { written: false, reason: 'empty', head: last };
  }
  if (!options.force && last && last.seq === head.seq && last.hash === head.hash) {
    return { written: false, reason: 'unchanged', head: last };
  }
  await deps.registry.publishKey(signer.fingerprint, signer.pem);
  await putKey(deps.sink, signer);
  // The cached count can be behind the archive (a write whose cache update was lost): then go on from the archive's newest.
  if (await deps.sink.get(checkpointKey((last?.number ?? 0) + 1))) {
    last = await newestInArchive(deps.sink);
  }
  const number = (last?.number ?? 0) + 1;
  if (options.announce) {
    await recordBeforeChange(deps.trail, { actor: options.actor, action: 'audit-trail.checkpoint', target: checkpointKey(number), details: { number, destination: deps.sink.url } });
    head = await deps.trail.head();
  }
  const checkpoint = signCheckpoint({ version: 1, number, seq: head.seq, hash: head.hash, at: deps.clock().toISOString(), previous: last?.digest ?? null, key: signer.fingerprint }, signer);
  // Never replaces a checkpoint: a name taken meanwhile is an ArchiveObjectExistsError, and nothing is cached.
  const location = await deps.sink.put(checkpointKey(number), checkpointBytes(checkpoint));
  const written: CheckpointHead = { number, seq: checkpoint.seq, hash: checkpoint.hash, at: checkpoint.at, digest: checkpointDigest(checkpoint), location };
  await deps.registry.setCheckpointHead(written);
  return { written: true, reason: 'written', head: written };
}

/** Publishes the public key beside the checkpoints it signs (once per key). */
async function putKey(sink: ArchiveSink, signer: AuditSigner): Promise<void> {
  try {
    await sink.put(`${keyPrefix}${signer.fingerprint}.pem`, Buffer.from(signer.pem, 'utf8'));
  } catch (err) {
    if (!(err instanceof ArchiveObjectExistsError)) {
      throw err;
    }
  }
}
