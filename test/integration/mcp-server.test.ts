/**
 * The MCP server at /mcp, over a real socket, with the SDK's own client: every tool, the role
 * refusals, the audit entries of an acting tool, bad arguments, and the resources.
 */
import type { Server } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/api/auth.js';
import { createApiServer } from '../../src/api/server.js';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';
import { listenOnLoopback } from '../fakes/listen.js';

let t: TestApp;
let server: Server;
let base: string;
const clients: Client[] = [];

async function connect(role: Role): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${tokens[role]}` } } });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const textOf = (r: CallToolResult) => (r.content[0]?.type === 'text' ? r.content[0].text : '');
const structured = <T>(r: CallToolResult) => r.structuredContent as T;
const errorOf = async (res: Response) => ((await res.json()) as { error: { message: string } }).error.message;

const toolNames = [
  'support_status',
  'component_health',
  'trigger_audit',
  'latest_audit',
  'open_gaps',
  'gap_guidance',
  'request_remediation',
  'analyze_executions',
  'execution_insights',
  'recommendations',
  'report_executions',
  'ask_support',
  'compliance_status',
];

beforeAll(async () => {
  t = await makeTestApp('mcp', { workers: ['infrastructure-auditor', 'meta-monitor'] });
  expect((await t.call('POST', '/admin/bedrock-support/enable', { body: {} })).status).toBe(200);
  for (const component of ['infrastructure-auditor', 'meta-monitor']) {
    expect((await t.call('POST', '/admin/bedrock-support/activate-component', { body: { component } })).status).toBe(200);
  }
  server = createApiServer(t.app.fetch);
  base = `http://127.0.0.1:${await listenOnLoopback(server)}`;
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await t?.close();
});

describe('the MCP endpoint', () => {
  it('needs a key: 401 without one or with a wrong one; GET has no session stream to open (405)', async () => {
    const init = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'x', version: '1' } } };
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    const none = await fetch(`${base}/mcp`, { method: 'POST', headers, body: JSON.stringify(init) });
    expect(none.status).toBe(401);
    expect(await errorOf(none)).toBe('missing credentials: send Authorization: Bearer <token>');
    const wrong = await fetch(`${base}/mcp`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${tokens.admin}x` }, body: JSON.stringify(init) });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('cache-control')).toBe('no-store');
    const get = await fetch(`${base}/mcp`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    // The SDK's client refuses to connect without a key too.
    const client = new Client({ name: 'mcp-test', version: '1.0.0' });
    await expect(client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)))).rejects.toThrow(/missing credentials: send Authorization: Bearer <token>/);
  });

  it('lists the tools, each with a description and a JSON schema of its arguments, and the two resources', async () => {
    const client = await connect('viewer');
    const { tools } = await client.listTools();
    expect(tools.map((x) => x.name)).toEqual(toolNames);
    for (const tool of tools) {
      expect(tool.description?.length, tool.name).toBeGreaterThan(40);
      expect(tool.inputSchema.type, tool.name).toBe('object');
    }
    const trigger = tools.find((x) => x.name === 'trigger_audit');
    expect(trigger?.inputSchema.properties).toMatchObject({ priority: { enum: ['high', 'medium', 'low'] }, wait: { type: 'integer', maximum: 300 } });
    expect(trigger?.annotations?.readOnlyHint).toBe(false);
    expect(tools.find((x) => x.name === 'report_executions')?.inputSchema).toMatchObject({ required: ['executions'] });
    // Comma-separated filters say which values they take.
    expect(tools.find((x) => x.name === 'open_gaps')?.inputSchema.properties).toMatchObject({ severity: { type: 'string', description: 'Comma-separated, among: critical, high, medium, low' } });
    const { resources } = await client.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['bsm://audit/latest', 'bsm://meta-monitor/analysis/latest']);
  });

  it('support_status, component_health and compliance_status read what the routes answer', async () => {
    const client = await connect('viewer');
    const status = await call(client, 'support_status');
    expect(status.isError).toBeFalsy();
    const http = (await (await t.call('GET', '/admin/bedrock-support/status', { role: 'viewer' })).json()) as Record<string, unknown>;
    expect(Object.keys(structured<Record<string, unknown>>(status)).sort()).toEqual(Object.keys(http).sort());
    expect(JSON.parse(textOf(status))).toEqual(structured(status));
    expect(structured<{ components: Record<string, { active: boolean }> }>(status).components['meta-monitor']?.active).toBe(true);

    const one = await call(client, 'component_health', { component: 'meta-monitor' });
    expect(structured<{ component: string; status: string }>(one)).toMatchObject({ component: 'meta-monitor', status: expect.stringMatching(/^(healthy|degraded|unhealthy)$/) as unknown });
    const all = await call(client, 'component_health');
    expect(Object.keys(structured<{ components: object }>(all).components)).toContain('compliance');
    expect(structured<{ llm: unknown }>(all).llm).toBeDefined();

    const compliance = await call(client, 'compliance_status');
    expect(structured<{ status: string }>(compliance).status).toMatch(/^(compliant|violation)$/);
  });

  it('a bad argument is an error result naming it, in the words of the route', async () => {
    const client = await connect('operator');
    const bad = await call(client, 'trigger_audit', { priority: 'urgent' });
    const http = await t.call('POST', '/admin/bedrock-support/audit/trigger', { role: 'operator', body: { priority: 'urgent' } });
    expect(http.status).toBe(400);
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toBe(await errorOf(http));
    expect(textOf(bad)).toBe('priority must be one of "high", "medium", "low", got "urgent"');
    expect(structured<{ status: number; error: { details: { field: string } } }>(bad)).toMatchObject({ status: 400, error: { details: { field: 'priority' } } });

    const unknown = await call(client, 'open_gaps', { severity: 'high', colour: 'red' });
    expect(unknown.isError).toBe(true);
    expect(textOf(unknown)).toBe('colour is not a known field');
    const wait = await call(client, 'trigger_audit', { wait: 3600 });
    expect(textOf(wait)).toMatch(/^wait: .*300/);
    const component = await call(client, 'component_health', { component: 'nope' });
    expect(textOf(component)).toMatch(/^component must be one of "bedrock-support", "infrastructure-auditor", .*got "nope"$/);
    // Past the schema, the route's own checks answer: an unknown target id.
    const target = await call(client, 'trigger_audit', { targets: ['no-such-target'] });
    expect(target.isError).toBe(true);
    expect(textOf(target)).toMatch(/^targets: unknown target id "no-such-target"/);
  });

  it('a viewer is refused the tools that act, with the route\'s message, and nothing is recorded', async () => {
    const before = await t.auditTrail.length();
    const client = await connect('viewer');
    const http = await t.call('POST', '/admin/bedrock-support/audit/trigger', { role: 'viewer', body: {} });
    expect(http.status).toBe(403);
    const trigger = await call(client, 'trigger_audit', { wait: 5 });
    expect(trigger.isError).toBe(true);
    expect(textOf(trigger)).toBe(await errorOf(http));
    expect(textOf(trigger)).toBe('role viewer may not operate; needs operator or admin');
    expect(structured<{ status: number }>(trigger).status).toBe(403);
    const remediation = await call(client, 'request_remediation', { gap_id: 'gap-0000000000000000' });
    expect(remediation.isError).toBe(true);
    expect(textOf(remediation)).toBe('role viewer may not operate; needs operator or admin');
    expect(textOf(await call(client, 'report_executions', { executions: [] }))).toBe('role viewer may not ingest; needs ingest or admin');
    expect(await t.auditTrail.length()).toBe(before);
  });

  let auditId = '';
  it('trigger_audit with wait follows the audit until it finished; its route wrote the audit entries, under the MCP request id', async () => {
    const client = await connect('operator');
    const progress: { progress: number; total?: number }[] = [];
    const result = (await client.callTool({ name: 'trigger_audit', arguments: { reason: 'checked by the agent', wait: 60 } }, undefined, { onprogress: (p) => progress.push(p) })) as CallToolResult;
    // The client asked for progress (a progressToken): the last report is the audit finished.
    expect(progress.at(-1)).toMatchObject({ progress: 100, total: 100 });
    expect(result.isError).toBeFalsy();
    const body = structured<{ auditId: string; finished: boolean; waitedMs: number; status: { state: string; summary: { gaps: number } | null } }>(result);
    expect(body.finished).toBe(true);
    expect(body.status.state).toBe('completed');
    expect(body.status.summary?.gaps).toBeGreaterThan(0);
    auditId = body.auditId;
    const entries = (await t.auditTrail.range()).map((e) => e.event);
    const trigger = entries.find((e) => e?.action === 'audit.trigger' && e.target === auditId);
    expect(trigger).toMatchObject({ actor: 'operator-key', details: { reason: 'checked by the agent', priority: 'medium', type: 'comprehensive' } });
    const request = entries.find((e) => e?.action === 'http.request' && e.target === 'POST /admin/bedrock-support/audit/trigger' && (e.details as { requestId?: string }).requestId === (trigger?.details as { requestId?: string }).requestId);
    expect(request).toMatchObject({ actor: 'operator-key', details: { status: 202, role: 'operator', clientRequestId: expect.stringMatching(/^mcp:[0-9a-f-]{36}$/) as unknown } });

    const latest = await call(client, 'latest_audit');
    expect(structured<{ auditId: string }>(latest).auditId).toBe(auditId);
    const resource = await client.readResource({ uri: 'bsm://audit/latest' });
    const content = resource.contents[0];
    expect(content && 'text' in content ? (JSON.parse(content.text) as { auditId: string }).auditId : null).toBe(auditId);
  }, 90_000);

  it('open_gaps, gap_guidance and request_remediation work on the gaps the audit found', async () => {
    const client = await connect('operator');
    const gaps = structured<{ count: number; gaps: { id: string; status: string }[] }>(await call(client, 'open_gaps', { limit: 50 }));
    expect(gaps.count).toBeGreaterThan(0);
    expect(gaps.gaps.every((g) => !['resolved', 'dismissed'].includes(g.status))).toBe(true);
    const gapId = gaps.gaps[0]?.id ?? '';
    const guidance = await call(client, 'gap_guidance', { gap_id: gapId });
    expect(guidance.isError).toBeFalsy();
    expect(structured<{ gapId: string; steps: string[] }>(guidance)).toMatchObject({ gapId, steps: expect.arrayContaining([expect.any(String)]) as unknown });
    const unknown = await call(client, 'gap_guidance', { gap_id: 'gap-nope' });
    expect(textOf(unknown)).toBe('unknown gap "gap-nope": GET /admin/bedrock-support/implementation/gaps lists them');

    // A gap some catalog action fits (the route plans them), remediated as a plan only.
    let planned = '';
    for (const g of gaps.gaps) {
      const http = await t.call('GET', `/admin/bedrock-support/implementation/gaps/${g.id}/remediations`, { role: 'viewer' });
      if (((await http.json()) as { suggestions: unknown[] }).suggestions.length > 0) {
        planned = g.id;
        break;
      }
    }
    expect(planned).not.toBe('');
    const remediation = await call(client, 'request_remediation', { gap_id: planned, note: 'planned by the agent' });
    expect(remediation.isError).toBeFalsy();
    expect(structured<{ request: { gapId: string } }>(remediation).request).toMatchObject({ gapId: planned });
    const entry = (await t.auditTrail.range()).find((e) => e.event?.action === 'http.request' && e.event.target === 'POST /admin/bedrock-support/implementation/remediate');
    expect(entry?.event).toMatchObject({ actor: 'operator-key', details: { status: 202, body: { gap_id: planned, note: 'planned by the agent' }, clientRequestId: expect.stringMatching(/^mcp:/) as unknown } });
    const http = await t.call('POST', '/admin/bedrock-support/implementation/remediate', { role: 'operator', body: { gap_id: 'gap-0000000000000000' } });
    const missing = await call(client, 'request_remediation', { gap_id: 'gap-0000000000000000' });
    expect(missing.isError).toBe(true);
    expect(textOf(missing)).toBe(await errorOf(http));
    expect(structured<{ status: number }>(missing).status).toBe(404);
  });

  it('report_executions (an ingest key), analyze_executions with wait, execution_insights and recommendations', async () => {
    const ingest = await connect('ingest');
    const now = Date.now();
    const executions = Array.from({ length: 24 }, (_, i) => ({
      executionId: `mcp-ex-${i}`,
      timestamp: new Date(now - (i + 1) * 60_000).toISOString(),
      operation: i % 2 === 0 ? 'summarize' : 'deploy',
      status: i % 3 === 0 ? 'failure' : 'success',
      latencyMs: 100 + i * 10,
      ...(i % 3 === 0 ? { error: { type: 'TimeoutError', message: `upstream timed out after ${1000 + i} ms` } } : {}),
    }));
    const reported = await call(ingest, 'report_executions', { executions: [...executions, { executionId: 'bad', status: 'maybe' }] });
    expect(reported.isError).toBeFalsy();
    expect(structured<{ accepted: number; rejected: { index: number; field: string }[] }>(reported)).toMatchObject({ accepted: 24, rejected: [{ index: 24 }] });
    // The ingest key reads nothing.
    expect(textOf(await call(ingest, 'support_status'))).toBe('role ingest may not read; needs viewer or operator or approver or admin');
    expect(textOf(await call(ingest, 'report_executions', { executions: 'all of them' }))).toMatch(/^executions: /);

    const operator = await connect('operator');
    const analysis = await call(operator, 'analyze_executions', { timeframe: 'last-1h', wait: 60 });
    expect(analysis.isError).toBeFalsy();
    const done = structured<{ analysisId: string; finished: boolean; status: { executions: number; statuses: Record<string, number> } }>(analysis);
    expect(done.finished).toBe(true);
    expect(done.status.executions).toBe(24);
    expect(done.status.statuses.failure).toBe(8);
    const insights = structured<{ analysisId: string; insights: { type: string }[] }>(await call(operator, 'execution_insights'));
    expect(insights.analysisId).toBe(done.analysisId);
    expect(insights.insights.some((i) => i.type === 'failure_cluster')).toBe(true);
    const recommendations = structured<{ analysisId: string; recommendations: unknown[] }>(await call(operator, 'recommendations', { source: 'agent' }));
    expect(recommendations.analysisId).toBe(done.analysisId);
    const resource = await operator.readResource({ uri: 'bsm://meta-monitor/analysis/latest' });
    const content = resource.contents[0];
    expect(content && 'text' in content ? (JSON.parse(content.text) as { analysisId: string }).analysisId : null).toBe(done.analysisId);
  }, 90_000);

  it('ask_support asks the operator through the router; its free text is redacted in the audit trail', async () => {
    const client = await connect('operator');
    const answer = await call(client, 'ask_support', { question: 'Why do deploys fail? Mail me at jane.doe@example.com', operation: 'meta_monitor' });
    expect(answer.isError).toBeFalsy();
    expect(structured<{ answer: string; path: string }>(answer)).toMatchObject({ answer: expect.any(String) as unknown, path: 'local' });
    const entry = (await t.auditTrail.range()).reverse().find((e) => e.event?.action === 'http.request' && e.event.target === 'POST /admin/bedrock-support/assist');
    const recorded = JSON.stringify(entry?.event?.details);
    expect(recorded).toContain('Why do deploys fail?');
    expect(recorded).not.toContain('jane.doe@example.com');
  });
  it('a wait that runs out answers what is known: not finished, the job still queued', async () => {
    // The auditor deactivated: its queue is paused, so the audit waits.
    expect((await t.call('POST', '/admin/bedrock-support/deactivate', { body: { components: ['infrastructure-auditor'] } })).status).toBe(200);
    const client = await connect('operator');
    const result = await call(client, 'trigger_audit', { wait: 1 });
    expect(result.isError).toBeFalsy();
    const body = structured<{ finished: boolean; waitedMs: number; status: { state: string } }>(result);
    expect(body).toMatchObject({ finished: false, status: { state: 'queued' } });
    expect(body.waitedMs).toBeGreaterThanOrEqual(1000);
    expect(body.waitedMs).toBeLessThan(5000);
  });
});
