import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readdir, readFile, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ArchiveDestinationError, ArchiveObjectExistsError, type ArchiveDestinations, type ArchiveSink } from '../domain/audit-trail/sink.js';

/** A key the sink takes: relative, `/`-separated, nothing that climbs out of the directory. */
function pathOf(directory: string, key: string): string {
  if (key === '' || isAbsolute(key) || key.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw new ArchiveDestinationError(`archive key ${JSON.stringify(key)} is not a relative path`);
  }
  return join(directory, key);
}

async function syncDirectory(path: string): Promise<void> {
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/**
 * A directory on disk. An object is written to a temporary file, fsync'ed, then linked to its
 * name (which fails when the name is taken: nothing is ever replaced) and the directory fsync'ed:
 * once `put` resolves the object survives a crash, and a crash before leaves no partial object.
 */
export function createFileArchiveSink(directory: string): ArchiveSink {
  const root = resolve(directory);
  return {
    url: `file://${root}`,
    // A folder (`checkpoints/`) has a location too.
    location: (key) => `file://${pathOf(root, key.replace(/\/$/, ''))}${key.endsWith('/') ? '/' : ''}`,
    async put(key, body) {
      const path = pathOf(root, key);
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      const file = await open(tmp, 'wx', 0o640);
      try {
        await file.writeFile(body);
        await file.sync();
      } finally {
        await file.close();
      }
      try {
        await link(tmp, path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new ArchiveObjectExistsError(`file://${path} already exists`);
        }
        throw err;
      } finally {
        await unlink(tmp);
      }
      await syncDirectory(dirname(path));
      return `file://${path}`;
    },
    async get(key) {
      try {
        return await readFile(pathOf(root, key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return null;
        }
        throw err;
      }
    },
    async list(prefix) {
      const slash = prefix.lastIndexOf('/');
      const folder = slash < 0 ? '' : prefix.slice(0, slash + 1);
      let names: string[];
      try {
        names = await readdir(folder === '' ? root : pathOf(root, folder.slice(0, -1)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          return [];
        }
        throw err;
      }
      return names
        .filter((n) => !n.endsWith('.tmp'))
        .map((n) => `${folder}${n}`)
        .filter((k) => k.startsWith(prefix));
    },
  };
}

/** The sink for a `file://<path>` destination (relative paths from the working directory); `runtime/archive.ts` adds `s3://`. */
export function archiveSinkFor(url: string): ArchiveSink {
  if (url.startsWith('file://')) {
    const raw = url.slice('file://'.length);
    return createFileArchiveSink(isAbsolute(raw) ? raw : resolve(process.cwd(), raw));
  }
  throw new ArchiveDestinationError(`archive destination ${url} is not a file:// URL`);
}

/** The configured destinations, by name, the first one primary; each sink made once, on first use. */
export function archiveDestinations(entries: readonly { name: string; url: string }[], sinkFor: (url: string) => ArchiveSink = archiveSinkFor): ArchiveDestinations {
  const sinks = new Map<string, ArchiveSink>();
  const urls = new Map(entries.map((e) => [e.name, e.url]));
  return {
    names: entries.map((e) => e.name),
    url: (name) => urls.get(name),
    sink(name) {
      const url = urls.get(name);
      if (url === undefined) {
        throw new ArchiveDestinationError(`unknown archive destination "${name}": configured are ${[...urls.keys()].join(', ')}`);
      }
      let sink = sinks.get(name);
      if (!sink) {
        sink = sinkFor(url);
        sinks.set(name, sink);
      }
      return sink;
    },
  };
}
