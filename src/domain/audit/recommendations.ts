/**
 * Rule-based recommendations: one per open gap, always there whether or not a model writes a
 * narrative. Keyed by the target's kind and the check that failed, with a fallback per gap type.
 */
import type { GapType } from '../gaps/gap.js';
import { targetLocation, type Target } from './inventory.js';
import type { Recommendation, ReportGap } from './report.js';

type Rule = (target: Target | undefined, gap: ReportGap) => string;

const where = (t: Target | undefined): string => (t === undefined ? 'the target' : targetLocation(t));

const rules: Record<string, Rule> = {
  'http.reachable': (t, g) => `Bring ${where(t)} back: the auditor could not reach it (${g.evidence.observed}). Check that the service runs and that DNS, firewall and TLS allow the worker hosts.`,
  'http.status': (t, g) => `Fix ${where(t)}: it answered ${g.evidence.observed} where ${g.evidence.expected} is expected. Read the service's logs for the failing requests.`,
  'http.latency': (t, g) => `Find what slows ${where(t)} (${g.evidence.observed}, budget ${g.evidence.expected}): profile the route, its downstream calls and the host's load.`,
  'tcp.reachable': (t) => `Open ${where(t)} or start the service that listens there; if the port moved, update the inventory.`,
  'tcp.latency': (t, g) => `Connecting to ${where(t)} takes ${g.evidence.observed}: look at the network path and the listener's backlog.`,
  'tls.days-left': (t, g) => `Renew the certificate of ${where(t)} now: ${g.evidence.observed} left (minimum ${g.evidence.expected}). Automate renewal (ACME) so it cannot lapse.`,
  'tls.certificate': (t, g) => `Serve a certificate chain clients trust on ${where(t)} (${g.evidence.observed}): include the intermediates, or name the private CA file in the inventory.`,
  'tls.name': (t, g) => `The certificate of ${where(t)} does not carry the expected name (${g.evidence.observed}): issue one for ${g.evidence.expected}.`,
  'dns.resolves': (t) => `Create or fix the DNS record for ${where(t)}; if the name is retired, remove it from the inventory.`,
  'dns.addresses': (t, g) => `${where(t)} resolves to ${g.evidence.observed}, not ${g.evidence.expected}: update the record or the inventory, whichever is wrong.`,
  'redis.eviction-policy': (t, g) => `Set maxmemory-policy ${g.evidence.expected} on ${where(t)} (now ${g.evidence.observed}): an evicting Redis silently drops queue keys.`,
  'redis.aof': (t) => `Turn on appendonly on ${where(t)} so jobs and state survive a restart.`,
  'redis.memory': (t, g) => `${where(t)} uses ${g.evidence.observed} of its maxmemory: raise maxmemory or shorten job retention before writes fail.`,
  'queue.workers': (t) => `Start a worker for ${where(t)} (bsm worker --queues ${t?.kind === 'queue' ? t.queue : '<queue>'}) or activate its component.`,
  'queue.failed-ratio': (t) => `Read the failed jobs of ${where(t)} in Bull Board (/admin/queues) and fix their common cause before retrying them.`,
  'queue.oldest-waiting': (t) => `${where(t)} is not keeping up: add workers or concurrency (BSM_<QUEUE>_CONCURRENCY), or find what blocks the running jobs.`,
  'feature-flag.value': (t, g) => `Set ${where(t)} to ${g.evidence.expected} (POST /admin/feature-flags/${t?.kind === 'feature-flag' ? t.flag : '<flag>'}/${g.evidence.expected === 'enabled' ? 'enable' : 'disable'}), or change the inventory if the new value is intended.`,
  'llm.configured': (t) => `Configure ${where(t)} (BEDROCK_ENABLED and AWS_REGION for direct, MCP_URL for mcp), or drop the target if the path is not used.`,
  'llm.residency': (t, g) => `Move ${where(t)} to an EU region (${g.evidence.observed}): personal data must not leave the allow-list.`,
  'spec.reachable': (t, g) => `Make ${where(t)} readable by the worker processes (${g.evidence.observed}), or correct its path in the inventory.`,
  'spec.specs-folder': (t) => `${where(t)} has no .kiro/specs folder: point the target at the repository root the primary agent writes its specs in.`,
  'llm.breaker': (t) => `${where(t)} has its circuit breaker open: check the provider's errors in /health/detailed; it closes by itself after a successful probe.`,
};

const byType: Record<GapType, Rule> = {
  missing_implementation: (t, g) => `Build or deploy what ${where(t)} should provide (${g.evidence.expected}).`,
  incomplete_feature: (t, g) => `Finish ${where(t)}: ${g.evidence.expected} is not there yet (${g.evidence.observed}).`,
  broken_integration: (t, g) => `Repair ${where(t)}: expected ${g.evidence.expected}, saw ${g.evidence.observed}.`,
  performance_issue: (t, g) => `Speed up ${where(t)}: ${g.evidence.observed} against ${g.evidence.expected}.`,
  security_vulnerability: (t, g) => `Fix the security problem of ${where(t)} first: ${g.evidence.observed} (expected ${g.evidence.expected}).`,
  configuration_drift: (t, g) => `Bring ${where(t)} back to its declared configuration: ${g.evidence.expected} (now ${g.evidence.observed}).`,
};

export function recommendationFor(gap: ReportGap, target: Target | undefined): Recommendation {
  const rule = rules[`${target?.kind ?? ''}.${gap.check}`] ?? byType[gap.type];
  return { priority: gap.severity, gapId: gap.id, text: rule(target, gap) };
}
