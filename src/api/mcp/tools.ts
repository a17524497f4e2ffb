/**
 * The MCP tools: each is one or two calls of the control API's own routes, so a tool validates,
 * refuses, audits and redacts exactly as its route does. Their input schemas are the routes'
 * own zod schemas where a route has one (the JSON schema a client sees is derived from them).
 */
import { z } from 'zod';
import { gapSeverities, gapStatuses, gapTypes } from '../../domain/gaps/gap.js';
import { executionRecordSchema, maxBatchRecords } from '../../domain/meta-monitor/executions.js';
import { queueNames } from '../../domain/queue-names.js';
import { TriggerBody } from '../audit.routes.js';
import { ListQuery } from '../implementation.routes.js';
import { AssistBody } from '../llm.routes.js';
import { AnalyzeBody, LatestQuery } from '../meta-monitor-analysis.routes.js';
import { RemediateBody } from '../remediation.routes.js';

/** What a route answered: its status and its body (JSON parsed, else the text). */
export interface ApiAnswer {
  status: number;
  body: unknown;
}

/** One request to the control API, made with the MCP caller's own credentials. */
export interface ApiRequest {
  method: 'GET' | 'POST';
  /** The path, e.g. `/admin/bedrock-support/status`. */
  path: string;
  query?: Record<string, string>;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** Calls a route of the control API: in-process for `/mcp`, over HTTP for `bsm mcp`. */
export type CallApi = (request: ApiRequest) => Promise<ApiAnswer>;

/** What a tool may use besides the API: the request's signal and a progress report. */
export interface ToolContext {
  api: CallApi;
  signal: AbortSignal;
  /** Reports progress to a client that asked for it (a `progressToken`); otherwise does nothing. */
  progress: (done: number, total: number, message: string) => Promise<void>;
  /** Waits `ms`, or less when the signal aborts. */
  sleep: (ms: number) => Promise<void>;
}

/** One MCP tool. */
export interface McpTool {
  name: string;
  title: string;
  /** What it does, for a model choosing a tool: one or two sentences. */
  description: string;
  /** The arguments as a client sees them (its JSON schema is derived from this). */
  input: z.ZodObject;
  /**
   * What the arguments are checked against before any call, when it differs from `input`: the
   * ingest checks only that records come as an array, since the route names each bad record.
   */
  check?: z.ZodType;
  /** Reads only (no route that changes state). */
  readOnly: boolean;
  run(args: Record<string, unknown>, context: ToolContext): Promise<ApiAnswer>;
}

const admin = '/admin/bedrock-support';

/** The longest `wait` a tool takes, in seconds: a longer job is followed with its status tool. */
export const maxWaitSeconds = 300;

const wait = z
  .number()
  .int()
  .min(0)
  .max(maxWaitSeconds)
  .default(0)
  .describe(`Seconds to follow the job until it finishes (0, the default: answer at once with its id; at most ${maxWaitSeconds})`);

/** The arguments without the tool's own ones: what the route receives, as the caller sent it. */
function without(args: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).filter(([k]) => !keys.includes(k)));
}

/** Query parameters as the routes read them: every value as text, arrays comma-separated. */
function queryOf(args: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(args)) {
    if (v !== undefined && v !== null) {
      out[k] = Array.isArray(v) ? v.map(String).join(',') : typeof v === 'string' ? v : JSON.stringify(v);
    }
  }
  return out;
}

const pollEveryMs = 500;

/**
 * Starts a job with `start` and, for up to `seconds`, reads `status` until `done` says it
 * finished. The answer is the start's (on a refusal, the refusal) with the last status read,
 * whether it finished, and how long was waited.
 */
async function startAndFollow(
  context: ToolContext,
  seconds: number,
  start: () => Promise<ApiAnswer>,
  follow: { id: (accepted: Record<string, unknown>) => string; status: (id: string) => ApiRequest; done: (status: ApiAnswer) => boolean; percent: (status: ApiAnswer) => number },
): Promise<ApiAnswer> {
  const started = await start();
  if (seconds === 0 || started.status >= 300 || typeof started.body !== 'object' || started.body === null) {
    return started;
  }
  const accepted = started.body as Record<string, unknown>;
  const id = follow.id(accepted);
  const begun = Date.now();
  const deadline = begun + seconds * 1000;
  for (;;) {
    const status = await context.api({ ...follow.status(id), signal: context.signal });
    const finished = follow.done(status);
    if (status.status >= 400) {
      // The status route refused (a key that may start but not read cannot follow): that refusal is the answer.
      return status;
    }
    await context.progress(finished ? 100 : follow.percent(status), 100, finished ? `${id} finished` : `${id} running`);
    if (finished || Date.now() >= deadline || context.signal.aborted) {
      return { status: started.status, body: { ...accepted, finished, waitedMs: Date.now() - begun, status: status.body } };
    }
    await context.sleep(Math.min(pollEveryMs, deadline - Date.now()));
  }
}

const percentOf = (answer: ApiAnswer): number => {
  const progress = (answer.body as { progress?: { percent?: unknown } } | null)?.progress?.percent;
  return typeof progress === 'number' ? progress : 0;
};

const noArguments = z.object({}).strict();

/**
 * `schema` with descriptions on some fields, for the JSON schema a model reads: the routes
 * document their fields in the OpenAPI registry, which `z.toJSONSchema` does not read. The
 * fields keep their checks.
 */
function described<T extends z.ZodObject>(schema: T, descriptions: Partial<Record<keyof T['shape'] & string, string>>): T {
  const fields: Record<string, z.ZodType> = {};
  for (const [name, text] of Object.entries(descriptions) as [string, string][]) {
    const field = schema.shape[name] as z.ZodType | undefined;
    if (field) {
      fields[name] = field.describe(text);
    }
  }
  return schema.extend(fields) as unknown as T;
}

const comma = (values: readonly string[]) => `Comma-separated, among: ${values.join(', ')}`;
const latestSource = described(LatestQuery.query, { source: "Only analyses of this source: `agent` (the executions agents report) or `fleet` (this service's own jobs)" });

/** Every tool, in the order a client lists them. */
export const mcpTools: McpTool[] = [
  {
    name: 'support_status',
    title: 'Support mode status',
    description: 'Whether support mode is enabled, which components (infrastructure-auditor, meta-monitor, implementation-support) are active, and their queues. Start here.',
    input: noArguments,
    readOnly: true,
    run: (_args, { api, signal }) => api({ method: 'GET', path: `${admin}/status`, signal }),
  },
  {
    name: 'component_health',
    title: 'Component health',
    description:
      'Health (healthy, degraded, unhealthy, with reasons) of one component queue, or without `component` of Redis, every queue and the LLM paths.',
    input: z
      .object({ component: z.enum(queueNames).optional().describe('One component; leave out for all of them with the LLM paths') })
      .strict(),
    readOnly: true,
    run: (args, { api, signal }) =>
      api({ method: 'GET', path: typeof args.component === 'string' ? `/health/component/${encodeURIComponent(args.component)}` : '/health/bedrock-support/detailed', signal }),
  },
  {
    name: 'trigger_audit',
    title: 'Trigger an infrastructure audit',
    description:
      'Start an infrastructure audit (comprehensive by default, or targeted at target ids). With `wait` it follows the audit until it finishes and returns its summary; then read latest_audit and open_gaps. Needs the operate permission.',
    input: described(TriggerBody, {
      type: '`comprehensive` (the default) audits every target; `targeted` the ids in `targets`',
      targets: 'Target ids of the inventory; with them the audit is targeted',
      reason: 'Why (redacted before it is stored)',
    }).extend({ wait }),
    readOnly: false,
    run: (args, context) =>
      startAndFollow(context, (args.wait as number | undefined) ?? 0, () => context.api({ method: 'POST', path: `${admin}/audit/trigger`, body: without(args, 'wait'), signal: context.signal }), {
        id: (accepted) => String(accepted.auditId),
        status: (id) => ({ method: 'GET', path: `${admin}/audit/status/${encodeURIComponent(id)}` }),
        done: (s) => s.status === 200 && ['completed', 'failed'].includes(String((s.body as { state?: unknown }).state)),
        percent: percentOf,
      }),
  },
  {
    name: 'latest_audit',
    title: 'Latest audit report',
    description: 'The report of the latest finished infrastructure audit: score, targets, gaps with evidence, trend and recommendations.',
    input: noArguments,
    readOnly: true,
    run: (_args, { api, signal }) => api({ method: 'GET', path: `${admin}/audit/latest`, signal }),
  },
  {
    name: 'open_gaps',
    title: 'Open gaps',
    description:
      'Gaps not yet resolved or dismissed (from audits, the meta-monitor and people), newest sighting first; filter by status, type, severity, source or component. Each has an id for gap_guidance and request_remediation.',
    input: described(ListQuery.omit({ open: true }), {
      status: comma(gapStatuses.filter((x) => x !== 'resolved' && x !== 'dismissed')),
      type: comma(gapTypes),
      severity: comma(gapSeverities),
      source: 'Who found them',
      component: 'Only gaps naming this component',
      limit: 'At most this many (default 100)',
    }),
    readOnly: true,
    run: (args, { api, signal }) => api({ method: 'GET', path: `${admin}/implementation/gaps`, query: { ...queryOf(args), open: 'true' }, signal }),
  },
  {
    name: 'gap_guidance',
    title: 'Guidance for a gap',
    description: 'How to fix one gap: steps, configuration changes, risks, rollback and references, with a narrative written through the LLM router.',
    input: z.object({ gap_id: z.string().trim().min(1).max(100).describe('The gap id, gap-… (from open_gaps)') }).strict(),
    readOnly: true,
    run: (args, { api, signal }) => api({ method: 'GET', path: `${admin}/implementation/gaps/${encodeURIComponent(String(args.gap_id))}/guidance`, signal }),
  },
  {
    name: 'request_remediation',
    title: 'Request a remediation',
    description:
      "Remediate a gap with one of its catalog actions: `auto_resolve: true` runs a low-risk action at once and leaves riskier ones waiting for an approver; false (the default) only plans it. Needs the operate permission.",
    input: described(RemediateBody, {
      gap_id: 'The gap id, gap-… (from open_gaps)',
      auto_resolve: '`true`: run the action (low risk at once, riskier ones after an approval); `false` (default): plan it only',
      action: "One of the gap's suggested actions by its key; default: the first",
      note: 'Why (redacted before it is stored)',
    }),
    readOnly: false,
    run: (args, { api, signal }) => api({ method: 'POST', path: `${admin}/implementation/remediate`, body: args, signal }),
  },
  {
    name: 'analyze_executions',
    title: 'Analyse the agent executions',
    description:
      "Start a meta-monitor analysis of the executions in a window (the agent's last hour by default): failure clusters, bottlenecks, degradations, recommendations. With `wait` it follows it until it finishes. Needs the operate permission.",
    input: described(AnalyzeBody, {
      timeframe: '`last-1h` (the default), `last-24h` or `last-7d`; or give `from` and `to`',
      from: 'Start of the window (ISO time, with `to`)',
      to: 'End of the window (ISO time, with `from`)',
      focus: '`all` (default), `performance` or `failures`',
      source: '`agent` (default): the executions agents report; `fleet`: this service\'s own jobs',
    }).extend({ wait }),
    readOnly: false,
    run: (args, context) =>
      startAndFollow(context, (args.wait as number | undefined) ?? 0, () => context.api({ method: 'POST', path: `${admin}/meta-monitor/analyze`, body: without(args, 'wait'), signal: context.signal }), {
        id: (accepted) => String(accepted.analysisId),
        status: (id) => ({ method: 'GET', path: `${admin}/meta-monitor/results/${encodeURIComponent(id)}` }),
        done: (s) => s.status === 200,
        percent: percentOf,
      }),
  },
  {
    name: 'execution_insights',
    title: 'Execution insights',
    description: 'Failure clusters, bottlenecks and degradations that the latest analysis found in the executions, newest first.',
    input: latestSource,
    readOnly: true,
    run: (args, { api, signal }) => api({ method: 'GET', path: `${admin}/meta-monitor/insights`, query: queryOf(args), signal }),
  },
  {
    name: 'recommendations',
    title: 'Recommendations',
    description: 'The recommendations of the latest analysis, each with its evidence, expected impact, the action that would carry it out, and whether it is applied.',
    input: latestSource,
    readOnly: true,
    run: (args, { api, signal }) => api({ method: 'GET', path: `${admin}/meta-monitor/recommendations`, query: queryOf(args), signal }),
  },
  {
    name: 'report_executions',
    title: 'Report executions',
    description: `Report what the agent ran (up to ${maxBatchRecords} execution records) for the meta-monitor to analyse; valid records are stored once per executionId, invalid ones named by index and field. Needs the ingest permission.`,
    input: z.object({ executions: z.array(executionRecordSchema).min(1).max(maxBatchRecords) }).strict(),
    check: z.object({ executions: z.array(z.unknown()) }).strict(),
    readOnly: false,
    run: (args, { api, signal }) => api({ method: 'POST', path: `${admin}/meta-monitor/executions`, body: args.executions, signal }),
  },
  {
    name: 'ask_support',
    title: 'Ask the support operator',
    description:
      'Ask the support operator (an LLM routed to Bedrock, MCP or a local model) a question, with facts as context; the text is redacted of personal data first. Needs the operate permission.',
    input: described(AssistBody, {
      question: 'The question, in words',
      context: 'Facts for the question as a JSON object (nested at most a few levels)',
      operation: 'The kind of question, which chooses the route to a model: `standard` by default',
    }),
    readOnly: false,
    run: (args, { api, signal }) => api({ method: 'POST', path: `${admin}/assist`, body: args, signal }),
  },
  {
    name: 'compliance_status',
    title: 'Compliance status',
    description: 'GDPR status measured now: data residency, PII redaction self-test, retention, audit-trail verification and the archive; `compliant` or `violation` with each check.',
    input: noArguments,
    readOnly: true,
    run: (_args, { api, signal }) => api({ method: 'GET', path: `${admin}/compliance/gdpr/status`, signal }),
  },
];

/** A resource: a read of the API under a `bsm://` URI. */
export interface McpResource {
  uri: string;
  name: string;
  title: string;
  description: string;
  path: string;
}

export const mcpResources: McpResource[] = [
  { uri: 'bsm://audit/latest', name: 'latest-audit', title: 'Latest audit report', description: 'The report of the latest finished infrastructure audit (JSON)', path: `${admin}/audit/latest` },
  {
    uri: 'bsm://meta-monitor/analysis/latest',
    name: 'latest-analysis',
    title: 'Latest execution analysis',
    description: 'The latest meta-monitor analysis of the executions: totals, clusters, bottlenecks, degradations, recommendations (JSON)',
    path: `${admin}/meta-monitor/results/latest`,
  },
];
