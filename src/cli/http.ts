import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The service answered with an error status: its `error.message` is what the operator reads. Exit 1. */
export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Nothing answered at the URL (refused, unknown host, timed out). Exit 3. */
export class UnreachableError extends Error {
  override readonly name = 'UnreachableError';
}

/** A wrong invocation found after parsing (a missing option that depends on another, a bad URL). Exit 2. */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/** A command's own action failed on this machine (a file it could not write). Exit 1. */
export class CommandError extends Error {
  override readonly name = 'CommandError';
}

/** Where the token came from: the admin token file of a local service is the `admin` key. */
export type TokenSource = 'option' | 'env' | 'admin-token-file' | 'none';

export interface Connection {
  url: string;
  token: string | null;
  tokenSource: TokenSource;
}

export interface ConnectionOptions {
  url?: string;
  token?: string;
}

const loopbackHosts = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * The service's URL and the token to send: `--url`, else `BSM_URL`, else http://127.0.0.1:3000;
 * `--token`, else `BSM_TOKEN`, else (a local URL only) the admin token `bsm all` generated in
 * `BSM_DATA_DIR/admin-token` (default `./data`).
 */
export async function resolveConnection(options: ConnectionOptions, env: NodeJS.ProcessEnv): Promise<Connection> {
  const raw = options.url ?? env.BSM_URL ?? 'http://127.0.0.1:3000';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliUsageError(`--url must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new CliUsageError(`--url must be an http(s) URL, got "${raw}"`);
  }
  const base = url.toString().replace(/\/+$/, '');
  if (options.token !== undefined && options.token !== '') {
    return { url: base, token: options.token, tokenSource: 'option' };
  }
  if (env.BSM_TOKEN !== undefined && env.BSM_TOKEN !== '') {
    return { url: base, token: env.BSM_TOKEN, tokenSource: 'env' };
  }
  if (loopbackHosts.has(url.hostname)) {
    const file = join(env.BSM_DATA_DIR ?? './data', 'admin-token');
    const token = await readFile(file, 'utf8').then(
      (text) => text.trim(),
      () => '',
    );
    if (token !== '') {
      return { url: base, token, tokenSource: 'admin-token-file' };
    }
  }
  return { url: base, token: null, tokenSource: 'none' };
}

export interface Answer<T> {
  status: number;
  body: T;
}

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Statuses besides 2xx that are answers, not errors (health's 503 carries the health). */
  accept?: number[];
}

/** A thin client of the control API: JSON in and out, errors as their `error.message`. */
export interface Client {
  readonly connection: Connection;
  get<T = unknown>(path: string, options?: RequestOptions): Promise<Answer<T>>;
  post<T = unknown>(path: string, options?: RequestOptions): Promise<Answer<T>>;
  /** A GET whose body is kept as text (exports), with the answer's headers. */
  text(path: string, options?: RequestOptions): Promise<Answer<string> & { headers: Headers }>;
  /** A GET whose body is kept as the bytes received (a file to write as it came, to hash), with the answer's headers. */
  bytes(path: string, options?: RequestOptions): Promise<Answer<Buffer> & { headers: Headers }>;
}

/** Every admin route lives under this prefix. */
export const admin = '/admin/bedrock-support';

export function createClient(connection: Connection, requestTimeoutMs = 30_000): Client {
  async function send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const target = new URL(connection.url + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) {
        target.searchParams.set(key, String(value));
      }
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (connection.token) {
      headers.authorization = `Bearer ${connection.token}`;
    }
    let body: string | undefined;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['content-type'] = 'application/json';
    }
    try {
      return await fetch(target, { method, headers, body, signal: AbortSignal.timeout(requestTimeoutMs), redirect: 'manual' });
    } catch (err) {
      throw new UnreachableError(unreachableMessage(connection.url, err, requestTimeoutMs));
    }
  }

  async function failure(response: Response): Promise<ServiceError> {
    const text = await response.text().catch(() => '');
    let code = `http_${response.status}`;
    let message = `${response.status} ${response.statusText}`.trim();
    try {
      const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.message === 'string') {
        message = parsed.error.message;
      }
      if (typeof parsed.error?.code === 'string') {
        code = parsed.error.code;
      }
    } catch {
      // Not the API's error shape (a proxy's page): the status line says what happened.
    }
    if (response.status === 401 && connection.tokenSource === 'none') {
      message += ': no token given (--token, BSM_TOKEN, or the admin token file of a local service)';
    }
    return new ServiceError(response.status, code, message);
  }

  async function json<T>(method: string, path: string, options: RequestOptions = {}): Promise<Answer<T>> {
    const response = await send(method, path, options);
    if (!response.ok && !(options.accept ?? []).includes(response.status)) {
      throw await failure(response);
    }
    const text = await response.text();
    try {
      return { status: response.status, body: JSON.parse(text) as T };
    } catch {
      throw new ServiceError(response.status, 'not_json', `${method} ${path} answered ${response.status} with a body that is not JSON: is ${connection.url} the Bedrock Support Mode API?`);
    }
  }

  return {
    connection,
    get: (path, options) => json('GET', path, options),
    post: (path, options) => json('POST', path, options),
    async text(path, options = {}) {
      const response = await send('GET', path, options);
      if (!response.ok) {
        throw await failure(response);
      }
      return { status: response.status, body: await response.text(), headers: response.headers };
    },
    async bytes(path, options = {}) {
      const response = await send('GET', path, options);
      if (!response.ok) {
        throw await failure(response);
      }
      return { status: response.status, body: Buffer.from(await response.arrayBuffer()), headers: response.headers };
    },
  };
}

function unreachableMessage(url: string, err: unknown, timeoutMs: number): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') {
    return `${url} did not answer within ${timeoutMs / 1000} s`;
  }
  const code = e.cause?.code;
  switch (code ?? '') {
    case 'ECONNREFUSED':
      return `cannot reach ${url}: connection refused (is the service running? start it with \`bsm all\`, or set --url/BSM_URL)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot reach ${url}: the host does not resolve`;
    default:
      return `cannot reach ${url}: ${code || e.cause?.message || e.message}`;
  }
}
