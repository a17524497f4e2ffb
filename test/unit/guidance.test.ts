import { describe, expect, it } from 'vitest';
import { loadConfig, queueEnvName } from '../../src/config.js';
import { targetSchema, type Target } from '../../src/domain/audit/inventory.js';
import { featureFlagNames } from '../../src/domain/feature-flags.js';
import type { Gap } from '../../src/domain/gaps/gap.js';
import { guidanceFor, redactedGap, safeUrl, settingName, targetOfGap, withoutUrlSecrets, type Guidance } from '../../src/domain/implementation/guidance.js';
import { queueNames } from '../../src/domain/queue-names.js';
import { allGuidanceGaps, auditGaps, guidanceInventory, manualGap, metaMonitorGaps, plantedSecrets, specGap, stored, target } from '../helpers/guidance-gaps.js';

const targets = guidanceInventory.targets;
const guide = (gap: Gap): Guidance => guidanceFor(gap, targetOfGap(gap, targets));
const text = (g: Guidance) => JSON.stringify(g);
const reprobe = (id: string) => `POST /admin/bedrock-support/audit/trigger with {"type":"targeted","targets":["${id}"]}`;

const audit = await auditGaps();
const gaps = await allGuidanceGaps();
const gapOf = (name: string): Gap => {
  const gap = gaps[name];
  if (!gap) {
    throw new Error(`no fixture gap ${name}`);
  }
  return gap;
};

describe('guidance for audit gaps, per kind and check', () => {
  it('every audit gap names its target, quotes its evidence and says how to re-probe it alone', () => {
    for (const [name, gap] of Object.entries(audit)) {
      const g = guide(gap);
      expect(g.steps.join('\n'), name).toContain(reprobe(gap.subject));
      expect(g.steps[0], name).toContain(`target ${gap.subject}`);
      expect(g.steps[0], name).toContain(redactedGap(gap).evidence.observed);
      expect(g.references, name).toContain(`GET /admin/bedrock-support/implementation/gaps/${gap.id} (the gap: evidence, sightings, history)`);
      expect(g.rollback.length, `${name}: rollback`).toBeGreaterThan(0);
      expect(g.risks.length, `${name}: risks`).toBeGreaterThan(0);
    }
  });

  it('every check a probe reports has a rule of its own, not only the gap type\'s', () => {
    // The type's fallback starts with one of these; a check with a rule of its own says more.
    const fallback = /^(Build or deploy what|Finish |Repair |Find what slows|Fix the security problem of|Bring .* back to its declared configuration)/;
    for (const [name, gap] of Object.entries(audit)) {
      expect(guide(gap).steps.filter((s) => fallback.test(s)), name).toEqual([]);
    }
    // A check no rule knows falls back on its type.
    const unknown = stored({ ...gapOf('http.status.503'), check: 'surprise', type: 'configuration_drift' });
    expect(guide(unknown).steps.some((s) => s.startsWith('Bring GET https://api.example.com/health back to its declared configuration'))).toBe(true);
  });

  it('http status: the service\'s own health and logs, the URL and statuses from the inventory, and what each class of status means', () => {
    const g503 = guide(gapOf('http.status.503'));
    expect(g503.steps[0]).toBe('api-health: GET https://api.example.com/health answers with status 200: expected 200, observed 503 (target api-health, component api, criticality critical; last seen 2026-03-01T11:00:00.000Z).');
    expect(g503.steps.join('\n')).toMatch(/A 503 is api failing: read its own health and logs around 2026-03-01T11:00:00.000Z/);
    expect(g503.configurationChanges.map((c) => c.setting)).toEqual(['inventory api-health.expectStatus']);

    const g401 = guide(gapOf('http.status.401'));
    expect(g401.steps.join('\n')).toContain('the target sends the headers (Authorization, X-Key), read from API_HEALTH_TOKEN');
    expect(g401.configurationChanges.map((c) => c.setting)).toEqual(['inventory api-health.headers']);

    const g301 = guide(gapOf('http.status.301'));
    expect(g301.steps.join('\n')).toContain('A 301 is a redirect, which the probe does not follow');
    expect(g301.configurationChanges.map((c) => c.setting)).toEqual(['inventory api-health.url']);
  });

  it('http: reachability by its cause, a missing variable, latency against its budget, a JSON field', () => {
    expect(guide(gapOf('http.reachable')).steps.join('\n')).toContain("Nothing accepts connections there: check that api's service runs");
    expect(guide(gapOf('http.reachable')).steps.join('\n')).toContain('GET /admin/bedrock-support/audit/permissions');
    expect(guide(gapOf('http.config')).steps).toContain('Set API_HEALTH_TOKEN in the environment of every worker process of infrastructure-auditor (the probes run there, and read it on every probe; the value is never stored).');
    expect(guide(gapOf('http.latency')).steps[0]).toContain('expected < 1000 ms, observed 1834 ms');
    expect(guide(gapOf('http.latency')).configurationChanges.map((c) => c.setting)).toEqual(['inventory api-health.latencyBudgetMs']);
    expect(guide(gapOf('http.json')).steps[0]).toContain('expected "ok", observed "degraded"');
    expect(guide(gapOf('http.json')).steps.join('\n')).toContain('changed the status it reports');
  });

  it('tls: renew a certificate running out, with the days left from the evidence; chain and name', () => {
    const g = guide(gapOf('tls.days-left'));
    expect(g.steps[1]).toBe('Renew the certificate api.example.com:443 serves for api.example.com: 9 days (expires 2026-03-10T12:00:00.000Z) left, the inventory wants >= 14 days.');
    expect(g.configurationChanges).toEqual([]);
    expect(g.rollback.join('\n')).toContain('Keep the certificate and key served now');
    expect(guide(gapOf('tls.certificate')).configurationChanges.map((c) => c.setting)).toEqual(['inventory api-cert.caFile']);
    expect(guide(gapOf('tls.name')).steps.join('\n')).toContain('carries DNS:www.example.org, not api.example.com');
    expect(guide(gapOf('tls.reachable')).steps.join('\n')).toContain('The name does not resolve from the worker hosts');
  });

  it('redis: eviction policy and AOF by CONFIG SET with their rollback; memory of the fleet\'s own Redis names its retention settings', () => {
    const policy = guide(gapOf('redis.eviction-policy'));
    expect(policy.steps.join('\n')).toContain('CONFIG SET maxmemory-policy noeviction');
    expect(policy.rollback.join('\n')).toContain('CONFIG SET maxmemory-policy allkeys-lru');
    expect(policy.configurationChanges).toEqual([expect.objectContaining({ setting: 'redis maxmemory-policy', change: 'allkeys-lru → noeviction' })]);
    expect(guide(gapOf('redis.aof')).steps.join('\n')).toContain('CONFIG SET appendonly yes');
    expect(guide(gapOf('redis.memory')).configurationChanges.map((c) => c.setting)).toEqual(['redis maxmemory']);
    expect(guide(gapOf('redis.memory.fleet')).configurationChanges.map((c) => c.setting)).toEqual([
      'redis maxmemory',
      'BSM_KEEP_COMPLETED_HOURS',
      'BSM_KEEP_FAILED_HOURS',
      'BSM_KEEP_COMPLETED_COUNT',
      'BSM_KEEP_FAILED_COUNT',
      'BSM_EXECUTION_RETENTION_DAYS',
    ]);
    expect(guide(gapOf('redis.reachable')).steps.join('\n')).toContain("The target refused the auditor's credentials");
  });

  it('queues: a paused queue is activated through its component; failures are clustered by the meta-monitor and retried after the fix', () => {
    const workers = guide(gapOf('queue.workers'));
    expect(workers.steps.join('\n')).toContain('POST /admin/bedrock-support/activate-component with {"component":"infrastructure-auditor"}');
    expect(workers.rollback).toEqual(['POST /admin/bedrock-support/deactivate with {"components":["infrastructure-auditor"]} (operate) pauses the queue again.']);
    // compliance is a queue, not a component: no activation, a worker.
    const compliance = guide(gapOf('queue.workers.compliance'));
    expect(compliance.steps.join('\n')).not.toContain('activate-component');
    expect(compliance.steps.join('\n')).toContain('`bsm worker --queues compliance`');

    const failed = guide(gapOf('queue.failed-ratio'));
    expect(failed.steps.join('\n')).toContain('POST /admin/bedrock-support/meta-monitor/analyze with {"source":"fleet","focus":"failures"}');
    expect(failed.steps.join('\n')).toContain('GET /admin/bedrock-support/meta-monitor/insights?source=fleet');
    expect(failed.steps.join('\n')).toContain('retry the failed jobs from Bull Board');
    expect(failed.steps[0]).toContain('expected <= 10% of finished jobs, observed 40% (4 of 10 in the last 15 min)');

    expect(guide(gapOf('queue.oldest-waiting')).configurationChanges.map((c) => c.setting)).toEqual([queueEnvName('infrastructure-auditor', 'CONCURRENCY')]);
  });

  it('a feature flag: the change the inventory expects, with the flag\'s permission, and the opposite as rollback', () => {
    const g = guide(gapOf('feature-flag.value'));
    expect(g.steps[0]).toContain('expected disabled, observed enabled');
    expect(g.steps.join('\n')).toContain('POST /admin/feature-flags/auto-remediation/disable with {"reason": "…"} (administer)');
    expect(g.rollback[0]).toBe('POST /admin/feature-flags/auto-remediation/enable (administer).');
    expect(g.configurationChanges[0]).toMatchObject({ setting: 'feature flag auto-remediation', change: 'enabled → disabled' });
  });

  it('llm paths: what to configure per path, residency, an open breaker, an unanswered request', () => {
    expect(guide(gapOf('llm.configured')).configurationChanges.map((c) => c.setting)).toEqual(['BEDROCK_ENABLED', 'AWS_REGION']);
    expect(guide(gapOf('llm.configured.mcp')).configurationChanges.map((c) => c.setting)).toEqual(['MCP_URL', 'MCP_REGION']);
    expect(guide(gapOf('llm.residency')).risks.join('\n')).toContain('BSM_ALLOW_NON_EU_REGION=true would silence this check');
    expect(guide(gapOf('llm.breaker')).steps.join('\n')).toContain('GET /health/bedrock-support/detailed');
    expect(guide(gapOf('llm.answers')).steps.join('\n')).toContain('POST /test/bedrock-support/infrastructure-auditor');
    expect(guide(gapOf('llm.latency')).configurationChanges.map((c) => c.setting)).toEqual(['inventory bedrock.latencyBudgetMs', 'BSM_ROUTING_MATRIX']);
  });

  it('a target the inventory no longer holds: say so and how to dismiss, no re-probe', () => {
    const gap = gapOf('http.status.503');
    const g = guidanceFor(gap, undefined);
    expect(g.steps[0]).toContain('Target api-health is no longer in the inventory in force');
    expect(g.steps.join('\n')).toContain(`POST /admin/bedrock-support/implementation/gaps/${gap.id}/dismiss`);
    expect(g.steps.join('\n')).not.toContain('audit/trigger');
  });
});

describe('guidance for spec, meta-monitor and hand-reported gaps', () => {
  it('an open task: the spec file and line under the target\'s directory, the task, and the scan that resolves it', () => {
    const g = guide(specGap('2.1 Show the order history per customer', 14));
    expect(g.steps[0]).toBe('Open .kiro/specs/checkout-history/tasks.md at line 14 under /srv/checkout-repo: the task "Show the order history per customer" is open.');
    expect(g.steps.join('\n')).toContain('POST /admin/bedrock-support/implementation/spec-scan with {"targets":["app-specs"]}');
    expect(g.rollback).toEqual(['Untick it ([ ]): the next scan reopens the gap.']);
  });

  it('a task naming a missing file: create it at its path, and what the scan then makes of the gap', () => {
    const g = guide(specGap('Build `src/orders/history.ts`', 15, ['src/orders/history.ts']));
    expect(g.steps).toContain('Create src/orders/history.ts under /srv/checkout-repo: the task names it and it does not exist.');
    expect(g.steps.join('\n')).toContain('the gap becomes an incomplete_feature gap');
    expect(g.risks[0]).toContain('an empty file satisfies it');
  });

  it('a spec target gone from the inventory: said, since no scan will resolve the gap', () => {
    const gap = specGap('Show the order history', 3);
    expect(targetOfGap(gap, targets.filter((t) => t.id !== 'app-specs'))).toBeUndefined();
    expect(guidanceFor(gap, undefined).risks.join('\n')).toContain('The target is not in the inventory');
  });

  it('meta-monitor: a fleet cluster is retried after the fix, an agent cluster is not; a queue wait names the queue\'s concurrency', () => {
    const m = metaMonitorGaps();
    const fleet = guide(m['failure_cluster.fleet'] as Gap);
    expect(fleet.steps.join('\n')).toContain('GET /admin/bedrock-support/meta-monitor/insights?source=fleet lists the cluster (id c-19b2)');
    expect(fleet.steps.join('\n')).toContain('Read the failed jobs of infrastructure-auditor in Bull Board (/admin/queues)');
    const agent = guide(m['failure_cluster.agent'] as Gap);
    expect(agent.steps.join('\n')).toContain("The failures are the agent's own executions");
    expect(agent.steps.join('\n')).not.toContain('Bull Board');
    expect(agent.steps.join('\n')).toContain('POST /admin/bedrock-support/meta-monitor/analyze with {"source":"agent","focus":"failures"}');
    expect(guide(m['bottleneck:queue_wait'] as Gap).configurationChanges.map((c) => c.setting)).toEqual(['BSM_INFRASTRUCTURE_AUDITOR_CONCURRENCY']);
    expect(guide(m['bottleneck:over_budget'] as Gap).steps.join('\n')).toContain('Profile plan-task');
    expect(guide(m['degradation:error_rate'] as Gap).steps.join('\n')).toContain('Find what changed between the two windows for run-tool');
  });

  it('a gap reported by hand: its own words, the backlog, and closing it by dismissal', () => {
    const gap = manualGap();
    const g = guide(gap);
    expect(g.steps[0]).toBe('Reported by hand: Checkout retries charge twice; reported by [EMAIL_1] (expected: one charge per order; observed: two charges for order 1183), in checkout.');
    expect(g.steps.join('\n')).toContain(`POST /admin/bedrock-support/implementation/backlog/prioritize with {"items":[{"id":"${gap.id}","priority":"high"}]}`);
    expect(g.steps.join('\n')).toContain(`POST /admin/bedrock-support/implementation/gaps/${gap.id}/dismiss`);
  });

  it('a resolved or dismissed gap says so first', () => {
    const resolved = guide(stored(manualGap(), { status: 'resolved', resolvedAt: '2026-03-01T12:00:00.000Z', resolvedBy: 'audit-9' }));
    expect(resolved.steps[0]).toBe('This gap is resolved by audit-9 at 2026-03-01T12:00:00.000Z: the steps below are for when it is seen again.');
    const dismissed = guide(stored(manualGap(), { status: 'dismissed', dismissed: { by: 'operator-key', reason: 'asked by jane.doe@example.com', at: '2026-03-01T12:00:00.000Z' } }));
    expect(dismissed.steps[0]).toContain('dismissed by operator-key');
    expect(dismissed.steps[0]).not.toContain('jane.doe');
  });
});

describe('what guidance never says', () => {
  it('no secret of the inventory or the evidence: URL user information, query, fragment, header values', () => {
    for (const [name, gap] of Object.entries(gaps)) {
      const all = text(guide(gap)) + JSON.stringify(redactedGap(gap));
      for (const secret of plantedSecrets) {
        expect(all, `${name}: ${secret}`).not.toContain(secret);
      }
    }
    expect(safeUrl('https://u:p@h.example/x?token=t#f')).toBe('https://h.example/x');
    expect(withoutUrlSecrets('GET https://h.example/x?token=t, then redis://:pw@cache:6379/0')).toBe('GET https://h.example/x, then redis://cache:6379/0');
  });

  it('no number that is not in the gap or its target: figures come from the evidence', () => {
    for (const [name, gap] of Object.entries(gaps)) {
      const t = targetOfGap(gap, targets);
      const sources = JSON.stringify([gap.title, gap.subject, gap.evidence, gap.lastSeenAt, t ?? null]);
      const said = text(guide(gap))
        .replaceAll(gap.id, '')
        .replace(/\d{4}-\d{2}-\d{2}T[\d:.]+Z/g, (iso) => (sources.includes(iso) ? '' : iso))
        // Names that hold digits: placeholders, p95, routes.
        .replace(/\[[A-Z0-9]+_\d+\]|\bp95\b|window=1h|last-24h/g, '');
      const numbers = said.match(/\d+(\.\d+)?/g) ?? [];
      expect(
        numbers.filter((n) => !sources.includes(n)),
        name,
      ).toEqual([]);
    }
  });

  it('every setting named exists: a variable of the settings, an inventory field of the target\'s kind, a flag, a Redis parameter', () => {
    const variables = new Set([...Object.keys(loadConfig({})), ...queueNames.flatMap((q) => ['CONCURRENCY', 'RATE_MAX', 'RATE_DURATION_MS'].map((s) => queueEnvName(q, s)))]);
    const fieldsOf = (kind: Target['kind']) => Object.keys(targetSchema.options.find((o) => o.shape.kind.value === kind)?.shape ?? {});
    const redisParameters = ['maxmemory-policy', 'appendonly', 'maxmemory'];
    let checked = 0;
    for (const [name, gap] of Object.entries(gaps)) {
      const g = guide(gap);
      for (const { setting } of g.configurationChanges) {
        checked += 1;
        const inventory = /^inventory ([a-z0-9._-]+)\.(\w+)$/.exec(setting);
        if (inventory) {
          expect(fieldsOf(target(inventory[1] ?? '').kind), `${name}: ${setting}`).toContain(inventory[2]);
        } else if (setting.startsWith('feature flag ')) {
          expect(featureFlagNames, `${name}: ${setting}`).toContain(setting.slice('feature flag '.length));
        } else if (setting.startsWith('redis ')) {
          expect(redisParameters, `${name}: ${setting}`).toContain(setting.slice('redis '.length));
        } else {
          expect([...variables], `${name}: ${setting}`).toContain(setting);
        }
      }
      // Variables named anywhere in the text exist too.
      for (const variable of text(g).match(/\b(?:BSM|AWS|MCP|BEDROCK)_[A-Z0-9_]+\b/g) ?? []) {
        expect([...variables], `${name}: ${variable}`).toContain(variable);
      }
    }
    expect(checked).toBeGreaterThan(30);
    // The check itself notices a setting that does not exist.
    expect([...variables]).not.toContain(settingName.env('BSM_NO_SUCH_SETTING'));
    expect(fieldsOf('http')).not.toContain('latencyBudget');
  });
});
