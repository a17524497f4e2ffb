/**
 * What the probes share: the shape of what one kind's probe finds, the observations every kind
 * makes the same way (reachability, configuration), how a network error becomes a cause, and how
 * a secret given as `{ env: NAME }` is read. Nothing here writes a secret's value anywhere.
 */
import type { GapType } from '../domain/gaps/gap.js';
import { maskUrl, type SecretValue, type Target } from '../domain/audit/inventory.js';
import type { Observation, Reachability, UnreachableCause } from '../domain/audit/probe.js';
import { isRecord } from '../domain/guards.js';

/** What one kind's probe found: whether it reached the target, and each expectation with what it saw. */
export interface Findings {
  reach: Reachability;
  observations: Observation[];
}

/** What every kind's probe receives besides its own dependencies. */
export interface ProbeContext {
  /** Aborted when the probe's time is up or the audit is cancelled: stop, close what was opened. */
  signal: AbortSignal;
  timeoutMs: number;
}

export function observation(check: string, title: string, expected: string, observed: string, met: boolean, gapType: GapType): Observation {
  return { check, title, expected, observed, met, gapType };
}

/** The target in a few words, for titles: no secret (a URL's password is masked). */
export function describeTarget(target: Target): string {
  switch (target.kind) {
    case 'http':
      return `${target.method} ${maskUrl(target.url)}`;
    case 'tcp':
      return `TCP ${target.host}:${target.port}`;
    case 'tls':
      return `TLS ${target.host}:${target.port}`;
    case 'dns':
      return `the name ${target.name}`;
    case 'redis':
      return target.url === undefined ? "the fleet's Redis" : typeof target.url === 'string' ? `Redis ${maskUrl(target.url)}` : `Redis at $${target.url.env}`;
    case 'queue':
      return `queue ${target.queue}`;
    case 'feature-flag':
      return `feature flag ${target.flag}`;
    case 'llm':
      return `the ${target.path} LLM path`;
    case 'spec':
      return `the spec directory ${target.path}`;
  }
}

/** The `reachable` expectation, met. */
export function reachedObservation(target: Target): Observation {
  return observation('reachable', `${describeTarget(target)} is reachable`, 'reachable', 'reachable', true, 'broken_integration');
}

/** A target the probe could not reach: the cause, and one unmet `reachable` observation. */
export function unreachable(target: Target, cause: UnreachableCause, detail: string): Findings {
  return {
    reach: { reachable: false, cause, detail },
    observations: [observation('reachable', `${describeTarget(target)} is reachable`, 'reachable', `unreachable (${cause}): ${detail}`, false, 'broken_integration')],
  };
}

/** A target that cannot be probed as the inventory describes it (an unset variable, an unreadable CA file): one unmet `config` observation. */
export function misconfigured(target: Target, problems: readonly string[]): Findings {
  const detail = problems.join('; ');
  return {
    reach: { reachable: false, cause: 'not_configured', detail },
    observations: [observation('config', `The auditor has what it needs to probe ${describeTarget(target)}`, 'every variable and file the target names', detail, false, 'configuration_drift')],
  };
}

/** The value of a secret, or the name of the unset environment variable it names. Never logged. */
export function resolveSecret(value: SecretValue, env: NodeJS.ProcessEnv): { value: string } | { missing: string } {
  if (typeof value === 'string') {
    return { value };
  }
  const found = env[value.env];
  return found === undefined || found === '' ? { missing: value.env } : { value: found };
}

export function unsetVariable(name: string): string {
  return `environment variable ${name} is not set`;
}

/** The error's code, when the platform gave one (`ECONNREFUSED`, `CERT_HAS_EXPIRED`, `ERR_SSL_…`). */
export function errorCode(err: unknown): string | undefined {
  if (isRecord(err) && typeof err.code === 'string') {
    return err.code;
  }
  return undefined;
}

const dnsCodes = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA', 'ENODATA', 'ESERVFAIL', 'ENONAME', 'EBADNAME']);
const tlsCodes = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|DEPTH_ZERO_SELF_SIGNED_CERT$|SELF_SIGNED_CERT_IN_CHAIN$|HOSTNAME_MISMATCH$|ERR_OSSL_)/;

/** Why a connection failed, from the error's code (or class, for an abort). */
export function causeOf(err: unknown): UnreachableCause {
  const code = errorCode(err);
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return 'timeout';
  }
  if (code === undefined) {
    return 'other';
  }
  if (dnsCodes.has(code)) {
    return 'dns';
  }
  if (code === 'ECONNREFUSED') {
    return 'refused';
  }
  if (code === 'ETIMEDOUT' || code === 'ABORT_ERR') {
    return 'timeout';
  }
  if (tlsCodes.test(code)) {
    return 'tls';
  }
  return 'other';
}

const maxDetail = 300;

/** An error as one bounded line: its code and message. */
export function describeError(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  const line = code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
  return line.length > maxDetail ? `${line.slice(0, maxDetail - 1)}…` : line;
}

export function formatMs(ms: number): string {
  return `${Math.round(ms)} ms`;
}

/** The `latency` expectation: measured against a budget. */
export function latencyObservation(what: string, measuredMs: number, budgetMs: number): Observation {
  // Under the budget, as the one slow-Redis threshold is read (`domain/fleet/thresholds.ts`: 100 ms or more is slow).
  return observation('latency', `${what} answers in under ${budgetMs} ms`, `< ${budgetMs} ms`, formatMs(measuredMs), measuredMs < budgetMs, 'performance_issue');
}

/** Calls `stop` when `signal` aborts (at once when it already has); returns what stops listening. */
export function onAbort(signal: AbortSignal, stop: () => void): () => void {
  if (signal.aborted) {
    stop();
    return () => undefined;
  }
  signal.addEventListener('abort', stop, { once: true });
  return () => signal.removeEventListener('abort', stop);
}
