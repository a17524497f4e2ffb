import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { generateSigningKeyPem, parseSigningKey, type AuditSigner } from '../domain/audit-trail/signing.js';
import { UsageError } from './invocation.js';

/**
 * The key that signs audit-trail checkpoints and manifests: `BSM_AUDIT_SIGNING_KEY` when set;
 * otherwise, when `mayUseFile` (the `all` role), the one kept in `path`, generated (mode 0600) on
 * first start and kept across restarts; otherwise none. Never in Redis: whoever can write Redis
 * cannot sign a checkpoint.
 */
export async function loadAuditSigner(options: { fromEnv: string | undefined; path: string; mayUseFile: boolean }): Promise<{ signer: AuditSigner; source: 'env' | 'file' | 'created' } | null> {
  if (options.fromEnv !== undefined) {
    return { signer: parseSigningKey(options.fromEnv), source: 'env' };
  }
  if (!options.mayUseFile) {
    return null;
  }
  let text: string | null = null;
  try {
    text = await readFile(options.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw err;
    }
  }
  if (text !== null) {
    try {
      return { signer: parseSigningKey(text), source: 'file' };
    } catch (err) {
      // A damaged key file is not replaced: checkpoints signed with it must stay verifiable.
      throw new UsageError(`${options.path} does not hold an Ed25519 private key (${(err as Error).message}): restore it, or set BSM_AUDIT_SIGNING_KEY`);
    }
  }
  const pem = generateSigningKeyPem();
  await mkdir(dirname(options.path), { recursive: true });
  await writeFile(options.path, pem, { mode: 0o600, flag: 'wx' });
  await chmod(options.path, 0o600);
  return { signer: parseSigningKey(pem), source: 'created' };
}
