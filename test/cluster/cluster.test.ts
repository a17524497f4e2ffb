import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keyLayout } from '../../src/key-layout.js';
import { queueNames } from '../../src/domain/queue-names.js';
import { closeRedis, createRedis } from '../../src/redis.js';
import { freePort } from '../../src/redis-server.js';
import { createExecutionStore } from '../../src/store/executions.store.js';
import { eventually, spawnBsm } from '../helpers/fleet.js';
import { canaries, missingOrRepeated, report } from '../faults/processes.js';
import { startLocalCluster, until, type LocalCluster } from './local-cluster.js';

/**
 * The service on a local Redis Cluster (three masters, a replica of one), started with only a
 * node that owns none of the slots its state lives in as its Redis: the lifecycle, an audit,
 * ingest and an analysis work; the keys spread over all three masters; the master of the
 * compliance queue fails over to its replica while jobs and executions flow, and nothing accepted
 * is lost.
 */
const install = `bsmcl${randomBytes(3).toString('hex')}`;
const layout = keyLayout(install, 'spread');
const token = `cluster-admin-${randomBytes(12).toString('hex')}`;
const hour = 3_600_000;

let cluster: LocalCluster;
let service: ReturnType<typeof spawnBsm>;
let dataDir: string;
let port: number;
let seedPort: number;
let conn: Redis;

const api = (path: string, method = 'GET', body?: unknown) =>
  fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    // A bare POST (no body, no content type) takes the defaults, as the runbook's curl does.
    headers: body === undefined ? { authorization: `Bearer ${token}` } : { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
const json = async <T>(res: Response): Promise<T> => (await res.json()) as T;

const records = (label: string, n: number, at = Date.now() - 60_000) =>
  Array.from({ length: n }, (_, i) => ({ executionId: `${label}-${i}`, timestamp: at - (i % 600) * 1000, operation: `op-${i % 5}`, status: i % 10 === 0 ? 'failure' : 'success', latencyMs: 5 + (i % 200) }));

beforeAll(async () => {
  cluster = await startLocalCluster({ replicaFor: `${layout.queuePrefix('compliance')}:x` });
  // A master that owns the slot of neither the support-mode state nor the audit trail: every first command of start-up is MOVED.
  const owners = new Set([await cluster.ownerOf(`${layout.tag('support-mode')}:x`), await cluster.ownerOf(`${layout.tag('audit-trail')}:x`)]);
  const masters = await cluster.masters();
  seedPort = (masters.find((m) => !owners.has(m.port)) ?? masters[0])?.port ?? 0;
  dataDir = await mkdtemp(join(tmpdir(), 'bsm-cluster-data-'));
  port = await freePort();
  service = spawnBsm(['all'], {
    REDIS_URL: `redis://127.0.0.1:${seedPort}`,
    BSM_PREFIX: install,
    BSM_DATA_DIR: dataDir,
    BSM_ARCHIVE_URL: `file://${join(dataDir, 'archive')}`,
    PORT: String(port),
    BSM_API_KEYS: `admin:admin:${token}`,
    BSM_TWO_PERSON_RULE: 'false',
    LOG_LEVEL: 'info',
    BSM_LOCK_DURATION_MS: '5000',
    BSM_STALLED_INTERVAL_MS: '2000',
    BSM_COMPLIANCE_CONCURRENCY: '8',
    BSM_COMPLIANCE_RATE_MAX: '100000',
    BSM_COMPLIANCE_RATE_DURATION_MS: '1000',
    // The analysis runs as a BullMQ flow of four parts, each slice read from every shard.
    BSM_ANALYSIS_PARTS: '4',
  });
  await eventually(() => Promise.resolve(service.output().includes('api listening') || service.exitCode !== null), 90_000, 100);
  if (service.exitCode !== null) {
    throw new Error(`bsm exited at start-up:\n${service.output()}`);
  }
  conn = createRedis(`redis+cluster://127.0.0.1:${seedPort}`, 'blocking', 'cluster-test');
  conn.on('error', () => undefined);
}, 150_000);

afterAll(async () => {
  if (service && service.exitCode === null) {
    service.kill('SIGKILL');
  }
  if (conn) {
    await closeRedis(conn);
  }
  await cluster?.stop();
  if (dataDir) {
    await rm(dataDir, { recursive: true, force: true });
  }
});

describe('on a Redis Cluster', () => {
  it('starts with a seed node that owns none of its state, and runs the lifecycle, an audit, ingest and an analysis', async () => {
    expect(service.output()).toContain('using Redis Cluster');
    expect(service.output()).not.toMatch(/MOVED \d|CROSSSLOT|CLUSTERDOWN|Unhandled|ReplyError/);
    expect((await api('/admin/bedrock-support/enable', 'POST', { active: false, reason: 'cluster test' })).status).toBe(200);
    const activated = await api('/admin/bedrock-support/activate', 'POST', { components: ['all'], reason: 'cluster test' });
    expect(activated.status).toBe(200);
    expect((await json<{ status: string }>(await api('/admin/bedrock-support/status'))).status).toBe('active');

    const audit = await api('/admin/bedrock-support/audit/trigger', 'POST');
    expect(audit.status).toBe(202);
    const { statusUrl } = await json<{ statusUrl: string }>(audit);
    await eventually(async () => (await json<{ state: string }>(await api(statusUrl))).state === 'completed', 60_000, 200);

    const batch = records('first', 3_000);
    const ingested = await json<{ accepted: number; duplicates: number }>(await api('/admin/bedrock-support/meta-monitor/executions', 'POST', batch));
    expect(ingested).toMatchObject({ accepted: 3_000, duplicates: 0 });
    // Again: every record meets its first copy in its own shard.
    const again = await json<{ accepted: number; duplicates: number }>(await api('/admin/bedrock-support/meta-monitor/executions', 'POST', batch.slice(0, 500)));
    expect(again).toMatchObject({ accepted: 0, duplicates: 500 });

    const started = await api('/admin/bedrock-support/meta-monitor/analyze', 'POST', { timeframe: 'last-1h' });
    expect(started.status).toBe(202);
    const { resultUrl } = await json<{ resultUrl: string }>(started);
    const result = await eventually(async () => {
      const r = await api(resultUrl);
      return r.status === 200 ? json<{ executions: number; statuses: Record<string, number>; performance: { records: number; parts: number } }>(r) : null;
    }, 60_000, 200);
    expect(result.performance.records).toBe(3_000);
    expect(result.performance.parts).toBe(4);
    expect(result.executions).toBe(3_000);
    expect(result.statuses).toMatchObject({ success: 2_700, failure: 300 });
  }, 150_000);

  it('spreads its keys over all three masters: each queue and store under its own tag, executions over sixteen', async () => {
    const masters = await cluster.masters();
    expect(masters).toHaveLength(3);
    const perMaster = await Promise.all(masters.map(async (m) => ({ port: m.port, keys: await cluster.keysOn(m.port) })));
    report('cluster keys', { perMaster: perMaster.map((m) => `${m.port}:${m.keys}`).join(',') });
    for (const m of perMaster) {
      expect(m.keys).toBeGreaterThan(0);
    }
    // The queues' tags and the executions' shards land on more than one master each.
    const queueOwners = new Set(await Promise.all(queueNames.map((q) => cluster.ownerOf(`${layout.queuePrefix(q)}:x`))));
    const shardOwners = new Set(await Promise.all(layout.executionTags().map((t) => cluster.ownerOf(`${t}:x`))));
    expect(queueOwners.size).toBeGreaterThan(1);
    expect(shardOwners.size).toBe(3);
  }, 60_000);

  it('an API process given only REDIS_CLUSTER_NODES shares the state: the same support mode, the same audit', async () => {
    const apiPort = await freePort();
    const other = spawnBsm(['api'], { REDIS_URL: '', REDIS_CLUSTER_NODES: `127.0.0.1:${seedPort}`, BSM_PREFIX: install, BSM_DATA_DIR: dataDir, PORT: String(apiPort), BSM_API_KEYS: `admin:admin:${token}`, LOG_LEVEL: 'info' });
    try {
      await eventually(() => Promise.resolve(other.output().includes('api listening') || other.exitCode !== null), 90_000, 100);
      expect(other.output()).toContain('api listening');
      expect(other.output()).toContain('using Redis Cluster');
      const get = (path: string) => fetch(`http://127.0.0.1:${apiPort}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(20_000) });
      expect((await json<{ status: string }>(await get('/admin/bedrock-support/status'))).status).toBe('active');
      const latest = await get('/admin/bedrock-support/audit/latest');
      expect(latest.status).toBe(200);
      expect((await get('/health')).status).toBe(200);
    } finally {
      other.kill('SIGKILL');
    }
  }, 120_000);

  it('fails over the master of the compliance queue while jobs and executions flow, and loses none', async () => {
    const queue = new Queue('compliance', { connection: conn, prefix: layout.queuePrefix('compliance') });
    queue.on('error', () => undefined);
    const oldMaster = await cluster.ownerOf(`${layout.queuePrefix('compliance')}:x`);
    const replicaPort = (await Promise.all(cluster.nodes.map(async (n) => ({ n, role: (await cluster.node(n.port).info('replication')).match(/role:(\w+)/)?.[1] })))).find((x) => x.role === 'slave')?.n.port;
    expect(replicaPort).toBeDefined();

    const added: Job[] = [];
    let accepted = 0;
    let adding = true;
    const adder = (async () => {
      for (let round = 0; adding || round < 5; round++) {
        added.push(...(await queue.addBulk(canaries(40, `cluster-${round}`, (i) => 10 + (i % 20)))));
        const r = await api('/admin/bedrock-support/meta-monitor/executions', 'POST', records(`flow-${round}`, 200));
        if (r.status === 200) {
          accepted += (await json<{ accepted: number }>(r)).accepted;
        }
        await new Promise((done) => setTimeout(done, 50));
      }
    })();
    await eventually(async () => (await queue.getCompletedCount()) >= 100, 60_000, 100);

    // The replica takes over (CLUSTER FAILOVER: the master stops taking writes until the replica has
    // all of them), then the old master is killed outright.
    const failoverAt = Date.now();
    await cluster.node(replicaPort as number).cluster('FAILOVER');
    await until('the replica is the master of the compliance queue', async () => (await cluster.ownerOf(`${layout.queuePrefix('compliance')}:x`)) === replicaPort);
    const promotedMs = Date.now() - failoverAt;
    cluster.nodes.find((n) => n.port === oldMaster)?.process.kill('SIGKILL');
    await new Promise((done) => setTimeout(done, 3_000));
    adding = false;
    await adder;

    const total = added.length;
    await eventually(async () => (await queue.getCompletedCount()) + (await queue.getFailedCount()) >= total, 120_000, 250);
    const completed = await queue.getJobs(['completed'], 0, -1);
    const failed = await queue.getJobs(['failed'], 0, -1);
    const { missing, repeated } = missingOrRepeated(added, completed);
    report('cluster failover', { jobs: total, completed: completed.length, failed: failed.length, promotedMs, executionsAccepted: accepted });
    expect(failed).toHaveLength(0);
    expect(missing).toEqual([]);
    expect(repeated).toEqual([]);

    // Every execution the API accepted is there, in its shard.
    const store = createExecutionStore(conn, layout.executionTags(), { retentionDays: 1 });
    const ids = new Set<string>();
    for await (const r of store.window(new Date(Date.now() - hour), new Date(Date.now() + 1))) {
      if (r.executionId.startsWith('flow-')) {
        ids.add(r.executionId);
      }
    }
    expect(ids.size).toBe(accepted);
    expect(service.exitCode).toBeNull();
    expect((await api('/health')).status).toBeLessThan(500);
    // The failover is an outage of one node at most: logged as one, never a stack trace.
    const errors = service.output().split('\n').filter((l) => l.includes('"level":"ERROR"') || l.includes('"level":"FATAL"'));
    const warnings = service.output().split('\n').filter((l) => l.includes('"level":"WARN"'));
    report('cluster failover log', { warnings: warnings.length, errors: errors.length, warned: warnings.map((l) => (JSON.parse(l) as { msg?: string; err?: string }).err ?? '').join(' | ') });
    expect(errors.map((l) => l.slice(0, 300))).toEqual([]);
    expect(service.output()).not.toMatch(/Unhandled|ReplyError|\n\s+at /);
    await queue.close();
  }, 240_000);
});
