import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** A signing key that cannot be used: not PEM or base64 PKCS#8, or not Ed25519. */
export class SigningKeyError extends Error {
  override readonly name = 'SigningKeyError';
}

/** An Ed25519 public key that checks the audit trail's checkpoints and archive manifests. */
export interface AuditPublicKey {
  algorithm: 'Ed25519';
  /** SubjectPublicKeyInfo, PEM. */
  pem: string;
  /** SHA-256 of the DER SubjectPublicKeyInfo, hex: how checkpoints name the key that signed them. */
  fingerprint: string;
  /** Whether `signature` (base64) is this key's signature of `data`. */
  verify(data: string, signature: string): boolean;
}

/** The private half: signs checkpoints and manifests. Lives outside Redis (setting or key file). */
export interface AuditSigner extends AuditPublicKey {
  /** The Ed25519 signature of `data` (UTF-8), base64. */
  sign(data: string): string;
}

function publicOf(key: KeyObject): AuditPublicKey {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new SigningKeyError(`the key is ${key.asymmetricKeyType ?? 'not asymmetric'}, not Ed25519`);
  }
  const der = key.export({ format: 'der', type: 'spki' });
  return {
    algorithm: 'Ed25519',
    pem: key.export({ format: 'pem', type: 'spki' }).toString(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    verify: (data, signature) => {
      try {
        return verify(null, Buffer.from(data, 'utf8'), key, Buffer.from(signature, 'base64'));
      } catch {
        return false;
      }
    },
  };
}

/**
 * The signer of an Ed25519 private key given as PEM (`-----BEGIN PRIVATE KEY-----`) or as the
 * base64 of its PKCS#8 DER (one line, for an environment variable).
 */
export function parseSigningKey(text: string): AuditSigner {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    key = trimmed.startsWith('-----BEGIN')
      ? createPrivateKey({ key: trimmed, format: 'pem' })
      : createPrivateKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'pkcs8' });
  } catch (err) {
    throw new SigningKeyError(`not a PEM or base64 PKCS#8 private key (${(err as Error).message})`);
  }
  const pub = publicOf(createPublicKey(key));
  return { ...pub, sign: (data) => sign(null, Buffer.from(data, 'utf8'), key).toString('base64') };
}

/** A public key from its PEM (SubjectPublicKeyInfo). */
export function parsePublicKey(pem: string): AuditPublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem.trim(), format: 'pem' });
  } catch (err) {
    throw new SigningKeyError(`not a PEM public key (${(err as Error).message})`);
  }
  return publicOf(key);
}

/** A new Ed25519 private key, PKCS#8 PEM. */
export function generateSigningKeyPem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** Looks a key up by fingerprint among those trusted. */
export type KeyLookup = (fingerprint: string) => AuditPublicKey | undefined;

export function keyLookup(keys: readonly AuditPublicKey[]): KeyLookup {
  const byPrint = new Map(keys.map((k) => [k.fingerprint, k]));
  return (fingerprint) => byPrint.get(fingerprint);
}
