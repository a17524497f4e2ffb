import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { ApiError } from './errors.js';
import type { AppEnv } from './env.js';
import type { FailedLogins } from './failed-logins.js';

import { isRole, roleCan, roles, rolesWith, type Permission, type Principal, type Role } from '../domain/access.js';

export { roleCan, roles, rolesWith, type Permission, type Principal, type Role } from '../domain/access.js';

interface KeyEntry extends Principal {
  digest: Buffer;
}

/** The configured API keys. Tokens are kept only as SHA-256 digests and compared in constant time. */
export interface Keyring {
  identify(token: string): Principal | null;
  readonly size: number;
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export class ApiKeysError extends Error {
  override readonly name = 'ApiKeysError';
}

/** Parses `name:role:token[,…]`. Throws {@link ApiKeysError} naming the bad entry. */
export function parseApiKeys(spec: string): { name: string; role: Role; token: string }[] {
  const out: { name: string; role: Role; token: string }[] = [];
  for (const [i, raw] of spec.split(',').entries()) {
    const entry = raw.trim();
    if (entry === '') {
      continue;
    }
    const [name, role, ...rest] = entry.split(':');
    const token = rest.join(':');
    if (!name || !role || !token) {
      throw new ApiKeysError(`BSM_API_KEYS entry ${i + 1} must be name:role:token`);
    }
    if (!isRole(role)) {
      throw new ApiKeysError(`BSM_API_KEYS entry ${i + 1} (${name}) has role "${role}": expected one of ${roles.join(', ')}`);
    }
    if (token.length < 16) {
      throw new ApiKeysError(`BSM_API_KEYS entry ${i + 1} (${name}) has a token shorter than 16 characters`);
    }
    out.push({ name, role, token });
  }
  return out;
}

export function createKeyring(keys: { name: string; role: Role; token: string }[]): Keyring {
  const entries: KeyEntry[] = keys.map((k) => ({ name: k.name, role: k.role, digest: digest(k.token) }));
  return {
    size: entries.length,
    identify(token) {
      const d = digest(token);
      let found: KeyEntry | null = null;
      // Compare against every key, so the time taken does not tell which one matched.
      for (const e of entries) {
        if (timingSafeEqual(d, e.digest) && found === null) {
          found = e;
        }
      }
      return found ? { name: found.name, role: found.role } : null;
    },
  };
}

/**
 * With no keys configured the service never runs open: an admin token is generated on
 * first start and kept in `path` (mode 0600), so restarts keep it.
 */
export async function loadOrCreateAdminToken(path: string): Promise<{ token: string; created: boolean }> {
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (token.length >= 16) {
      return { token, created: false };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw err;
    }
  }
  const token = `bsm_${randomBytes(24).toString('base64url')}`;
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'w' });
  await chmod(path, 0o600);
  return { token, created: true };
}

/** Reads a token from `Authorization: Bearer …` or `Authorization: Basic` (any user, token as password). */
export function tokenFrom(header: string | undefined): string | null {
  return credentialsFrom(header)?.token ?? null;
}

function credentialsFrom(header: string | undefined): { scheme: 'bearer' | 'basic'; token: string } | null {
  if (!header) {
    return null;
  }
  const [scheme, value] = header.split(/\s+/, 2);
  if (!scheme || !value) {
    return null;
  }
  if (scheme.toLowerCase() === 'bearer') {
    return { scheme: 'bearer', token: value };
  }
  if (scheme.toLowerCase() === 'basic') {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? { scheme: 'basic', token: decoded.slice(i + 1) } : null;
  }
  return null;
}

/** What a request without a socket (made in-process, as tests do) counts as. */
const noAddress = 'unknown';

/**
 * The address of the peer of the request's socket. A proxy in front makes every client its own
 * address: `X-Forwarded-For` is not read, since any client can send one.
 */
export function clientAddress(c: Context): string {
  const env: unknown = c.env;
  if (typeof env !== 'object' || env === null || !('incoming' in env || 'server' in env)) {
    return noAddress;
  }
  return getConnInfo(c).remote.address ?? noAddress;
}

export interface AuthOptions {
  keyring: Keyring;
  /** Ask browsers for Basic credentials on 401 (Bull Board). */
  basicRealm?: string;
  /** Counts wrong credentials per client address and refuses a client that sent too many. */
  failedLogins: FailedLogins;
  clock: () => Date;
}

/**
 * Identifies the caller; 401 without a valid token. Wrong credentials are counted and logged
 * per client address; a client past the limit gets 429 with `Retry-After` for any credentials,
 * right ones too (else guessing would go on at full speed), until its window ends. A request
 * without credentials is not counted: a browser asks without them first.
 */
export function authenticate(options: AuthOptions): MiddlewareHandler<AppEnv> {
  return async function authenticateMiddleware(c, next) {
    const credentials = credentialsFrom(c.req.header('authorization'));
    let principal: Principal | null = null;
    if (credentials !== null) {
      // Nobody failed lately (the usual case): no address or time to look up on this hot path.
      const lockedMs = options.failedLogins.size === 0 ? 0 : options.failedLogins.lockedFor(clientAddress(c), options.clock().getTime());
      if (lockedMs > 0) {
        const seconds = Math.ceil(lockedMs / 1000);
        throw new ApiError(429, 'too_many_failed_logins', `too many failed logins from this address: try again in ${seconds} s`, { retryAfterSeconds: seconds }, { 'Retry-After': String(seconds) });
      }
      principal = options.keyring.identify(credentials.token);
      if (!principal) {
        options.failedLogins.failed(clientAddress(c), options.clock().getTime(), { ...credentials, method: c.req.method, path: c.req.path });
      }
    }
    if (!principal) {
      const headers: Record<string, string> = options.basicRealm ? { 'WWW-Authenticate': `Basic realm="${options.basicRealm}", charset="UTF-8"` } : {};
      throw new ApiError(401, 'unauthorized', credentials === null ? 'missing credentials: send Authorization: Bearer <token>' : 'invalid token', undefined, headers);
    }
    c.set('principal', principal);
    await next();
  };
}

/**
 * Throws a 403 unless `principal`'s role grants `permission`; `what` names the act in the message
 * when it is more than the permission (`change auto-remediation`).
 */
export function assertPermission(principal: Principal, permission: Permission, what: string = permission): void {
  if (!roleCan(principal.role, permission)) {
    throw new ApiError(403, 'forbidden', `role ${principal.role} may not ${what}; needs ${rolesWith(permission).join(' or ')}`);
  }
}

/**
 * `GET /metrics`: a Prometheus scraper's own bearer token (`BSM_METRICS_TOKEN`, compared in
 * constant time), which opens this route and no other; else an API key as {@link authenticate}
 * checks it (wrong ones counted), whose role must grant read (403 otherwise, 401 without one).
 */
export function scraperOrReader(options: AuthOptions & { scraperToken: string | undefined }): MiddlewareHandler<AppEnv> {
  const scraper = options.scraperToken === undefined ? null : digest(options.scraperToken);
  const asApiKey = authenticate(options);
  return async function scraperOrReaderMiddleware(c, next) {
    const credentials = credentialsFrom(c.req.header('authorization'));
    if (scraper !== null && credentials?.scheme === 'bearer' && timingSafeEqual(digest(credentials.token), scraper)) {
      await next();
      return;
    }
    await asApiKey(c, async () => {
      assertPermission(c.get('principal'), 'read', 'read metrics');
      await next();
    });
  };
}

/** 403 unless the authenticated caller's role grants `permission`. */
export function requirePermission(permission: Permission): MiddlewareHandler<AppEnv> {
  return async function requirePermissionMiddleware(c, next) {
    assertPermission(c.get('principal'), permission);
    await next();
  };
}
