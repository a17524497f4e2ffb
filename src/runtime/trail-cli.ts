import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { verifyArchive, type ArchiveProblem, type ArchiveVerification } from '../domain/audit-trail/archive-verify.js';
import { parsePublicKey, type AuditPublicKey } from '../domain/audit-trail/signing.js';
import type { ArchiveSink } from '../domain/audit-trail/sink.js';
import { lazyS3ArchiveSink } from './archive.js';
import { createFileArchiveSink } from '../store/archive-sink.js';
import { UsageError, type TrailVerifyInvocation } from './invocation.js';

function describe(p: ArchiveProblem): string {
  const at = [p.seq === null ? null : `seq ${p.seq}`, p.streamId === null ? null : `stream id ${p.streamId}`, p.checkpoint === null ? null : `checkpoint #${p.checkpoint}`].filter(Boolean).join(', ');
  return `${p.where}${at ? ` (${at})` : ''}: ${p.code}: ${p.detail}`;
}

/** The summary `bsm trail verify` prints, one line per part, then OK or FAIL with the first problems. */
export function summary(v: ArchiveVerification): string {
  const lines = [`archive ${v.url}`];
  lines.push(
    v.segments === 0
      ? '  segments     none'
      : `  segments     ${v.segments}, ${v.entries} entries, seq ${v.firstSeq ?? '-'}-${v.lastSeq ?? '-'}; each file against its signed manifest (SHA-256, entries, ends of the chain)`,
  );
  lines.push(`  chain        ${v.entries === 0 ? 'no entries' : `from genesis to seq ${v.lastSeq ?? '-'}, last hash ${v.lastHash ?? '-'}`}`);
  lines.push(
    `  checkpoints  ${v.checkpoints}${v.newestCheckpoint ? ` (newest #${v.newestCheckpoint.number}, seq ${v.newestCheckpoint.seq}, ${v.newestCheckpoint.at})` : ''}; ${v.checkpointsCompared} compared with the archived entry they sign, ${v.checkpointsBeyond} sign entries not archived yet (still in Redis)`,
  );
  lines.push(`  keys         ${v.keys.join(', ') || 'none'}${v.keysPinned ? ' (given with --public-key)' : " (read from the archive's keys/: pin them with --public-key)"}`);
  if (v.ok) {
    lines.push('OK: the archive verifies');
  } else {
    const first = v.problems[0];
    lines.push(`FAIL: ${v.problemCount} problem(s); the first: ${first ? describe(first) : '?'}`);
    for (const p of v.problems.slice(1, 10)) {
      lines.push(`  then ${describe(p)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** `bsm trail verify`: 0 when the archive verifies, 1 naming the first problem. */
export async function runTrailVerify(invocation: TrailVerifyInvocation, out: (text: string) => void): Promise<number> {
  const sink = await sinkOf(invocation.archive);
  const keys: AuditPublicKey[] = [];
  for (const file of invocation.publicKeys) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--public-key ${file} cannot be read: ${(err as Error).message}`);
    }
    try {
      keys.push(parsePublicKey(text));
    } catch (err) {
      throw new UsageError(`--public-key ${file}: ${(err as Error).message}`);
    }
  }
  try {
    const result = await verifyArchive(sink, { publicKeys: keys });
    out(summary(result));
    return result.ok ? 0 : 1;
  } finally {
    sink.close?.();
  }
}

/**
 * The archive to verify: a directory (or `file://` URL), or `s3://bucket/prefix` read through the
 * standard AWS configuration (`AWS_REGION`, the credential chain, `AWS_ENDPOINT_URL_S3`;
 * `BSM_ARCHIVE_S3_FORCE_PATH_STYLE=true` for path-style requests).
 */
async function sinkOf(archive: string): Promise<ArchiveSink & { close?: () => void }> {
  if (archive.startsWith('s3://')) {
    try {
      // The region the service defaults to (AWS_REGION's setting), so the offline check signs as the archiving process did.
      const region = process.env.AWS_REGION?.trim() || 'eu-central-1';
      return lazyS3ArchiveSink(archive, { forcePathStyle: /^(true|1|yes)$/i.test(process.env.BSM_ARCHIVE_S3_FORCE_PATH_STYLE?.trim() ?? ''), region });
    } catch (err) {
      throw new UsageError(`--archive ${archive}: ${(err as Error).message}`);
    }
  }
  const raw = archive.startsWith('file://') ? archive.slice('file://'.length) : archive;
  const dir = isAbsolute(raw) ? raw : resolve(process.cwd(), raw);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) {
    throw new UsageError(`--archive ${archive} is not a directory (nor an s3:// URL)`);
  }
  return createFileArchiveSink(dir);
}
