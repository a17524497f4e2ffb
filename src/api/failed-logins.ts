import { createHmac, randomBytes } from 'node:crypto';
import type { Logger } from '../observability/logger.js';

export interface FailedLoginLimits {
  /** Failed logins one client address may make in a window; past that its credentials are refused (429) until the window ends. */
  maxFailures: number;
  /** The window, from a client's first failed login. */
  windowMs: number;
  /** Log lines about one client's failed logins per window; the others are counted, and the count logged when the window is over. */
  logLines: number;
  /** Client addresses tracked at once: memory stays bounded under a flood from many addresses (the oldest window is forgotten first). */
  maxClients: number;
}

/** What a failed login is logged with: never the token itself. */
export interface FailedLogin {
  /** How the credentials came: a bearer token, or Basic (the token as password). */
  scheme: 'bearer' | 'basic';
  /** The token that did not match: only its {@link tokenFingerprint} is logged. */
  token: string;
  method: string;
  path: string;
}

interface ClientWindow {
  endsAt: number;
  failures: number;
  logged: number;
  /** Failed logins past the log budget. */
  unlogged: number;
  /** Attempts answered 429 while the client was locked out. */
  refused: number;
}

// Per process: a fingerprint tells one token from another in this process's log, and cannot be
// checked against a guess of a real token without the key, which is never written anywhere.
const fingerprintKey = randomBytes(32);

/** 12 hex characters of a keyed hash of `token`: the same wrong token shows as the same fingerprint. */
export function tokenFingerprint(token: string): string {
  return createHmac('sha256', fingerprintKey).update(token, 'utf8').digest('hex').slice(0, 12);
}

/**
 * Counts failed logins per client address in fixed windows, says when a client is locked out,
 * and logs the failures within a budget of lines per client and window. Successful logins are
 * not counted and do not clear a client's failures (a valid low-privilege key must not buy more
 * guesses at another).
 */
export class FailedLogins {
  // Insertion order is window order: every window has the same length and a new one is
  // (re)inserted at the end, so the windows that are over are always at the front.
  readonly #clients = new Map<string, ClientWindow>();

  constructor(
    private readonly limits: FailedLoginLimits,
    private readonly logger: Logger,
  ) {}

  /** Clients tracked now. */
  get size(): number {
    return this.#clients.size;
  }

  /**
   * Milliseconds until `client` may send credentials again; 0 when it may now. An attempt made
   * while it is locked out is counted for the log. One map lookup: this runs on every
   * authenticated request.
   */
  lockedFor(client: string, now: number): number {
    const w = this.#clients.get(client);
    if (w === undefined || w.failures < this.limits.maxFailures || w.endsAt <= now) {
      return 0;
    }
    w.refused++;
    return w.endsAt - now;
  }

  /** Records a failed login from `client`, and logs it while the client's budget of lines lasts. */
  failed(client: string, now: number, attempt: FailedLogin): void {
    this.#forgetEnded(now);
    let w = this.#clients.get(client);
    if (w === undefined) {
      while (this.#clients.size >= this.limits.maxClients) {
        const [oldest, window] = this.#clients.entries().next().value as [string, ClientWindow];
        this.#close(oldest, window);
      }
      w = { endsAt: now + this.limits.windowMs, failures: 0, logged: 0, unlogged: 0, refused: 0 };
      this.#clients.set(client, w);
    }
    w.failures++;
    if (w.logged < this.limits.logLines) {
      w.logged++;
      this.logger.warn(
        { client, scheme: attempt.scheme, token: tokenFingerprint(attempt.token), method: attempt.method, path: attempt.path, failures: w.failures },
        'failed login: the credentials match no API key',
      );
    } else {
      w.unlogged++;
    }
    if (w.failures === this.limits.maxFailures) {
      this.logger.warn(
        { client, failures: w.failures, retryAfterSeconds: Math.ceil((w.endsAt - now) / 1000) },
        'too many failed logins: this client address is refused (429) until its window ends',
      );
    }
  }

  /** Drops the windows that are over, logging what each did not log line by line. */
  #forgetEnded(now: number): void {
    for (const [client, w] of this.#clients) {
      if (w.endsAt > now) {
        return;
      }
      this.#close(client, w);
    }
  }

  #close(client: string, w: ClientWindow): void {
    this.#clients.delete(client);
    if (w.unlogged > 0 || w.refused > 0) {
      this.logger.warn({ client, failures: w.failures, unlogged: w.unlogged, refused: w.refused }, 'failed logins of a client, counted but not logged one by one');
    }
  }
}
