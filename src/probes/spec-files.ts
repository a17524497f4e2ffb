/**
 * The spec folders on disk, behind the domain's {@link SpecFiles} port: lists
 * `<root>/.kiro/specs/*`, reads a spec's `tasks.md` within a size limit, and tells whether a path a
 * task names exists under the root. Every path is resolved through its real path first: a
 * symbolic link that leads outside the root is reported, never read through.
 */
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { specsFolder, tasksFile, type PathState, type SpecFiles, type SpecListing, type TasksFile } from '../domain/gaps/spec-scan.js';

const codeOf = (err: unknown): string => (err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : 'unknown');
const describe = (err: unknown): string => `${codeOf(err)}${err instanceof Error ? `: ${err.message}` : ''}`;

/** Whether `path` is `root` or below it (both real paths). */
function within(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** The real path of `path` when it stays under `rootReal`; `outside` when a link leads out; `absent` when nothing is there. */
async function realUnder(rootReal: string, path: string): Promise<{ real: string } | 'outside' | 'absent'> {
  try {
    const real = await realpath(path);
    return within(rootReal, real) ? { real } : 'outside';
  } catch (err) {
    if (codeOf(err) === 'ENOENT' || codeOf(err) === 'ENOTDIR') {
      return 'absent';
    }
    throw err;
  }
}

export function createSpecFiles(): SpecFiles {
  return {
    async listSpecs(root: string): Promise<SpecListing> {
      let rootReal: string;
      try {
        rootReal = await realpath(root);
        if (!(await stat(rootReal)).isDirectory()) {
          return { kind: 'problem', problem: 'not_a_directory', detail: `${root} is not a directory` };
        }
      } catch (err) {
        return { kind: 'problem', problem: 'unreadable', detail: `${root} cannot be read (${describe(err)})` };
      }
      try {
        const folder = await realUnder(rootReal, join(rootReal, specsFolder));
        if (folder === 'absent') {
          return { kind: 'problem', problem: 'no_specs_folder', detail: `${root} has no ${specsFolder} folder` };
        }
        if (folder === 'outside') {
          return { kind: 'problem', problem: 'outside_root', detail: `${specsFolder} under ${root} leads outside it: not followed` };
        }
        const entries = await readdir(folder.real, { withFileTypes: true });
        const specs: string[] = [];
        const outside: string[] = [];
        for (const e of entries) {
          if (e.isDirectory()) {
            specs.push(e.name);
          } else if (e.isSymbolicLink()) {
            // A linked spec counts when it leads to a directory under the root.
            const target = await realUnder(rootReal, join(folder.real, e.name)).catch(() => 'absent' as const);
            if (target === 'outside') {
              outside.push(e.name);
            } else if (typeof target === 'object' && (await stat(target.real).catch(() => null))?.isDirectory()) {
              specs.push(e.name);
            }
          }
        }
        return { kind: 'listed', specs: specs.sort(), outside: outside.sort() };
      } catch (err) {
        return { kind: 'problem', problem: 'unreadable', detail: `${join(root, specsFolder)} cannot be read (${describe(err)})` };
      }
    },

    async readTasks(root: string, spec: string, maxBytes: number): Promise<TasksFile> {
      const shown = `${specsFolder}/${spec}/${tasksFile}`;
      try {
        const rootReal = await realpath(root);
        const file = await realUnder(rootReal, join(rootReal, specsFolder, spec, tasksFile));
        if (file === 'absent') {
          return { kind: 'absent' };
        }
        if (file === 'outside') {
          return { kind: 'problem', problem: 'outside_root', detail: `${shown} leads outside the spec directory: not followed` };
        }
        const handle = await open(file.real, 'r');
        try {
          const info = await handle.stat();
          if (!info.isFile()) {
            return { kind: 'problem', problem: 'unreadable', detail: `${shown} is not a file` };
          }
          if (info.size > maxBytes) {
            return { kind: 'problem', problem: 'too_large', detail: `${shown} has ${info.size} bytes, over the limit of ${maxBytes}: skipped` };
          }
          // Read at most the limit, whatever the file grew to since.
          const buffer = Buffer.alloc(maxBytes + 1);
          const { bytesRead } = await handle.read(buffer, 0, maxBytes + 1, 0);
          if (bytesRead > maxBytes) {
            return { kind: 'problem', problem: 'too_large', detail: `${shown} is over the limit of ${maxBytes} bytes: skipped` };
          }
          return { kind: 'read', text: buffer.subarray(0, bytesRead).toString('utf8') };
        } finally {
          await handle.close();
        }
      } catch (err) {
        return { kind: 'problem', problem: 'unreadable', detail: `${shown} cannot be read (${describe(err)})` };
      }
    },

    async exists(root: string, path: string): Promise<PathState> {
      let rootReal: string;
      try {
        rootReal = await realpath(root);
      } catch {
        return 'unreadable';
      }
      const full = resolve(rootReal, path);
      if (!within(rootReal, full)) {
        return 'outside_root';
      }
      try {
        const found = await realUnder(rootReal, full);
        return found === 'absent' ? 'absent' : found === 'outside' ? 'outside_root' : 'present';
      } catch {
        // Not searchable (EACCES, ELOOP): neither there nor missing.
        return 'unreadable';
      }
    },
  };
}
