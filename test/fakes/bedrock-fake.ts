/**
 * A fake Bedrock Runtime on loopback that speaks the Converse REST-JSON protocol.
 *
 * The SDK's default handler for bedrock-runtime is HTTP/2 (cleartext with prior knowledge against
 * an `http://` endpoint); `fetch` and curl speak HTTP/1.1. One TCP port serves both: a `net` server
 * reads the first bytes of each connection, puts them back, and hands the socket to an HTTP/2 or an
 * HTTP/1.1 server depending on whether they start the HTTP/2 connection preface.
 *
 * With a quota it also throttles as Bedrock does past a requests-per-second limit (see
 * {@link BedrockFakeOptions}); the Bedrock-quota benchmark runs the service against that.
 */
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { listenOnLoopback } from './listen.js';

/** What the fake does with one Converse request. */
export type BedrockBehaviour =
  /** A normal answer. Usage defaults to ceil(characters / 4) of the request's text and of `text`; `null` leaves it out. */
  | { kind: 'ok'; text: string; usage?: { inputTokens: number; outputTokens: number } | null; stopReason?: string }
  /** HTTP 429 `ThrottlingException`, as Bedrock sends it; `retryAfterSeconds` adds a `Retry-After` header. */
  | { kind: 'throttle'; retryAfterSeconds?: number }
  /** An error status with `x-amzn-errortype` (default by status: 500 InternalServerException, 503 ServiceUnavailableException). */
  | { kind: 'error'; status: number; errorType?: string; message?: string }
  /** Waits `delayMs` (or until the client goes away), then behaves as `then`. */
  | { kind: 'slow'; delayMs: number; then: BedrockBehaviour };

/** One request the fake received, in arrival order. */
export interface RecordedBedrockRequest {
  /** `h2` for HTTP/2 (what the SDK uses), `http/1.1` otherwise. */
  protocol: 'h2' | 'http/1.1';
  method: string;
  path: string;
  /** Decoded `{modelId}` of `/model/{modelId}/converse`; undefined for other paths. */
  modelId: string | undefined;
  /** Request headers, lower-case names (HTTP/2 pseudo-headers left out). */
  headers: Record<string, string>;
  /** The parsed JSON body, or the raw text when it is not JSON. */
  body: unknown;
  /** When it arrived, `performance.now()` of the fake's process. */
  receivedAt: number;
  /** The status answered, and when (`performance.now()`); unset until answered, and when the client went away first. */
  status?: number;
  answeredAt?: number;
}

export interface BedrockFakeOptions {
  /**
   * A request quota, a token bucket: it holds up to `burst` requests (full at the start) and
   * refills at `perSecond`. A Converse request that finds it empty is answered at once with HTTP 429
   * `ThrottlingException` and no `Retry-After` (as Bedrock answers past a quota), before any
   * scripted behaviour is taken; an admitted one takes a token and behaves as scripted.
   */
  quota?: { perSecond: number; burst: number };
}

export interface BedrockFake {
  /** `http://127.0.0.1:<port>`: use as `endpoint` or `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`. */
  readonly url: string;
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: RecordedBedrockRequest[];
  /** Appends behaviours to the queue; each Converse request takes the next one, or the default when the queue is empty. */
  script(...behaviours: BedrockBehaviour[]): void;
  /** Replaces the behaviour used when the queue is empty (initially `ok` with the text `fake answer`). */
  setDefault(behaviour: BedrockBehaviour): void;
  /** Queues `n` throttles (then the queue and default take over again). */
  throttleFirst(n: number, retryAfterSeconds?: number): void;
  /** Forgets the recorded requests and the queued behaviours. */
  reset(): void;
  /** Stops listening and destroys every open connection and pending answer. */
  close(): Promise<void>;
}

let requestCounter = 0;

const http2Preface = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** Starts the fake on 127.0.0.1 on a free port. */
export async function startBedrockFake(options: BedrockFakeOptions = {}): Promise<BedrockFake> {
  const requests: RecordedBedrockRequest[] = [];
  const queue: BedrockBehaviour[] = [];
  let defaultBehaviour: BedrockBehaviour = { kind: 'ok', text: 'fake answer' };
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const quota = options.quota;
  if (quota && !(quota.perSecond > 0 && quota.burst >= 1)) {
    throw new RangeError(`quota needs perSecond > 0 and burst >= 1, got ${JSON.stringify(quota)}`);
  }
  let tokens = quota?.burst ?? 0;
  let refilledAt = performance.now();
  /** Takes a token when there is one (always true without a quota). */
  function admitted(now: number): boolean {
    if (!quota) {
      return true;
    }
    tokens = Math.min(quota.burst, tokens + ((now - refilledAt) * quota.perSecond) / 1000);
    refilledAt = now;
    if (tokens < 1) {
      return false;
    }
    tokens -= 1;
    return true;
  }

  async function handle(
    protocol: 'h2' | 'http/1.1',
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ): Promise<void> {
    const receivedAt = performance.now();
    const chunks: Buffer[] = [];
    for await (const chunk of req) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    }
    const raw = Buffer.concat(chunks).toString('utf8');
    const path = req.url ?? '';
    const method = req.method ?? '';
    const match = /^\/model\/([^/]+)\/converse$/.exec(path.split('?')[0] ?? '');
    const modelId = match?.[1] === undefined ? undefined : decodeURIComponent(match[1]);
    const record: RecordedBedrockRequest = { protocol, method, path, modelId, headers: plainHeaders(req.headers), body: parseBody(raw), receivedAt };
    requests.push(record);
    const send = (status: number, body: unknown, errorType?: string, extraHeaders?: Record<string, string>): void => {
      record.status = status;
      record.answeredAt = performance.now();
      sendJson(res, status, body, errorType, extraHeaders);
    };

    if (method !== 'POST' || modelId === undefined) {
      send(404, { message: `No Converse route for ${method} ${path}` }, 'UnknownOperationException');
      return;
    }
    if (!admitted(performance.now())) {
      send(429, { message: 'Too many requests, please wait before trying again.' }, 'ThrottlingException');
      return;
    }
    let behaviour = queue.shift() ?? defaultBehaviour;
    while (behaviour.kind === 'slow') {
      const { delayMs, then } = behaviour;
      const finished = await waitOrClientGone(delayMs, res);
      if (!finished) {
        return;
      }
      behaviour = then;
    }
    switch (behaviour.kind) {
      case 'ok': {
        const usage =
          behaviour.usage === null
            ? null
            : (behaviour.usage ?? {
                inputTokens: Math.ceil(raw.length / 4),
                outputTokens: Math.ceil(behaviour.text.length / 4),
              });
        send(200, {
          output: { message: { role: 'assistant', content: [{ text: behaviour.text }] } },
          stopReason: behaviour.stopReason ?? 'end_turn',
          ...(usage === null ? {} : { usage: { ...usage, totalTokens: usage.inputTokens + usage.outputTokens } }),
          metrics: { latencyMs: 1 },
        });
        return;
      }
      case 'throttle':
        send(
          429,
          { message: 'Rate exceeded' },
          'ThrottlingException',
          behaviour.retryAfterSeconds === undefined ? {} : { 'retry-after': String(behaviour.retryAfterSeconds) },
        );
        return;
      case 'error':
        send(
          behaviour.status,
          { message: behaviour.message ?? `Fake failure with status ${behaviour.status}` },
          behaviour.errorType ?? errorTypeFor(behaviour.status),
        );
        return;
    }
  }

  /** Resolves true after `ms`, or false as soon as the client closes the request (abort, reset). */
  function waitOrClientGone(ms: number, res: http.ServerResponse | http2.Http2ServerResponse): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        timers.delete(timer);
        res.off('close', onClose);
        resolve(true);
      }, ms);
      timers.add(timer);
      function onClose(): void {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      }
      res.once('close', onClose);
    });
  }

  function onRequest(protocol: 'h2' | 'http/1.1') {
    return (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
      handle(protocol, req, res).catch((error: unknown) => {
        if (!res.headersSent && !res.writableEnded) {
          sendJson(res, 500, { message: error instanceof Error ? error.message : String(error) }, 'InternalServerException');
        }
      });
    };
  }

  const h1 = http.createServer(onRequest('http/1.1'));
  const h2 = http2.createServer(onRequest('h2'));
  // Sessions end with their sockets; an error on one must not take the fake down.
  h2.on('sessionError', () => undefined);

  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const compared = Math.min(head.length, http2Preface.length);
      const prefaceSoFar = head.subarray(0, compared).equals(http2Preface.subarray(0, compared));
      if (prefaceSoFar && head.length < http2Preface.length) {
        return; // not enough bytes yet to tell
      }
      socket.off('data', onData);
      socket.pause();
      socket.unshift(head);
      if (prefaceSoFar) {
        // The HTTP/2 session reads what is already buffered on the socket itself.
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
  });

  const port = await listenOnLoopback(server);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    script(...behaviours) {
      queue.push(...behaviours);
    },
    setDefault(behaviour) {
      defaultBehaviour = behaviour;
    },
    throttleFirst(n, retryAfterSeconds) {
      for (let i = 0; i < n; i += 1) {
        queue.push(retryAfterSeconds === undefined ? { kind: 'throttle' } : { kind: 'throttle', retryAfterSeconds });
      }
    },
    reset() {
      requests.length = 0;
      queue.length = 0;
    },
    async close() {
      for (const timer of timers) {
        clearTimeout(timer);
      }
      timers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) {
        socket.destroy();
      }
      await closed;
    },
  };
}

function errorTypeFor(status: number): string {
  switch (status) {
    case 400:
      return 'ValidationException';
    case 403:
      return 'AccessDeniedException';
    case 404:
      return 'ResourceNotFoundException';
    case 429:
      return 'ThrottlingException';
    case 503:
      return 'ServiceUnavailableException';
    default:
      return 'InternalServerException';
  }
}

function sendJson(
  res: http.ServerResponse | http2.Http2ServerResponse,
  status: number,
  body: unknown,
  errorType?: string,
  extraHeaders: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(payload)),
    'x-amzn-requestid': `fake-${(requestCounter += 1)}`,
    ...extraHeaders,
  };
  if (errorType !== undefined) {
    headers['x-amzn-errortype'] = errorType;
  }
  for (const [name, value] of Object.entries(headers)) {
    res.setHeader(name, value);
  }
  res.statusCode = status;
  res.end(payload);
}

function plainHeaders(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith(':') || value === undefined) {
      continue;
    }
    out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

function parseBody(raw: string): unknown {
  if (raw === '') {
    return undefined;
  }
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}
