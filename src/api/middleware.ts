import { randomUUID } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { Redactor } from '../domain/compliance/pii.js';
import type { AuditEventInput } from '../domain/audit-trail/chain.js';
import type { Logger } from '../observability/logger.js';
import type { AppEnv } from './env.js';
import { ApiError } from './errors.js';

/**
 * The methods that change state and may carry a body. The middleware only they need (body limit,
 * request id, cross-site check, audit) is mounted for these alone, so a read pays nothing for it.
 */
export const mutatingMethods = ['POST', 'PUT', 'PATCH', 'DELETE'];
const unsafe = new Set(mutatingMethods);

export interface CsrfOptions {
  /**
   * The address browsers reach the service at (`BSM_PUBLIC_URL`). Behind an HTTPS proxy the
   * request's own origin is the inside one (`http://` and the proxy's Host), never the browser's.
   */
  publicUrl?: string;
}

/**
 * Refuses state-changing requests a browser sends on behalf of another site (Basic
 * credentials travel with them). Bearer-token clients send no Origin and pass. An Origin is
 * accepted when it is the request's own or that of `publicUrl`.
 */
export function csrfGuard(options: CsrfOptions = {}): MiddlewareHandler<AppEnv> {
  const publicOrigin = options.publicUrl === undefined ? undefined : new URL(options.publicUrl).origin;
  return async function csrfGuardMiddleware(c, next) {
    if (unsafe.has(c.req.method)) {
      const site = c.req.header('sec-fetch-site');
      const origin = c.req.header('origin');
      const known = !origin || origin === publicOrigin || origin === new URL(c.req.url).origin;
      if ((site && site !== 'same-origin' && site !== 'none') || !known) {
        throw new ApiError(403, 'forbidden', 'cross-site request refused');
      }
    }
    await next();
  };
}

/** A client's request id is kept only when it is 1-128 of these characters: nothing to break a log line or a header. */
const wellFormedRequestId = /^[A-Za-z0-9._:-]{1,128}$/;

export interface RequestIdOptions {
  /** A new id for every request; unique (the audit trail tells requests apart by it). */
  generate?: () => string;
}

/**
 * Gives every request an id of the server's own (`requestId`), answered in `X-Request-Id` and
 * recorded in the audit trail, so a client cannot choose, reuse or forge the id of an entry. An
 * `X-Request-Id` the client sent is kept beside it (`clientRequestId`) when it is well formed,
 * so its own tracing still finds the entry; anything else it sent is dropped.
 */
export function requestIds(options: RequestIdOptions = {}): MiddlewareHandler<AppEnv> {
  const generate = options.generate ?? randomUUID;
  return async function requestIdsMiddleware(c, next) {
    const id = generate();
    c.set('requestId', id);
    const given = c.req.header('x-request-id');
    if (given !== undefined && wellFormedRequestId.test(given)) {
      c.set('clientRequestId', given);
    }
    c.header('X-Request-Id', id);
    await next();
  };
}

export interface FreshFleetOptions {
  /** Drops what the fleet read model keeps (`FleetReader.invalidate`). */
  invalidate: () => void;
}

/**
 * After a request that may have changed the fleet (a transition, a canary, a job retried on the
 * board), the next read of it goes to Redis: the change shows at once rather than after the
 * snapshot's reuse window. Mount it on mutating methods only.
 */
export function freshFleetAfterMutations(options: FreshFleetOptions): MiddlewareHandler<AppEnv> {
  return async function freshFleetAfterMutationsMiddleware(_c, next) {
    try {
      await next();
    } finally {
      options.invalidate();
    }
  };
}

export interface AuditOptions {
  append: (event: AuditEventInput) => Promise<unknown>;
  logger: Logger;
}

/**
 * Appends every authenticated state-changing request that was not refused (4xx) to the
 * audit trail, body redacted of PII, with the server's request id and the client's (when it
 * sent a well-formed one). Refused requests change nothing and are not written;
 * a 5xx may have changed something (a canary enqueued before a timeout), so it is recorded.
 */
export function auditMutations(options: AuditOptions): MiddlewareHandler<AppEnv> {
  return async function auditMutationsMiddleware(c, next) {
    await next();
    if (!unsafe.has(c.req.method) || (c.res.status >= 400 && c.res.status < 500)) {
      return;
    }
    let body: unknown;
    const bulk = c.get('bulkBody');
    if (!bulk && (c.req.header('content-type') ?? '').includes('json')) {
      body = await c.req.json<unknown>().catch(() => undefined);
    }
    const clientRequestId = c.get('clientRequestId');
    await options
      .append({
        actor: c.get('principal').name,
        action: 'http.request',
        target: `${c.req.method} ${c.req.path}`,
        details: {
          status: c.res.status,
          requestId: c.get('requestId'),
          ...(clientRequestId === undefined ? {} : { clientRequestId }),
          role: c.get('principal').role,
          body: bulk ?? (body === undefined ? null : new Redactor().redactDeep(body)),
        },
      })
      .catch((err: unknown) => {
        // The request already happened: say so in the log rather than turn its answer into an error.
        options.logger.error({ err: (err as Error).message, path: c.req.path }, 'could not append the request to the audit trail');
      });
  };
}

export interface CsrfHeaderOptions {
  /** The header a Basic-authenticated change must carry (the dashboard sends it). */
  header: string;
  /** Paths left alone: Bull Board's own UI cannot add a header (its changes keep the Origin check). */
  exempt: (path: string) => boolean;
}

/**
 * A state-changing request with Basic credentials (which a browser sends on its own, like a
 * cookie) must carry a custom header: a cross-site form cannot set one, and a cross-site script
 * that tries needs a CORS preflight this service never answers. Bearer tokens are never sent
 * by a browser on its own and pass. Mounted after {@link csrfGuard}, on mutating methods only.
 */
export function basicNeedsCsrfHeader(options: CsrfHeaderOptions): MiddlewareHandler<AppEnv> {
  return async function basicNeedsCsrfHeaderMiddleware(c, next) {
    const auth = c.req.header('authorization') ?? '';
    if (/^basic\s/i.test(auth) && !options.exempt(c.req.path) && !c.req.header(options.header)) {
      throw new ApiError(403, 'forbidden', `a change sent with Basic credentials must carry the ${options.header} header (the dashboard sends it); scripts should send Authorization: Bearer <token>`);
    }
    await next();
  };
}
