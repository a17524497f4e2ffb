/**
 * The probes against real servers on loopback: an HTTP server with healthy and broken routes, an
 * HTTPS/TLS server whose certificate (from a private CA made with the openssl CLI) expires in three
 * days, a closed port, a name that does not resolve, a second redis-server configured unlike the
 * fleet's, the fleet's queues, and a server that accepts connections and never answers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { targetSchema, type Target } from '../../src/domain/audit/inventory.js';
import type { ProbeOutcome } from '../../src/domain/audit/probe.js';
import type { QueueName } from '../../src/domain/queue-names.js';
import { createProber, type ProberDeps } from '../../src/probes/index.js';
import { freePort } from '../../src/redis-server.js';
import { makeTestFleet, type TestFleet } from '../helpers/fleet.js';
import { close, listen, makeCertificates, startRedisServer } from '../helpers/planted.js';

const redisPassword = 'probe-redis-pw-7f3a91';
const headerToken = 'probe-header-token-c44e02';

let dir: string;
let http: HttpServer;
let httpBase: string;
let https: HttpsServer;
let tlsPort: number;
let silent: NetServer;
let silentPort: number;
const silentSockets = new Set<Socket>();
let closedPort: number;
let redisServer: Awaited<ReturnType<typeof startRedisServer>> | undefined;
let redisPort: number;
let fleet: TestFleet;
let deps: ProberDeps;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'bsm-probes-'));
  await makeCertificates(dir);

  http = createHttpServer((req, res) => {
    const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    switch (req.url ?? '') {
      case '/healthy':
        return json(200, { status: 'ok', checks: { db: 'up' }, version: 3 });
      case '/failing':
        return json(500, { error: 'boom' });
      case '/slow':
        setTimeout(() => json(200, { status: 'ok' }), 400);
        return;
      case '/drifted':
        return json(200, { status: 'degraded', checks: { db: 'up' } });
      case '/guarded':
        return req.headers.authorization === `Bearer ${headerToken}` ? json(200, { status: 'ok' }) : json(401, { error: 'unauthorized' });
      default:
        return json(404, { error: 'not found' });
    }
  });
  httpBase = `http://127.0.0.1:${await listen(http)}`;

  https = createHttpsServer({ key: await readFile(join(dir, 'leaf.key')), cert: await readFile(join(dir, 'leaf.crt')) }, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  });
  tlsPort = await listen(https);

  // Accepts every connection and never says a word.
  silent = createNetServer((socket) => {
    silentSockets.add(socket);
    // Reads (and drops) what comes, so the client's hang-up is seen.
    socket.resume();
    socket.on('close', () => silentSockets.delete(socket));
  });
  silentPort = await listen(silent);

  closedPort = await freePort();
  redisServer = await startRedisServer(['--maxmemory-policy', 'allkeys-lru', '--maxmemory', '64mb', '--appendonly', 'no', '--save', '', '--requirepass', redisPassword]);
  redisPort = redisServer.port;

  fleet = await makeTestFleet('probes');
  deps = {
    fleetReader: fleet.reader,
    oldestWaitingAt: async (name: QueueName) => {
      const jobs = await fleet.fleet.queue(name).getJobs(['waiting', 'prioritized']);
      return jobs.length === 0 ? null : Math.min(...jobs.map((j) => j.timestamp));
    },
    flag: () => Promise.resolve(false),
    llm: { pathStatus: () => Promise.resolve([]), ping: () => Promise.reject(new Error('not used here')) },
    fleetRedis: fleet.client,
    env: { PROBE_TOKEN: headerToken, PROBE_REDIS_URL: `redis://:${redisPassword}@127.0.0.1:${redisPort}` },
    readFile: (path) => readFile(path),
  };
});

afterAll(async () => {
  for (const socket of silentSockets) {
    socket.destroy();
  }
  http?.closeAllConnections();
  https?.closeAllConnections();
  await Promise.all([http && close(http), https && close(https), silent && close(silent)]);
  await redisServer?.stop();
  await fleet?.cleanup();
  if (dir) {
    await rm(dir, { recursive: true, force: true });
  }
});

const base = { component: 'probe-tests', criticality: 'high' } as const;

function target(fields: Record<string, unknown>): Target {
  return targetSchema.parse({ ...base, ...fields });
}

async function probe(fields: Record<string, unknown>, timeoutMs = 5_000): Promise<ProbeOutcome> {
  return createProber(deps).probe(target(fields), { signal: new AbortController().signal, timeoutMs });
}

/** The unmet checks, each with its gap type. */
function unmet(outcome: ProbeOutcome): Record<string, string> {
  return Object.fromEntries(outcome.observations.filter((o) => !o.met).map((o) => [o.check, o.gapType]));
}

function check(outcome: ProbeOutcome, name: string) {
  const found = outcome.observations.find((o) => o.check === name);
  if (!found) {
    throw new Error(`no ${name} observation in ${JSON.stringify(outcome.observations)}`);
  }
  return found;
}

describe('http', () => {
  it('passes a healthy route with the JSON it expects, a header read from the environment', async () => {
    const o = await probe({
      id: 'healthy',
      kind: 'http',
      url: `${httpBase}/healthy`,
      expectJson: { status: 'ok', 'checks.db': 'up', version: 3 },
      headers: { Authorization: { env: 'PROBE_TOKEN' } },
    });
    expect(o.status).toBe('pass');
    expect(o.reach).toEqual({ reachable: true });
    expect(o.observations.map((x) => x.check).sort()).toEqual(['json.checks.db', 'json.status', 'json.version', 'latency', 'reachable', 'status']);
    expect(o.durationMs).toBeGreaterThan(0);
  });

  it('reports a 500 as a broken integration', async () => {
    const o = await probe({ id: 'failing', kind: 'http', url: `${httpBase}/failing`, expectJson: { status: 'ok' } });
    expect(o.status).toBe('fail');
    expect(o.reach).toEqual({ reachable: true });
    expect(unmet(o)).toEqual({ status: 'broken_integration' });
    expect(check(o, 'status')).toMatchObject({ expected: '200', observed: '500' });
  });

  it('reports an answer slower than its budget as a performance issue', async () => {
    const o = await probe({ id: 'slow', kind: 'http', url: `${httpBase}/slow`, latencyBudgetMs: 100 });
    expect(o.status).toBe('fail');
    expect(unmet(o)).toEqual({ latency: 'performance_issue' });
    expect(check(o, 'latency').expected).toBe('< 100 ms');
  });

  it('reports a JSON field with another value as configuration drift, naming what it saw', async () => {
    const o = await probe({ id: 'drifted', kind: 'http', url: `${httpBase}/drifted`, expectJson: { status: 'ok', 'checks.db': 'up', 'checks.cache': 'up' } });
    expect(unmet(o)).toEqual({ 'json.status': 'configuration_drift', 'json.checks.cache': 'configuration_drift' });
    expect(check(o, 'json.status')).toMatchObject({ expected: '"ok"', observed: '"degraded"' });
    expect(check(o, 'json.checks.cache').observed).toBe('absent');
  });

  it('reports a 401 as unauthorized, and never shows the header value', async () => {
    const o = await probe({ id: 'guarded', kind: 'http', url: `${httpBase}/guarded`, headers: { Authorization: 'Bearer wrong-token-value' } });
    expect(o.status).toBe('fail');
    expect(o.reach).toMatchObject({ reachable: false, cause: 'unauthorized' });
    expect(unmet(o)).toEqual({ status: 'broken_integration' });
    expect(JSON.stringify(o)).not.toContain('wrong-token-value');
  });

  it('reports a header whose variable is unset as a configuration gap naming the variable, without sending the request', async () => {
    const o = await probe({ id: 'unset', kind: 'http', url: `${httpBase}/guarded`, headers: { Authorization: { env: 'PROBE_NOT_SET' } } });
    expect(o.status).toBe('fail');
    expect(o.reach).toMatchObject({ reachable: false, cause: 'not_configured' });
    expect(unmet(o)).toEqual({ config: 'configuration_drift' });
    expect(check(o, 'config').observed).toContain('PROBE_NOT_SET');
  });

  it('reports a refused connection, a name that does not resolve and an untrusted certificate as unreachable', async () => {
    const refused = await probe({ id: 'refused', kind: 'http', url: `http://127.0.0.1:${closedPort}/` });
    const dns = await probe({ id: 'nxdomain', kind: 'http', url: 'http://no-such-host.invalid/' });
    const tls = await probe({ id: 'untrusted', kind: 'http', url: `https://localhost:${tlsPort}/` });
    for (const [o, cause] of [[refused, 'refused'], [dns, 'dns'], [tls, 'tls']] as const) {
      expect(o.status).toBe('fail');
      expect(o.reach).toMatchObject({ reachable: false, cause });
      expect(o.observations).toHaveLength(1);
      expect(unmet(o)).toEqual({ reachable: 'broken_integration' });
    }
  });

  it('trusts a private CA given as caFile', async () => {
    const o = await probe({ id: 'private-ca', kind: 'http', url: `https://localhost:${tlsPort}/`, caFile: join(dir, 'ca.crt'), expectJson: { status: 'ok' } });
    expect(o.status).toBe('pass');
  });

  it('reports a CA file that cannot be read as a configuration gap', async () => {
    const o = await probe({ id: 'no-ca', kind: 'http', url: `https://localhost:${tlsPort}/`, caFile: join(dir, 'missing.crt') });
    expect(o.reach).toMatchObject({ reachable: false, cause: 'not_configured' });
    expect(unmet(o)).toEqual({ config: 'configuration_drift' });
    expect(check(o, 'config').observed).toContain('ENOENT');
  });
});

describe('timeout', () => {
  it('reports a server that accepts and never answers as a timeout, closing the connection', async () => {
    const started = performance.now();
    const o = await probe({ id: 'silent', kind: 'http', url: `http://127.0.0.1:${silentPort}/` }, 300);
    const elapsed = performance.now() - started;
    expect(o.status).toBe('fail');
    expect(o.reach).toMatchObject({ reachable: false, cause: 'timeout' });
    expect(unmet(o)).toEqual({ reachable: 'broken_integration' });
    expect(o.durationMs).toBeGreaterThanOrEqual(300);
    // Bounded by the timeout, not by the server (which would never answer).
    expect(elapsed).toBeLessThan(1_500);
    await expect.poll(() => silentSockets.size, { timeout: 2_000 }).toBe(0);
  });
});

describe('tcp', () => {
  it('connects to an open port within its budget', async () => {
    const o = await probe({ id: 'open', kind: 'tcp', host: '127.0.0.1', port: silentPort });
    expect(o.status).toBe('pass');
    expect(o.observations.map((x) => x.check).sort()).toEqual(['latency', 'reachable']);
  });

  it('reports a closed port as refused', async () => {
    const o = await probe({ id: 'closed', kind: 'tcp', host: '127.0.0.1', port: closedPort });
    expect(o.status).toBe('fail');
    expect(o.reach).toMatchObject({ reachable: false, cause: 'refused' });
    expect(unmet(o)).toEqual({ reachable: 'broken_integration' });
  });
});

describe('tls', () => {
  it('reads a valid certificate that expires in 3 days as too close to expiry', async () => {
    const o = await probe({ id: 'expiring', kind: 'tls', host: '127.0.0.1', port: tlsPort, servername: 'localhost', caFile: join(dir, 'ca.crt'), minDaysLeft: 14 });
    expect(o.status).toBe('fail');
    expect(o.reach).toEqual({ reachable: true });
    expect(unmet(o)).toEqual({ 'days-left': 'security_vulnerability' });
    expect(check(o, 'certificate').met).toBe(true);
    expect(check(o, 'name').met).toBe(true);
    const daysLeft = check(o, 'days-left');
    expect(daysLeft.expected).toBe('>= 14 days');
    expect(daysLeft.observed).toMatch(/^2 days \(expires \d{4}-\d\d-\d\dT/);
  });

  it('reports a certificate for another name', async () => {
    const o = await probe({ id: 'wrong-name', kind: 'tls', host: '127.0.0.1', port: tlsPort, servername: 'api.example.org', caFile: join(dir, 'ca.crt'), minDaysLeft: 1 });
    expect(unmet(o)).toEqual({ name: 'security_vulnerability' });
    expect(check(o, 'name')).toMatchObject({ expected: 'a name matching api.example.org', observed: 'DNS:localhost' });
  });

  it('reports a chain to an unknown CA with its verification code', async () => {
    const o = await probe({ id: 'unknown-ca', kind: 'tls', host: '127.0.0.1', port: tlsPort, servername: 'localhost', minDaysLeft: 0 });
    expect(o.reach).toEqual({ reachable: true });
    expect(unmet(o)).toEqual({ certificate: 'security_vulnerability' });
    expect(check(o, 'certificate').observed).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('reports a closed port as refused', async () => {
    const o = await probe({ id: 'tls-closed', kind: 'tls', host: '127.0.0.1', port: closedPort });
    expect(o.reach).toMatchObject({ reachable: false, cause: 'refused' });
    expect(unmet(o)).toEqual({ reachable: 'broken_integration' });
  });

  it('reports a server that does not speak TLS', async () => {
    const o = await probe({ id: 'plain', kind: 'tls', host: '127.0.0.1', port: Number(new URL(httpBase).port) });
    expect(o.reach).toMatchObject({ reachable: false, cause: 'tls' });
  });
});

describe('dns', () => {
  it('reports a name that does not resolve', async () => {
    const o = await probe({ id: 'invalid', kind: 'dns', name: 'no-such-host.invalid' });
    expect(o.status).toBe('fail');
    expect(o.reach).toMatchObject({ reachable: false, cause: 'dns' });
    expect(unmet(o)).toEqual({ resolves: 'broken_integration' });
  });

  it('passes a name that resolves to the addresses expected, and reports one that resolves elsewhere', async () => {
    const same = await probe({ id: 'loopback', kind: 'dns', name: '127.0.0.1', expectAddresses: ['127.0.0.1'] });
    expect(same.status).toBe('pass');
    const moved = await probe({ id: 'moved', kind: 'dns', name: 'localhost', expectAddresses: ['192.0.2.10'] });
    expect(moved.reach).toEqual({ reachable: true });
    expect(unmet(moved)).toEqual({ addresses: 'configuration_drift' });
    expect(check(moved, 'addresses').expected).toBe('192.0.2.10');
  });
});

describe('redis', () => {
  const url = { env: 'PROBE_REDIS_URL' };

  it('reports drift from the policy and persistence expected, never showing the password', async () => {
    const o = await probe({ id: 'cache', kind: 'redis', url, latencyBudgetMs: 1_000, expectEvictionPolicy: 'noeviction', expectAof: true, maxMemoryShare: 0.8 });
    expect(o.status).toBe('fail');
    expect(o.reach).toEqual({ reachable: true });
    expect(unmet(o)).toEqual({ 'eviction-policy': 'configuration_drift', aof: 'configuration_drift' });
    expect(check(o, 'eviction-policy')).toMatchObject({ expected: 'noeviction', observed: 'allkeys-lru' });
    expect(check(o, 'aof')).toMatchObject({ expected: 'on', observed: 'off' });
    expect(check(o, 'memory').observed).toMatch(/% of maxmemory \(.* of 64\.0 MB\)$/);
    expect(JSON.stringify(o)).not.toContain(redisPassword);
  });

  it('passes when it is as expected, and reports memory above its share', async () => {
    const ok = await probe({ id: 'cache-ok', kind: 'redis', url, latencyBudgetMs: 1_000, expectEvictionPolicy: 'allkeys-lru', expectAof: false, maxMemoryShare: 0.8 });
    expect(ok.status).toBe('pass');
    const full = await probe({ id: 'cache-full', kind: 'redis', url, latencyBudgetMs: 1_000, maxMemoryShare: 0.001 });
    expect(unmet(full)).toEqual({ memory: 'performance_issue' });
  });

  it('probes the fleet’s own Redis when no URL is given, and leaves its connection open', async () => {
    const o = await probe({ id: 'fleet-redis', kind: 'redis', latencyBudgetMs: 1_000, expectEvictionPolicy: 'noeviction' });
    expect(o.status).toBe('pass');
    expect(await fleet.client.ping()).toBe('PONG');
  });

  it('reports a wrong password as unauthorized, without showing it', async () => {
    const o = await probe({ id: 'wrong-pw', kind: 'redis', url: `redis://:not-the-password-5d1@127.0.0.1:${redisPort}` });
    expect(o.reach).toMatchObject({ reachable: false, cause: 'unauthorized' });
    expect(unmet(o)).toEqual({ reachable: 'broken_integration' });
    expect(JSON.stringify(o)).not.toContain('not-the-password-5d1');
  });

  it('reports a closed port as refused and an unset variable as a configuration gap', async () => {
    const refused = await probe({ id: 'redis-closed', kind: 'redis', url: `redis://127.0.0.1:${closedPort}` });
    expect(refused.reach).toMatchObject({ reachable: false, cause: 'refused' });
    expect(unmet(refused)).toEqual({ reachable: 'broken_integration' });
    const unset = await probe({ id: 'redis-unset', kind: 'redis', url: { env: 'PROBE_NOT_SET' } });
    expect(unset.reach).toMatchObject({ reachable: false, cause: 'not_configured' });
    expect(unmet(unset)).toEqual({ config: 'configuration_drift' });
    expect(check(unset, 'config').observed).toContain('PROBE_NOT_SET');
  });
});

describe('queue', () => {
  it('reports a queue without workers whose job has waited an hour', async () => {
    await fleet.fleet.queue('compliance').add('probe-waiting', {}, { timestamp: Date.now() - 3_600_000 });
    const o = await probe({ id: 'queue-compliance', kind: 'queue', queue: 'compliance' });
    expect(o.status).toBe('fail');
    expect(o.reach).toEqual({ reachable: true });
    expect(unmet(o)).toEqual({ workers: 'broken_integration', 'oldest-waiting': 'performance_issue' });
    expect(check(o, 'workers')).toMatchObject({ expected: '>= 1', observed: '0 workers' });
    expect(check(o, 'failed-ratio').observed).toMatch(/^too few jobs: 0 finished/);
    expect(Number(check(o, 'oldest-waiting').observed.replace(' s', ''))).toBeGreaterThanOrEqual(3_600);
  });

  it('passes an idle queue that needs no worker', async () => {
    const o = await probe({ id: 'queue-meta', kind: 'queue', queue: 'meta-monitor', minWorkers: 0 });
    expect(o.status).toBe('pass');
    expect(check(o, 'oldest-waiting').observed).toBe('no job waiting');
  });
});
