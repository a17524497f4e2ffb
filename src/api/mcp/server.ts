/**
 * The MCP server of support mode, built with the SDK: the tools and resources of `tools.ts` over
 * any transport (Streamable HTTP at `/mcp`, stdio for `bsm mcp`).
 *
 * Tools are answered by the SDK's low-level request handlers rather than `registerTool`, whose
 * own validation would answer a bad argument in the SDK's words: here the arguments are checked
 * against the route's own schema and described as the route describes them, so a tool's
 * refusal is the route's, word for word.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { CallToolRequestSchema, ErrorCode, ListToolsRequestSchema, McpError, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { describeIssue } from '../validation.js';
import { mcpResources, mcpTools, type ApiAnswer, type CallApi, type McpTool } from './tools.js';

export { mcpResources, mcpTools, maxWaitSeconds, type ApiAnswer, type ApiRequest, type CallApi } from './tools.js';

const serverInfo = { name: 'bedrock-support-mode', title: 'Bedrock Support Mode', version: '0.1.0' };

const instructions =
  'Bedrock Support Mode is a secondary operator beside you: it audits infrastructure, analyses your executions and proposes remediations. ' +
  'Check support_status first; trigger_audit (with wait) then open_gaps and gap_guidance; report_executions, analyze_executions, execution_insights. ' +
  'A refusal (a role without the permission, an unknown id, a bad argument) comes back as an error result with the reason.';

/** The JSON schema of a tool's arguments, as a client sees it. */
function jsonSchemaOf(tool: McpTool): Tool['inputSchema'] {
  const { $schema: _ignored, ...schema } = z.toJSONSchema(tool.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return { ...schema, type: 'object' };
}

/** A route's answer: its status, and its body as JSON when it says so, else as text. */
export async function answerOf(response: Response): Promise<ApiAnswer> {
  const type = response.headers.get('content-type') ?? '';
  const text = await response.text();
  if (type.includes('json') && text !== '') {
    try {
      return { status: response.status, body: JSON.parse(text) as unknown };
    } catch {
      return { status: response.status, body: text };
    }
  }
  return { status: response.status, body: text };
}

/** The message of an error answer (`{error: {message}}`), else a line naming the status. */
function messageOf(answer: ApiAnswer): string {
  const error = (answer.body as { error?: { message?: unknown } } | null)?.error;
  if (typeof error?.message === 'string') {
    return error.message;
  }
  // Not the API's error shape (a proxy's page in front of the service): its start, and the status.
  return typeof answer.body === 'string' && answer.body.trim() !== '' ? `the API answered ${answer.status}: ${answer.body.trim().slice(0, 300)}` : `the API answered ${answer.status}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A route's answer as a tool result: the JSON on success, the route's own message on a refusal. */
export function toolResult(answer: ApiAnswer): CallToolResult {
  if (answer.status >= 200 && answer.status < 300) {
    return {
      content: [{ type: 'text', text: typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body) }],
      ...(isObject(answer.body) ? { structuredContent: answer.body } : {}),
    };
  }
  const error = isObject(answer.body) && isObject(answer.body.error) ? answer.body.error : { code: null, message: messageOf(answer), details: null };
  return { isError: true, content: [{ type: 'text', text: messageOf(answer) }], structuredContent: { status: answer.status, error } };
}

const refusal = (message: string, field: string): CallToolResult => ({
  isError: true,
  content: [{ type: 'text', text: message }],
  structuredContent: { status: 400, error: { code: 'invalid_request', message, details: { field } } },
});

const sleeper = (signal: AbortSignal) => (ms: number) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });

/** An MCP server whose tools and resources call the API through `api`. One per connection (or per request, stateless). */
export function createMcpServer(api: CallApi): McpServer {
  const mcp = new McpServer(serverInfo, { capabilities: { resources: {} }, instructions });
  mcp.server.registerCapabilities({ tools: {} });
  const byName = new Map(mcpTools.map((t) => [t.name, t]));
  const listed: Tool[] = mcpTools.map((t) => ({
    name: t.name,
    title: t.title,
    description: t.description,
    inputSchema: jsonSchemaOf(t),
    annotations: { title: t.title, readOnlyHint: t.readOnly, destructiveHint: false, openWorldHint: false },
  }));

  mcp.server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: listed }));
  mcp.server.setRequestHandler(CallToolRequestSchema, async (request, extra): Promise<CallToolResult> => {
    const tool = byName.get(request.params.name);
    if (!tool) {
      throw new McpError(ErrorCode.InvalidParams, `unknown tool "${request.params.name.slice(0, 80)}": tools/list names them`);
    }
    const raw: Record<string, unknown> = request.params.arguments ?? {};
    const checked = (tool.check ?? tool.input).safeParse(raw);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const d = issue ? describeIssue(issue, raw) : { path: '(arguments)', message: 'the arguments are invalid' };
      return refusal(d.message, d.path);
    }
    const token = extra._meta?.progressToken;
    try {
      const answer = await tool.run(raw, {
        api,
        signal: extra.signal,
        sleep: sleeper(extra.signal),
        progress: async (progress, total, message) => {
          if (token !== undefined) {
            await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress, total, message } });
          }
        },
      });
      return toolResult(answer);
    } catch (err) {
      // The API could not be reached (bsm mcp with the service down) or the request was cancelled.
      return { isError: true, content: [{ type: 'text', text: err instanceof Error ? err.message : String(err) }] };
    }
  });

  for (const r of mcpResources) {
    mcp.registerResource(r.name, r.uri, { title: r.title, description: r.description, mimeType: 'application/json' }, async (uri, extra) => {
      const answer = await api({ method: 'GET', path: r.path, signal: extra.signal });
      if (answer.status !== 200) {
        throw new McpError(answer.status === 404 ? -32002 : ErrorCode.InvalidRequest, messageOf(answer), { status: answer.status });
      }
      return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(answer.body) }] };
    });
  }
  return mcp;
}

/**
 * Answers one Streamable HTTP request statelessly (the SDK's mode without session ids): a new
 * server and transport for it, closed once it is answered or its client goes away, so any api
 * process can answer any request. Answers to requests come as an SSE stream (progress of a
 * `wait` travels on it), as the transport does by default.
 */
export async function handleMcpHttp(request: Request, api: CallApi, options: { maxBodyBytes: number }): Promise<Response> {
  const mcp = createMcpServer(api);
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: options.maxBodyBytes });
  let closed = false;
  const close = async () => {
    if (!closed) {
      closed = true;
      await mcp.close();
    }
  };
  // A client that goes away cancels what its request still runs (a tool's wait ends at once).
  request.signal.addEventListener('abort', () => void close(), { once: true });
  await mcp.connect(transport);
  const response = await transport.handleRequest(request);
  if (response.body === null) {
    await close();
    return response;
  }
  // The stream ends once every answer is written: the server closes with it.
  const closing = new TransformStream<Uint8Array, Uint8Array>({ flush: close });
  return new Response(response.body.pipeThrough(closing), { status: response.status, statusText: response.statusText, headers: response.headers });
}

/** Serves the tools over standard input and output until the input ends. */
export async function serveMcpStdio(api: CallApi): Promise<void> {
  const mcp = createMcpServer(api);
  const transport = new StdioServerTransport();
  await mcp.connect(transport);
  const closed = new Promise<void>((resolve) => {
    mcp.server.onclose = resolve;
  });
  process.stdin.once('end', () => {
    void mcp.close();
  });
  await closed;
}
