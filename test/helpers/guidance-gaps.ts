/**
 * Gaps as the sources write them, for the guidance tests: every check each kind of audit target
 * reports (through the probes' own observation helpers and the auditor's `sightingsOf`), the
 * meta-monitor's clusters, bottlenecks and degradations, spec tasks (through the spec scan's own
 * functions) and a gap reported by hand.
 */
import { inventorySchema, type Target } from '../../src/domain/audit/inventory.js';
import type { Observation } from '../../src/domain/audit/probe.js';
import { sightingsOf } from '../../src/domain/audit/run.js';
import { gapFingerprint, gapIdOf, severityOf, type Gap, type GapSighting } from '../../src/domain/gaps/gap.js';
import { scannedTasks, sightingOf, type SpecTarget } from '../../src/domain/gaps/spec-scan.js';
import { clusterSubject, operationSubject } from '../../src/domain/meta-monitor/gap-sightings.js';
import { latencyObservation, misconfigured, observation, unreachable } from '../../src/probes/findings.js';
import { probeFlag } from '../../src/probes/flag.probe.js';

/** Secrets the inventory below holds: none may appear in any guidance. */
export const plantedSecrets = ['s3cret', 'abc123', 'frag-secret', 'hunter2', 'literal-header-value', 'svc-user'];

/** An inventory with one target of each kind, secrets planted in URLs and headers. */
export const guidanceInventory = inventorySchema.parse({
  targets: [
    {
      id: 'api-health',
      kind: 'http',
      component: 'api',
      criticality: 'critical',
      url: 'https://svc-user:s3cret@api.example.com/health?token=abc123#frag-secret',
      headers: { Authorization: { env: 'API_HEALTH_TOKEN' }, 'X-Key': 'literal-header-value' },
      expectJson: { status: 'ok' },
    },
    { id: 'db-port', kind: 'tcp', component: 'db', criticality: 'high', host: 'db.internal', port: 5432 },
    { id: 'api-cert', kind: 'tls', component: 'api', criticality: 'high', host: 'api.example.com', minDaysLeft: 14 },
    { id: 'api-dns', kind: 'dns', component: 'api', criticality: 'medium', name: 'api.example.com', expectAddresses: ['192.0.2.10'] },
    { id: 'cache', kind: 'redis', component: 'cache', criticality: 'high', url: 'redis://:hunter2@cache.internal:6379/0', expectEvictionPolicy: 'noeviction', expectAof: true, maxMemoryShare: 0.8 },
    { id: 'fleet-redis', kind: 'redis', component: 'bedrock-support', criticality: 'critical', maxMemoryShare: 0.8 },
    { id: 'auditor-queue', kind: 'queue', component: 'infrastructure-auditor', criticality: 'high', queue: 'infrastructure-auditor' },
    { id: 'compliance-queue', kind: 'queue', component: 'compliance', criticality: 'medium', queue: 'compliance' },
    { id: 'remediation-off', kind: 'feature-flag', component: 'implementation-support', criticality: 'medium', flag: 'auto-remediation', expected: false },
    { id: 'bedrock', kind: 'llm', component: 'bedrock-support', criticality: 'high', path: 'direct' },
    { id: 'mcp-path', kind: 'llm', component: 'bedrock-support', criticality: 'medium', path: 'mcp' },
    { id: 'app-specs', kind: 'spec', component: 'checkout', criticality: 'high', path: '/srv/checkout-repo' },
  ],
});

export function target(id: string): Target {
  const t = guidanceInventory.targets.find((x) => x.id === id);
  if (!t) {
    throw new Error(`no target ${id} in the guidance inventory`);
  }
  return t;
}

/** A stored gap of a sighting, as the gap store keeps it after one sighting. */
export function stored(s: GapSighting, over: Partial<Gap> = {}): Gap {
  const fingerprint = gapFingerprint(s);
  return {
    ...s,
    id: gapIdOf(fingerprint),
    fingerprint,
    status: 'detected',
    count: 1,
    firstSeenAt: '2026-03-01T10:00:00.000Z',
    lastSeenAt: '2026-03-01T11:00:00.000Z',
    lastSeenBy: 'audit-1',
    reopenedCount: 0,
    history: [{ at: '2026-03-01T10:00:00.000Z', from: null, to: 'detected', by: 'audit-1' }],
    ...over,
  };
}

/** The audit gap of one unmet observation of a target. */
export function auditGap(targetId: string, o: Observation | Observation[]): Gap {
  const t = target(targetId);
  const observations = Array.isArray(o) ? o : [o];
  const [sighting] = sightingsOf(t, { targetId: t.id, kind: t.kind, status: 'fail', durationMs: 1, reach: { reachable: true }, observations });
  if (!sighting) {
    throw new Error(`the observation of ${targetId} was met: no gap`);
  }
  return stored(sighting);
}

const unmet = (check: string, title: string, expected: string, observed: string, type: Observation['gapType']) => observation(check, title, expected, observed, false, type);

/** One gap per check each kind of target reports, with the evidence the probes write. */
export async function auditGaps(): Promise<Record<string, Gap>> {
  const http = 'GET https://api.example.com/health?token=abc123';
  const flag = (await probeFlag(target('remediation-off') as Extract<Target, { kind: 'feature-flag' }>, { flag: () => Promise.resolve(true) })).observations;
  return {
    'http.reachable': auditGap('api-health', unreachable(target('api-health'), 'refused', 'connect ECONNREFUSED 192.0.2.7:443').observations),
    'http.config': auditGap('api-health', misconfigured(target('api-health'), ['environment variable API_HEALTH_TOKEN is not set (header Authorization)']).observations),
    'http.status.503': auditGap('api-health', unmet('status', `${http} answers with status 200`, '200', '503', 'broken_integration')),
    'http.status.401': auditGap('api-health', unmet('status', `${http} answers with status 200`, '200', '401', 'broken_integration')),
    'http.status.301': auditGap('api-health', unmet('status', `${http} answers with status 200`, '200', '301', 'broken_integration')),
    'http.latency': auditGap('api-health', { ...latencyObservation(http, 1834, 1000), met: false }),
    'http.json': auditGap('api-health', unmet('json.status', `${http} answers with status = "ok"`, '"ok"', '"degraded"', 'configuration_drift')),
    'tcp.reachable': auditGap('db-port', unreachable(target('db-port'), 'timeout', 'connect ETIMEDOUT db.internal:5432').observations),
    'tcp.latency': auditGap('db-port', { ...latencyObservation('TCP db.internal:5432', 1420, 1000), met: false }),
    'tls.reachable': auditGap('api-cert', unreachable(target('api-cert'), 'dns', 'getaddrinfo ENOTFOUND api.example.com').observations),
    'tls.config': auditGap('api-cert', misconfigured(target('api-cert'), ['CA file /etc/ssl/private-ca.pem cannot be read (ENOENT)']).observations),
    'tls.certificate': auditGap('api-cert', unmet('certificate', 'TLS api.example.com:443 presents a certificate that chains to a trusted CA', 'a valid chain', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'security_vulnerability')),
    'tls.days-left': auditGap('api-cert', unmet('days-left', 'The certificate of TLS api.example.com:443 is valid for at least 14 more days', '>= 14 days', '9 days (expires 2026-03-10T12:00:00.000Z)', 'security_vulnerability')),
    'tls.name': auditGap('api-cert', unmet('name', 'The certificate of TLS api.example.com:443 is issued for api.example.com', 'a name matching api.example.com', 'DNS:www.example.org', 'security_vulnerability')),
    'dns.resolves': auditGap('api-dns', unmet('resolves', 'api.example.com resolves', 'one or more addresses', 'does not resolve: getaddrinfo ENOTFOUND api.example.com', 'broken_integration')),
    'dns.addresses': auditGap('api-dns', unmet('addresses', 'api.example.com resolves to 192.0.2.10', '192.0.2.10', '198.51.100.4', 'configuration_drift')),
    'redis.reachable': auditGap('cache', unreachable(target('cache'), 'unauthorized', 'WRONGPASS invalid username-password pair').observations),
    'redis.config': auditGap('cache', misconfigured(target('cache'), ['environment variable CACHE_REDIS_URL is not set']).observations),
    'redis.latency': auditGap('cache', { ...latencyObservation('Redis redis://cache.internal:6379/0 (PING)', 240, 100), met: false }),
    'redis.eviction-policy': auditGap('cache', unmet('eviction-policy', 'Redis evicts keys by noeviction', 'noeviction', 'allkeys-lru', 'configuration_drift')),
    'redis.aof': auditGap('cache', unmet('aof', 'Redis has its append-only file on', 'on', 'off', 'configuration_drift')),
    'redis.memory': auditGap('cache', unmet('memory', 'Redis uses at most 80% of its maxmemory', '<= 80% of maxmemory', '93% of maxmemory (952.3 MB of 1024.0 MB)', 'performance_issue')),
    'redis.memory.fleet': auditGap('fleet-redis', unmet('memory', "the fleet's Redis uses at most 80% of its maxmemory", '<= 80% of maxmemory', '91% of maxmemory (466.0 MB of 512.0 MB)', 'performance_issue')),
    'queue.workers': auditGap('auditor-queue', unmet('workers', 'queue infrastructure-auditor has at least 1 live worker', '>= 1', '0 workers (queue paused)', 'broken_integration')),
    'queue.workers.compliance': auditGap('compliance-queue', unmet('workers', 'queue compliance has at least 1 live worker', '>= 1', '0 workers', 'broken_integration')),
    'queue.failed-ratio': auditGap('auditor-queue', unmet('failed-ratio', 'queue infrastructure-auditor fails at most 10% of its jobs', '<= 10% of finished jobs', '40% (4 of 10 in the last 15 min)', 'broken_integration')),
    'queue.oldest-waiting': auditGap('auditor-queue', unmet('oldest-waiting', 'No job waits on queue infrastructure-auditor longer than 900 s', '<= 900 s', '1260 s', 'performance_issue')),
    'feature-flag.value': auditGap('remediation-off', flag),
    'llm.configured': auditGap('bedrock', unmet('configured', 'the direct LLM path is configured', 'configured', 'not configured', 'missing_implementation')),
    'llm.configured.mcp': auditGap('mcp-path', unmet('configured', 'the mcp LLM path is configured', 'configured', 'not configured', 'missing_implementation')),
    'llm.residency': auditGap('bedrock', unmet('residency', 'the direct LLM path sends prompts only to a region inside the allow-list', 'a region inside the allow-list', 'region us-east-1 is outside the EU allow-list', 'security_vulnerability')),
    'llm.breaker': auditGap('bedrock', unmet('breaker', 'The circuit breaker of the direct LLM path is closed', 'closed', 'open since 2026-03-01T10:58:00.000Z (3 consecutive failures)', 'broken_integration')),
    'llm.answers': auditGap('bedrock', unmet('answers', 'the direct LLM path answers a minimal request', 'an answer', 'no answer: AccessDeniedException: not authorized', 'broken_integration')),
    'llm.latency': auditGap('bedrock', { ...latencyObservation('the direct LLM path', 12400, 10000), met: false }),
    'spec.reachable': auditGap('app-specs', unreachable(target('app-specs'), 'unauthorized', 'EACCES: permission denied, scandir /srv/checkout-repo/.kiro/specs').observations),
    'spec.specs-folder': auditGap('app-specs', unmet('specs-folder', '/srv/checkout-repo holds a .kiro/specs folder', 'a .kiro/specs folder', 'no .kiro/specs folder', 'configuration_drift')),
  };
}

/** The meta-monitor's gaps, as `gapSightingsOf` writes them. */
export function metaMonitorGaps(): Record<string, Gap> {
  const base = { source: 'meta-monitor' as const };
  return {
    'failure_cluster.agent': stored({
      ...base,
      subject: clusterSubject('agent', 'c-7f3a'),
      check: 'failure_cluster',
      type: 'broken_integration',
      severity: severityOf('broken_integration', 'high'),
      title: '62.5 % of the failures in run-tool: "tool call timed out after <*> s"',
      components: ['agent'],
      evidence: { expected: 'no failure cluster above 20 % of the failures', observed: '5 of 8 failures (62.5 %), last at 2026-03-01T10:59:00.000Z' },
    }),
    'failure_cluster.fleet': stored({
      ...base,
      subject: clusterSubject('fleet', 'c-19b2'),
      check: 'failure_cluster',
      type: 'broken_integration',
      severity: severityOf('broken_integration', 'medium'),
      title: '40 % of the failures in audit: "connect ECONNREFUSED <*>"',
      components: ['infrastructure-auditor'],
      evidence: { expected: 'no failure cluster above 20 % of the failures', observed: '4 of 10 failures (40 %), last at 2026-03-01T10:59:00.000Z' },
    }),
    'bottleneck:queue_wait': stored({
      ...base,
      subject: operationSubject('fleet', 'audit'),
      check: 'bottleneck:queue_wait',
      type: 'performance_issue',
      severity: severityOf('performance_issue', 'high'),
      title: 'audit: p95 wait in queue infrastructure-auditor 7300 ms over 5000 ms',
      components: ['infrastructure-auditor'],
      evidence: { expected: 'at most 5000 ms', observed: '7300 ms' },
    }),
    'bottleneck:over_budget': stored({
      ...base,
      subject: operationSubject('agent', 'plan-task'),
      check: 'bottleneck:over_budget',
      type: 'performance_issue',
      severity: severityOf('performance_issue', 'high'),
      title: 'plan-task: p95 4100 ms over its budget of 3000 ms across 40 executions',
      components: ['agent'],
      evidence: { expected: 'at most 3000 ms', observed: '4100 ms' },
    }),
    'degradation:error_rate': stored({
      ...base,
      subject: operationSubject('agent', 'run-tool'),
      check: 'degradation:error_rate',
      type: 'broken_integration',
      severity: severityOf('broken_integration', 'high'),
      title: 'P1: error rate of run-tool rose 150 % against the window before',
      components: ['agent'],
      evidence: { expected: 'error rate as in the window before (0.04)', observed: '0.1' },
    }),
  };
}

const specTarget = () => target('app-specs') as SpecTarget;

/** A spec gap of one task of `tasks.md`, through the scan's own functions. */
export function specGap(text: string, line: number, missing: string[] = []): Gap {
  const [task] = scannedTasks('app-specs', 'checkout-history', [{ line, indent: 0, done: false, text, paths: missing }], () => missing);
  const sighting = task ? sightingOf(specTarget(), task) : null;
  if (!sighting) {
    throw new Error('no spec sighting');
  }
  return stored(sighting);
}

export function manualGap(): Gap {
  return stored({
    source: 'manual',
    subject: 'manual:checkout-retries',
    check: 'reported',
    type: 'broken_integration',
    severity: 'high',
    title: 'Checkout retries charge twice; reported by [EMAIL_1]',
    components: ['checkout'],
    evidence: { expected: 'one charge per order', observed: 'two charges for order 1183' },
  });
}

/** Every gap above, by name. */
export async function allGuidanceGaps(): Promise<Record<string, Gap>> {
  return {
    ...(await auditGaps()),
    ...metaMonitorGaps(),
    'spec.task': specGap('2.1 Show the order history per customer', 14),
    'spec.missing': specGap('Build `src/orders/history.ts`', 15, ['src/orders/history.ts']),
    manual: manualGap(),
  };
}
