import { mkdir, open } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { ArchiveSink } from '../domain/audit-trail/archive.js';

/** Thrown when the archive destination cannot be used. */
export class ArchiveConfigError extends Error {
  override readonly name = 'ArchiveConfigError';
}

/** A directory on disk; files are written and fsync'ed before the entries leave Redis. */
export function createFileArchiveSink(directory: string): ArchiveSink {
  return {
    async write(name, lines) {
      await mkdir(directory, { recursive: true });
      const path = join(directory, name);
      const file = await open(path, 'a');
      try {
        await file.writeFile(lines.join('\n') + '\n');
        await file.sync();
      } finally {
        await file.close();
      }
      return `file://${path}`;
    },
  };
}

/** The sink for `BSM_ARCHIVE_URL`. `s3://` destinations arrive with the compliance capability. */
export function archiveSinkFor(url: string): ArchiveSink {
  if (url.startsWith('file://')) {
    const raw = url.slice('file://'.length);
    return createFileArchiveSink(isAbsolute(raw) ? raw : resolve(process.cwd(), raw));
  }
  throw new ArchiveConfigError(`archive destination ${url} is not supported yet: use a file:// URL`);
}
