import type { Principal } from '../domain/access.js';

/** Hono environment of the app: what middleware put on the context. */
export interface AppEnv {
  Variables: {
    principal: Principal;
    /** The server's id of the request (mutating requests): unique, answered in `X-Request-Id`. */
    requestId: string;
    /** The `X-Request-Id` the client sent, when it was well formed; unset otherwise. */
    clientRequestId?: string;
    /** Set by a bulk route: the audit trail keeps the body's size and SHA-256 instead of the body. */
    bulkBody?: { bytes: number; sha256: string };
    /** Set by a route whose body names a person (erasure): the audit trail keeps this instead of the body. */
    auditBody?: Record<string, unknown>;
  };
}
