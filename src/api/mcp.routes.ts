import { Hono } from 'hono';
import type { AppEnv } from './env.js';
import { errorBody } from './errors.js';
import { answerOf, handleMcpHttp, type CallApi } from './mcp/server.js';

/** The MCP endpoint's path (Streamable HTTP). */
export const mcpPath = '/mcp';

export interface McpRouteOptions {
  /**
   * The app itself (`app.fetch`): each tool's call goes through it as the same request over HTTP
   * would, with the caller's credentials, so validation, permission, audit and redaction are the
   * route's own.
   */
  fetch: (request: Request, env: unknown) => Response | Promise<Response>;
  /** The largest MCP request body (a batch of executions travels in one). */
  maxBodyBytes: number;
}

/**
 * `/mcp`: the MCP server over Streamable HTTP, stateless (no session: any api process answers any
 * request). Mounted behind the bearer-token authentication of `/admin`; which tools a key may
 * use is what its role may do on the routes they call. A tool's call is recorded in the audit
 * trail by its route, with `clientRequestId` `mcp:<the MCP request's X-Request-Id>`.
 */
export function mcpRoutes(options: McpRouteOptions) {
  const app = new Hono<AppEnv>();

  app.post('/', (c) => {
    const authorization = c.req.header('authorization') ?? '';
    const requestId = c.get('requestId');
    const api: CallApi = async (r) => {
      const url = new URL(r.path, c.req.url);
      for (const [k, v] of Object.entries(r.query ?? {})) {
        url.searchParams.set(k, v);
      }
      const headers = new Headers({ authorization, 'x-request-id': `mcp:${requestId}` });
      if (r.body !== undefined) {
        headers.set('content-type', 'application/json');
      }
      const request = new Request(url, { method: r.method, headers, body: r.body === undefined ? undefined : JSON.stringify(r.body), signal: r.signal });
      return answerOf(await options.fetch(request, c.env));
    };
    return handleMcpHttp(c.req.raw, api, { maxBodyBytes: options.maxBodyBytes });
  });

  // Stateless: no session, so no stream to open with GET and nothing to end with DELETE.
  app.on(['GET', 'DELETE'], '/', (c) =>
    c.json(errorBody('method_not_allowed', `${mcpPath} takes POST (Streamable HTTP without sessions), not ${c.req.method}`, { allowed: ['POST'] }), 405, { Allow: 'POST' }),
  );
  return app;
}
