/**
 * `bsm mcp`: the real process, spawned by the SDK's stdio client, as a proxy to a real running
 * service (`bsm all` on a free port): the tools, a role refusal, an audit through the queue and
 * its audit-trail entries, the admin-token file when no BSM_TOKEN is given, and a service that
 * is not there.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { createAuditTrail } from '../../src/store/audit-trail.store.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const operatorToken = 'operator-token-stdio-0123456789';
const viewerToken = 'viewer-token-stdio-0123456789';

let dir: string;
let prefix: string;
let redis: Redis;
let service: ChildProcess & { output: () => string };
let url: string;
const clients: { client: Client; stderr: () => string }[] = [];

/** Starts `bsm mcp` through the SDK's stdio client, with `env` on top of this process's. */
async function mcp(env: Record<string, string>): Promise<{ client: Client; stderr: () => string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--import', 'tsx', 'src/main.ts', 'mcp'],
    env: { ...(process.env as Record<string, string>), LOG_LEVEL: 'info', ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const client = new Client({ name: 'stdio-test', version: '1.0.0' });
  await client.connect(transport);
  const made = { client, stderr: () => stderr };
  clients.push(made);
  return made;
}

const call = async (client: Client, name: string, args: Record<string, unknown> = {}) => (await client.callTool({ name, arguments: args })) as CallToolResult;
const textOf = (r: CallToolResult) => (r.content[0]?.type === 'text' ? r.content[0].text : '');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bsm-mcp-stdio-'));
  prefix = uniquePrefix('mcp-stdio');
  redis = testRedis();
  const port = await freePort();
  url = `http://127.0.0.1:${port}`;
  service = spawnBsm(['all'], {
    PORT: String(port),
    BSM_PREFIX: prefix,
    BSM_DATA_DIR: dir,
    // Its own archive: the hourly checkpoint job writes there, not into the checkout's ./data/archive.
    BSM_ARCHIVE_URL: `file://${join(dir, 'archive')}`,
    BSM_API_KEYS: `operator:operator:${operatorToken},viewer:viewer:${viewerToken}`,
    LOG_LEVEL: 'warn',
  });
  await eventually(async () => (await fetch(`${url}/health`).catch(() => null))?.status === 200, 60_000, 200);
  const post = (path: string, body: unknown) =>
    fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${operatorToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect((await post('/admin/bedrock-support/enable', {})).status).toBe(200);
  expect((await post('/admin/bedrock-support/activate-component', { component: 'infrastructure-auditor' })).status).toBe(200);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map(({ client }) => client.close()));
  service?.kill('SIGTERM');
  if (service) {
    await waitForExit(service, 30_000);
  }
  await deleteKeys(redis, `{${prefix}}`);
  await redis.quit();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('bsm mcp (stdio)', () => {
  it('serves the tools of the service, as the key given; logs go to stderr', async () => {
    const { client, stderr } = await mcp({ BSM_URL: url, BSM_TOKEN: viewerToken });
    const { tools } = await client.listTools();
    expect(tools).toHaveLength(13);
    expect(tools.map((x) => x.name)).toContain('trigger_audit');
    const status = await call(client, 'support_status');
    expect(status.isError).toBeFalsy();
    expect((status.structuredContent as { components: Record<string, { active: boolean }> }).components['infrastructure-auditor']?.active).toBe(true);
    // A viewer may read, not act: the service's refusal, word for word.
    const refused = await call(client, 'trigger_audit', {});
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toBe('role viewer may not operate; needs operator or admin');
    const log = stderr()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { msg: string; url?: string; token?: string });
    expect(log).toEqual(expect.arrayContaining([expect.objectContaining({ msg: 'serving the MCP tools over stdio', url, token: 'BSM_TOKEN' })]));
    expect(stderr()).not.toContain(viewerToken);
  }, 60_000);

  it('an operator triggers an audit and waits for it; the service recorded it under the operator key', async () => {
    // The admin-token file stands in for BSM_TOKEN when none is given (here it holds the operator key).
    const data = join(dir, 'client');
    await rm(data, { recursive: true, force: true });
    await mkdir(data, { recursive: true });
    await writeFile(join(data, 'admin-token'), `${operatorToken}\n`, { mode: 0o600 });
    const { client, stderr } = await mcp({ BSM_URL: url, BSM_DATA_DIR: data, BSM_TOKEN: '' });
    const result = await call(client, 'trigger_audit', { wait: 60, reason: 'from the stdio agent' });
    expect(result.isError).toBeFalsy();
    const body = result.structuredContent as { auditId: string; finished: boolean; status: { state: string } };
    expect(body).toMatchObject({ finished: true, status: { state: 'completed' } });
    expect(stderr()).toContain('admin-token file');
    const entries = (await createAuditTrail(redis, `{${prefix}}`).range()).map((e) => e.event);
    expect(entries.find((e) => e?.action === 'audit.trigger' && e.target === body.auditId)).toMatchObject({ actor: 'operator', details: { reason: 'from the stdio agent' } });
    expect(entries.find((e) => e?.action === 'http.request' && e.target === 'POST /admin/bedrock-support/audit/trigger')).toMatchObject({
      actor: 'operator',
      details: { status: 202, clientRequestId: expect.stringMatching(/^mcp:/) as unknown },
    });
    const latest = await call(client, 'latest_audit');
    expect((latest.structuredContent as { auditId: string }).auditId).toBe(body.auditId);
    const gaps = await call(client, 'open_gaps', { severity: 'critical,high,medium,low' });
    expect(gaps.isError).toBeFalsy();
  }, 90_000);

  it('a service that is not there is an error result naming BSM_URL, not a crash', async () => {
    const nowhere = `http://127.0.0.1:${await freePort()}`;
    const { client } = await mcp({ BSM_URL: nowhere, BSM_TOKEN: viewerToken });
    const result = await call(client, 'support_status');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe(`cannot reach the service at ${nowhere} (BSM_URL): ECONNREFUSED`);
    // Still serving after it.
    expect((await client.listTools()).tools).toHaveLength(13);
  }, 60_000);

  it('without a key it stops at once with one line saying where one comes from', async () => {
    const child = spawnBsm(['mcp'], { BSM_URL: url, BSM_DATA_DIR: join(dir, 'none'), BSM_TOKEN: '' });
    expect(await waitForExit(child)).toBe(2);
    expect(child.output()).toBe(`bsm: bsm mcp needs a key: set BSM_TOKEN (an API key of BSM_API_KEYS), or run it where the service keeps its generated admin token (${join(dir, 'none', 'admin-token')})\n`);
  }, 60_000);
});
