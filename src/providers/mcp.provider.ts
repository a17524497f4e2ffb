/**
 * The MCP path: one tool of an MCP server, reached over Streamable HTTP with the SDK's client.
 *
 * The connection (initialize handshake and session) is made on the first call and shared by the
 * calls after it. A call that fails because of the connection drops it, and the next call connects
 * again; a session the server no longer knows (HTTP 404) is re-initialised at once, as the MCP
 * specification asks, since the server did not run the tool.
 */
import { untilAborted } from '../domain/llm/abort.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { isRecord } from '../domain/guards.js';
import { parseRetryAfter, renderSystem, renderUserTurn } from '../domain/llm/prompt.js';
import {
  LlmProviderError,
  LlmThrottledError,
  type LlmProvider,
  type LlmRequest,
  type ProviderResult,
  type TokenUsage,
} from '../domain/llm/types.js';

/** Which tool argument receives which part of the request. */
export interface McpArgumentMapping {
  /** Argument for the user turn (the prompt followed by the facts as JSON). */
  prompt: string;
  /** Argument for the system prompt. Without it the system prompt is put before the user turn in `prompt`. */
  system?: string;
  /** Argument for the operation type (`emergency`, `infrastructure`, …). */
  operation?: string;
  /** Argument for the request's `maxTokens`, when the request sets one. */
  maxTokens?: string;
}

/** Options of {@link createMcpProvider}. */
export interface McpProviderOptions {
  /** The server's Streamable HTTP endpoint, e.g. `https://mcp.example.com/mcp`. */
  url: string;
  /** The tool that writes text. */
  toolName: string;
  argumentMapping: McpArgumentMapping;
  /** Model name reported for pricing and reporting; default `mcp:<toolName>`. */
  model?: string;
  /** Bound on the initialize handshake, in milliseconds; default 10 000. */
  connectTimeoutMs?: number;
}

const defaultConnectTimeoutMs = 10_000;

/** A 429 seen by the transport's fetch, carried out of the SDK with its `Retry-After`. */
class McpHttpThrottled extends Error {
  override readonly name = 'McpHttpThrottled';
  constructor(readonly retryAfterMs: number | undefined) {
    super('MCP server answered HTTP 429');
  }
}

interface Connection {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

/**
 * Creates the MCP provider (path `mcp`).
 *
 * The tool's answer is the text of its `text` content items, joined by newlines. A result with
 * `isError: true` becomes {@link LlmProviderError}; HTTP 429 becomes {@link LlmThrottledError} with
 * `retryAfterMs` from `Retry-After`; other failures (connection, protocol, abort) {@link LlmProviderError}.
 *
 * Token usage comes from the result's `_meta.usage` or `structuredContent.usage`
 * (`inputTokens`/`outputTokens`, or `input_tokens`/`output_tokens`) when the server reports it.
 * Otherwise it is an estimate, ceil(characters / 4) of what was sent and of what came back,
 * since MCP itself has no notion of tokens.
 */
export function createMcpProvider(options: McpProviderOptions): LlmProvider {
  const model = options.model ?? `mcp:${options.toolName}`;
  const connectTimeoutMs = options.connectTimeoutMs ?? defaultConnectTimeoutMs;
  const url = new URL(options.url);
  let current: Promise<Connection> | undefined;
  let closed = false;

  const throttleAwareFetch: FetchLike = async (input, init) => {
    const response = await fetch(input, init);
    if (response.status === 429) {
      await response.body?.cancel();
      throw new McpHttpThrottled(parseRetryAfter(response.headers.get('retry-after')));
    }
    return response;
  };

  async function connect(): Promise<Connection> {
    const client = new Client({ name: 'bedrock-support-mode', version: '0.1.0' });
    const transport = new StreamableHTTPClientTransport(url, { fetch: throttleAwareFetch });
    await client.connect(transport, { timeout: connectTimeoutMs });
    return { client, transport };
  }

  /** The shared connection, made on first use; a failed attempt is forgotten so the next call tries again. */
  function connection(): Promise<Connection> {
    if (current === undefined) {
      const attempt = connect();
      current = attempt;
      attempt
        .then(({ client }) => {
          // The transport closing (server gone, close()) means the next call must connect again.
          client.onclose = () => forget(attempt);
        })
        .catch(() => forget(attempt));
    }
    return current;
  }

  function forget(attempt: Promise<Connection>): void {
    if (current === attempt) {
      current = undefined;
    }
  }

  /** Drops a connection after a connection failure; closing it also stops its background SSE reconnects. */
  function drop(attempt: Promise<Connection>): void {
    forget(attempt);
    attempt.then(({ client }) => client.close()).catch(() => undefined);
  }

  async function callTool(request: LlmRequest, signal: AbortSignal): Promise<ProviderResult> {
    const args = buildArguments(options.argumentMapping, request);
    for (let attempt = 1; ; attempt += 1) {
      const conn = connection();
      try {
        const { client } = await untilAborted(conn, signal);
        const result = await client.callTool({ name: options.toolName, arguments: args }, undefined, { signal });
        return readResult(result, args, model);
      } catch (error) {
        if (signal.aborted) {
          throw new LlmProviderError('mcp', 'MCP call aborted', { cause: error });
        }
        if (error instanceof LlmProviderError) {
          throw error;
        }
        if (error instanceof McpHttpThrottled) {
          throw new LlmThrottledError('mcp', 'MCP server throttled the call (HTTP 429)', error.retryAfterMs);
        }
        if (error instanceof McpError && error.code !== (ErrorCode.ConnectionClosed as number)) {
          // The server answered with a JSON-RPC error: the connection itself is fine.
          throw new LlmProviderError('mcp', `MCP tool call failed: ${error.message}`, { cause: error });
        }
        drop(conn);
        if (attempt === 1 && ((error instanceof StreamableHTTPError && error.code === 404) || isStaleSocket(error))) {
          // The session expired on the server, or a pooled keep-alive socket died with a restarted
          // server: reconnect once. Asking the model again is safe; it changes nothing.
          continue;
        }
        const message = error instanceof Error ? error.message : String(error);
        throw new LlmProviderError('mcp', `MCP connection failed: ${message}`, { cause: error });
      }
    }
  }

  return {
    path: 'mcp',
    model,
    complete(request: LlmRequest, signal: AbortSignal): Promise<ProviderResult> {
      if (closed) {
        return Promise.reject(new LlmProviderError('mcp', 'MCP provider is closed'));
      }
      if (signal.aborted) {
        return Promise.reject(new LlmProviderError('mcp', 'MCP call aborted before it started', { cause: signal.reason }));
      }
      return callTool(request, signal);
    },
    async close(): Promise<void> {
      closed = true;
      const attempt = current;
      current = undefined;
      if (attempt === undefined) {
        return;
      }
      const conn = await attempt.catch(() => undefined);
      if (conn === undefined) {
        return;
      }
      // Ending the session is a courtesy to the server; it must not hold up shutdown.
      const terminated = conn.transport.terminateSession().catch(() => undefined);
      await Promise.race([terminated, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      await conn.client.close();
    },
  };
}

function buildArguments(mapping: McpArgumentMapping, request: LlmRequest): Record<string, unknown> {
  const userTurn = renderUserTurn(request);
  const args: Record<string, unknown> = {};
  const system = renderSystem(request);
  if (mapping.system === undefined) {
    args[mapping.prompt] = system === '' ? userTurn : `${system}\n\n${userTurn}`;
  } else {
    args[mapping.prompt] = userTurn;
    args[mapping.system] = system;
  }
  if (mapping.operation !== undefined) {
    args[mapping.operation] = request.operation;
  }
  if (mapping.maxTokens !== undefined && request.maxTokens !== undefined) {
    args[mapping.maxTokens] = request.maxTokens;
  }
  return args;
}

function readResult(
  result: Awaited<ReturnType<Client['callTool']>>,
  args: Record<string, unknown>,
  model: string,
): ProviderResult {
  const content: unknown[] = Array.isArray(result.content) ? result.content : [];
  const text = content
    .filter((item): item is { type: 'text'; text: string } => isRecord(item) && item.type === 'text' && typeof item.text === 'string')
    .map((item) => item.text)
    .join('\n');
  if (result.isError === true) {
    throw new LlmProviderError('mcp', `MCP tool reported an error: ${text === '' ? '(no text)' : text}`);
  }
  if (text === '') {
    throw new LlmProviderError('mcp', 'MCP tool answered without text content');
  }
  const usage = reportedUsage(result._meta) ?? reportedUsage(result.structuredContent) ?? {
    inputTokens: Math.ceil(Object.values(args).reduce<number>((n, v) => n + (typeof v === 'string' ? v.length : 0), 0) / 4),
    outputTokens: Math.ceil(text.length / 4),
    estimated: true,
  };
  return { text, model, usage };
}

/** A socket closed under a request (`fetch failed` caused by a reset or an unexpected close). */
function isStaleSocket(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; isRecord(e) && depth < 5; e = e.cause, depth += 1) {
    if (e.code === 'UND_ERR_SOCKET' || e.code === 'ECONNRESET' || e.code === 'EPIPE') {
      return true;
    }
  }
  return false;
}

const isTokenCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** `usage` of a `_meta` or `structuredContent` object, when it holds two token counts. */
function reportedUsage(holder: unknown): TokenUsage | undefined {
  if (!isRecord(holder) || !isRecord(holder.usage)) {
    return undefined;
  }
  const usage = holder.usage;
  const input = usage.inputTokens ?? usage.input_tokens;
  const output = usage.outputTokens ?? usage.output_tokens;
  // Counts are added to Redis with HINCRBY: anything but a whole, non-negative number is not a count.
  if (!isTokenCount(input) || !isTokenCount(output)) {
    return undefined;
  }
  return { inputTokens: input, outputTokens: output };
}
