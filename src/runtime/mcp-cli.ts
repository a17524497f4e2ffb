/**
 * `bsm mcp`: the MCP tools over standard input and output, for an agent on this machine, as a
 * proxy to a running service. Every tool call is an HTTP request to the service with the key
 * given, so the service checks, records and answers it as it does any request. Standard output
 * is the protocol: nothing else is written there.
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { answerOf, serveMcpStdio, type CallApi } from '../api/mcp/server.js';
import type { Config } from '../config.js';
import { createLogger } from '../observability/logger.js';
import { UsageError } from './invocation.js';

/** Where the service is and the key to send: `BSM_URL` and `BSM_TOKEN`, else this machine's service and its admin token file. */
export async function mcpTarget(config: Pick<Config, 'BSM_URL' | 'BSM_TOKEN' | 'BSM_DATA_DIR' | 'PORT'>): Promise<{ url: string; token: string }> {
  const url = (config.BSM_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/+$/, '');
  if (config.BSM_TOKEN !== undefined) {
    return { url, token: config.BSM_TOKEN };
  }
  const file = join(config.BSM_DATA_DIR, 'admin-token');
  try {
    const token = (await readFile(file, 'utf8')).trim();
    if (token.length >= 16) {
      return { url, token };
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new UsageError(`cannot read the admin token ${file}: ${(err as Error).message}`, { cause: err });
    }
  }
  throw new UsageError(`bsm mcp needs a key: set BSM_TOKEN (an API key of BSM_API_KEYS), or run it where the service keeps its generated admin token (${file})`);
}

/** Calls the service over HTTP with `token`; a service that cannot be reached is an error naming it. */
export function httpApi(url: string, token: string): CallApi {
  return async (r) => {
    const target = new URL(`${url}${r.path}`);
    for (const [k, v] of Object.entries(r.query ?? {})) {
      target.searchParams.set(k, v);
    }
    const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'x-request-id': `mcp:${randomUUID()}` };
    if (r.body !== undefined) {
      headers['content-type'] = 'application/json';
    }
    let response: Response;
    try {
      response = await fetch(target, { method: r.method, headers, body: r.body === undefined ? undefined : JSON.stringify(r.body), signal: r.signal });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new Error(`cannot reach the service at ${url} (BSM_URL): ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
    }
    return answerOf(response);
  };
}

/** Serves until standard input ends. */
export async function runMcpStdio(config: Config): Promise<void> {
  const { url, token } = await mcpTarget(config);
  // Logs to standard error: standard output carries the protocol.
  const logger = createLogger(config.LOG_LEVEL, { role: 'mcp' }, process.stderr);
  logger.info({ url, token: config.BSM_TOKEN === undefined ? 'admin-token file' : 'BSM_TOKEN' }, 'serving the MCP tools over stdio');
  await serveMcpStdio(httpApi(url, token));
  logger.info('standard input ended: bsm mcp stops');
}
