import type { Principal } from '../domain/access.js';

/** Hono environment of the app: what middleware put on the context. */
export interface AppEnv {
  Variables: {
    principal: Principal;
    requestId: string;
  };
}
