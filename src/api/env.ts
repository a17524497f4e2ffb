import type { Principal } from './auth.js';

/** Hono environment of the app: what middleware put on the context. */
export interface AppEnv {
  Variables: {
    principal: Principal;
    requestId: string;
  };
}
