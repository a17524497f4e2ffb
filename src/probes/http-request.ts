/**
 * One HTTP request over a fresh connection (no keep-alive pool), as the `http` probe and the
 * `http.hook` calls make it: header values given as `{ env: NAME }` read from the environment, a
 * CA file trusted besides the system's roots, the body read up to a bound. Nothing here writes a
 * header value anywhere.
 */
import { request as httpRequest, type OutgoingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { SecretValue } from '../domain/audit/inventory.js';
import { describeError, errorCode, onAbort, resolveSecret, unsetVariable } from './findings.js';

/** Where a request's secrets and CA file are read. */
export interface HttpRequestDeps {
  /** Where `{ env: NAME }` header values are read. */
  env: NodeJS.ProcessEnv;
  /** Reads a CA file (PEM). */
  readFile: (path: string) => Promise<string | Buffer>;
}

/** Most of a body kept (for its JSON checks, or an excerpt); the rest is read and dropped. */
export const maxBodyBytes = 1024 * 1024;

/** What came back. */
export interface HttpAnswer {
  status: number;
  /** At most {@link maxBodyBytes}. */
  body: Buffer;
  /** True when the body was longer than what `body` holds. */
  truncated: boolean;
}

/** Headers and CA ready to send, or why the request cannot be made as declared (an unset variable, an unreadable CA file). */
export type PreparedRequest = { headers: Record<string, string>; ca: string[] | undefined } | { problems: string[] };

/** Reads the header values (secrets from the environment) and the CA file a request declares. */
export async function prepareRequest(declared: { headers?: Record<string, SecretValue> | undefined; caFile?: string | undefined }, deps: HttpRequestDeps): Promise<PreparedRequest> {
  const headers: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(declared.headers ?? {})) {
    const resolved = resolveSecret(value, deps.env);
    if ('missing' in resolved) {
      problems.push(`${unsetVariable(resolved.missing)} (header ${name})`);
    } else {
      headers[name] = resolved.value;
    }
  }
  let ca: string[] | undefined;
  if (declared.caFile !== undefined) {
    try {
      // `ca` replaces the system's roots: keep them, and trust the file's CA besides.
      ca = [...rootCertificates, String(await deps.readFile(declared.caFile))];
    } catch (err) {
      problems.push(`CA file ${declared.caFile} cannot be read (${errorCode(err) ?? describeError(err)})`);
    }
  }
  return problems.length > 0 ? { problems } : { headers, ca };
}

/**
 * Sends one request and reads its answer; rejects on a network error, or with the signal's
 * reason as soon as `signal` aborts (whether the answer had begun or not).
 */
export function sendRequest(url: URL, options: { method: string; headers: OutgoingHttpHeaders; ca: string[] | undefined; signal: AbortSignal; body?: string }): Promise<HttpAnswer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const { body, signal, ...rest } = options;
  const headers = body === undefined ? rest.headers : { ...rest.headers, 'content-length': Buffer.byteLength(body) };
  return new Promise<HttpAnswer>((resolve, reject) => {
    let stop: () => void = () => undefined;
    const fail = (err: unknown) => {
      stop();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const req = request(url, { ...rest, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (kept + chunk.length <= maxBodyBytes) {
          chunks.push(chunk);
          kept += chunk.length;
        } else {
          truncated = true;
        }
      });
      res.once('end', () => {
        stop();
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), truncated });
      });
      res.once('error', fail);
    });
    stop = onAbort(signal, () => {
      req.destroy();
      fail(signal.reason);
    });
    req.once('error', fail);
    req.end(body);
  });
}
