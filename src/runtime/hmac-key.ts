import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * The secret keying the HMAC of user ids: `BSM_HMAC_KEY` when set, else the one kept in `path`,
 * generated (mode 0600) on first start and kept across restarts. Never in Redis: whoever reads
 * Redis cannot recompute a user's HMAC from the id.
 */
export async function loadOrCreateHmacKey(path: string, fromEnv: string | undefined): Promise<{ key: string; source: 'env' | 'file' | 'created' }> {
  if (fromEnv !== undefined) {
    return { key: fromEnv, source: 'env' };
  }
  try {
    const key = (await readFile(path, 'utf8')).trim();
    if (key.length >= 32) {
      return { key, source: 'file' };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw err;
    }
  }
  const key = randomBytes(32).toString('base64url');
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${key}\n`, { mode: 0o600, flag: 'w' });
  await chmod(path, 0o600);
  return { key, source: 'created' };
}
