/**
 * A real MCP server on loopback, built with the SDK (stateful Streamable HTTP, one McpServer per
 * session), exposing one tool that answers from a script. It records every `tools/call` it receives
 * at the HTTP level, so calls answered with a 429 are recorded too.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

/** What the fake does with one call of its tool. */
export type McpBehaviour =
  /** A text answer; `usage` is returned in the result's `_meta.usage`. */
  | { kind: 'ok'; text: string; usage?: { inputTokens: number; outputTokens: number } }
  /** A tool result with `isError: true`. */
  | { kind: 'tool-error'; text: string }
  /** HTTP 429 before any MCP handling, with `Retry-After` when given. */
  | { kind: 'throttle'; retryAfterSeconds?: number }
  /** Destroys the socket under the request before answering (a server that died mid-request). */
  | { kind: 'reset' }
  /** Waits `delayMs` (or until the client cancels the request), then behaves as `then`. */
  | { kind: 'slow'; delayMs: number; then: McpBehaviour };

/** One `tools/call` request as it arrived. */
export interface RecordedMcpCall {
  tool: string;
  arguments: Record<string, unknown>;
  sessionId: string | undefined;
  /** Set once the call is known to have been cancelled by the client (`notifications/cancelled`). */
  cancelled: boolean;
}

export interface McpFakeOptions {
  /** Name of the tool; default `ask`. */
  toolName?: string;
  /** Port to listen on; default a free one. */
  port?: number;
}

export interface McpFake {
  /** `http://127.0.0.1:<port>/mcp`. */
  readonly url: string;
  readonly port: number;
  readonly calls: RecordedMcpCall[];
  /** How many `initialize` requests the fake has answered since it was created (restarts included). */
  readonly initializeCount: number;
  /** Sessions currently open. */
  readonly openSessions: number;
  /** Appends behaviours; each tool call takes the next one, or the default when the queue is empty. */
  script(...behaviours: McpBehaviour[]): void;
  /** Replaces the behaviour used when the queue is empty (initially `ok` with the text `fake answer`). */
  setDefault(behaviour: McpBehaviour): void;
  /** Forgets recorded calls and queued behaviours. */
  reset(): void;
  /** Stops listening and drops every connection and session; the port is kept for {@link start}. */
  stop(): Promise<void>;
  /** Listens again on the same port, with no sessions (as a restarted server would). */
  start(): Promise<void>;
  /** {@link stop}, then {@link start}. */
  restart(): Promise<void>;
  /** Stops for good. */
  close(): Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
}

/** Starts the fake on 127.0.0.1. */
export async function startMcpFake(options: McpFakeOptions = {}): Promise<McpFake> {
  const toolName = options.toolName ?? 'ask';
  const calls: RecordedMcpCall[] = [];
  const queue: McpBehaviour[] = [];
  let defaultBehaviour: McpBehaviour = { kind: 'ok', text: 'fake answer' };
  let initializeCount = 0;
  const sessions = new Map<string, Session>();
  /** Behaviour taken at the HTTP level for each call, handed to the tool handler: `${sessionId}:${requestId}`. */
  const assigned = new Map<string, { behaviour: McpBehaviour; call: RecordedMcpCall }>();
  const timers = new Set<NodeJS.Timeout>();

  function newServer(): McpServer {
    const server = new McpServer({ name: 'bsm-mcp-fake', version: '1.0.0' });
    server.registerTool(
      toolName,
      {
        description: 'Answers a prompt (fake).',
        inputSchema: {
          prompt: z.string(),
          system: z.string().optional(),
          operation: z.string().optional(),
          max_tokens: z.number().optional(),
        },
      },
      async (_args, extra): Promise<CallToolResult> => {
        const key = `${extra.sessionId ?? ''}:${String(extra.requestId)}`;
        const entry = assigned.get(key);
        assigned.delete(key);
        let behaviour = entry?.behaviour ?? defaultBehaviour;
        while (behaviour.kind === 'slow') {
          const finished = await waitOrCancelled(behaviour.delayMs, extra.signal);
          if (!finished) {
            if (entry !== undefined) {
              entry.call.cancelled = true;
            }
            return { content: [{ type: 'text', text: 'cancelled' }], isError: true };
          }
          behaviour = behaviour.then;
        }
        switch (behaviour.kind) {
          case 'ok':
            return {
              content: [{ type: 'text', text: behaviour.text }],
              ...(behaviour.usage === undefined ? {} : { _meta: { usage: behaviour.usage } }),
            };
          case 'tool-error':
            return { content: [{ type: 'text', text: behaviour.text }], isError: true };
          case 'throttle':
          case 'reset':
            // Both are acted on at the HTTP level; one reaching here came after a `slow`.
            return { content: [{ type: 'text', text: `${behaviour.kind} must not follow slow` }], isError: true };
        }
      },
    );
    return server;
  }

  function waitOrCancelled(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      if (signal.aborted) {
        resolve(false);
        return;
      }
      const timer = setTimeout(() => {
        timers.delete(timer);
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, ms);
      timers.add(timer);
      function onAbort(): void {
        clearTimeout(timer);
        timers.delete(timer);
        resolve(false);
      }
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (new URL(req.url ?? '/', 'http://fake').pathname !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    const sessionHeader = req.headers['mcp-session-id'];
    const sessionId = typeof sessionHeader === 'string' ? sessionHeader : undefined;

    let body: unknown;
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const chunk of req) {
        chunks.push(chunk as Buffer);
      }
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      } catch {
        sendJsonRpcError(res, 400, -32700, 'Parse error');
        return;
      }
    }
    const session = sessionId === undefined ? undefined : sessions.get(sessionId);
    if (sessionId !== undefined && session === undefined) {
      sendJsonRpcError(res, 404, -32001, 'Session not found');
      return;
    }
    for (const message of Array.isArray(body) ? (body as unknown[]) : [body]) {
      if (!isRecord(message)) {
        continue;
      }
      if (message.method === 'initialize') {
        initializeCount += 1;
      }
      if (message.method === 'tools/call' && isRecord(message.params)) {
        const params = message.params;
        const call: RecordedMcpCall = {
          tool: typeof params.name === 'string' ? params.name : '',
          arguments: isRecord(params.arguments) ? params.arguments : {},
          sessionId,
          cancelled: false,
        };
        calls.push(call);
        const behaviour = queue.shift() ?? defaultBehaviour;
        if (behaviour.kind === 'throttle') {
          const headers: Record<string, string> = { 'content-type': 'application/json' };
          if (behaviour.retryAfterSeconds !== undefined) {
            headers['retry-after'] = String(behaviour.retryAfterSeconds);
          }
          res.writeHead(429, headers).end(JSON.stringify({ error: 'Too many requests' }));
          return;
        }
        if (behaviour.kind === 'reset') {
          req.socket.destroy();
          return;
        }
        assigned.set(`${sessionId ?? ''}:${String(message.id)}`, { behaviour, call });
      }
    }

    if (session !== undefined) {
      await session.transport.handleRequest(req, res, body);
      return;
    }
    if (req.method !== 'POST' || !isRecord(body) || body.method !== 'initialize') {
      sendJsonRpcError(res, 400, -32000, 'Bad Request: no valid session ID provided');
      return;
    }
    const server = newServer();
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, server });
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  function onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        sendJsonRpcError(res, 500, -32603, error instanceof Error ? error.message : String(error));
      } else {
        res.destroy();
      }
    });
  }

  let port = options.port ?? 0;
  let httpServer: http.Server | undefined;

  async function start(): Promise<void> {
    if (httpServer !== undefined) {
      return;
    }
    // A fresh server each time: a restarted process has no connections or state from before.
    const server = http.createServer(onRequest);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    httpServer = server;
    port = (server.address() as AddressInfo).port;
  }

  async function stop(): Promise<void> {
    const server = httpServer;
    if (server === undefined) {
      return;
    }
    httpServer = undefined;
    for (const timer of timers) {
      clearTimeout(timer);
    }
    timers.clear();
    const closing = [...sessions.values()];
    sessions.clear();
    assigned.clear();
    await Promise.all(closing.map(({ server: mcp }) => mcp.close()));
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    // A real restart takes longer than one turn of the event loop. Without this pause, a client in
    // this process could still pick a pooled keep-alive socket whose closing it has not read yet.
    await new Promise((resolve) => setTimeout(resolve, 20));
  }

  await start();

  return {
    get url() {
      return `http://127.0.0.1:${port}/mcp`;
    },
    get port() {
      return port;
    },
    calls,
    get initializeCount() {
      return initializeCount;
    },
    get openSessions() {
      return sessions.size;
    },
    script(...behaviours) {
      queue.push(...behaviours);
    },
    setDefault(behaviour) {
      defaultBehaviour = behaviour;
    },
    reset() {
      calls.length = 0;
      queue.length = 0;
    },
    stop,
    start,
    async restart() {
      await stop();
      await start();
    },
    close: stop,
  };
}

function sendJsonRpcError(res: http.ServerResponse, status: number, code: number, message: string): void {
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
