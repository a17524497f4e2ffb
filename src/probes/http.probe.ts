/**
 * The `http` kind: one request over a fresh connection (no keep-alive pool, so every probe
 * measures a whole exchange), its status, how long the whole answer took, and fields of its JSON
 * body. Header values and URL passwords never reach an observation.
 */
import type { TargetOf } from '../domain/audit/inventory.js';
import { shownJson, valueAtPath } from '../domain/audit/json-path.js';
import type { Observation } from '../domain/audit/probe.js';
import { causeOf, describeError, describeTarget, latencyObservation, misconfigured, observation, reachedObservation, unreachable, type Findings, type ProbeContext } from './findings.js';
import { maxBodyBytes, prepareRequest, sendRequest, type HttpAnswer, type HttpRequestDeps } from './http-request.js';

/** Where `{ env: NAME }` header values and CA files are read. */
export type HttpProbeDeps = HttpRequestDeps;

export async function probeHttp(target: TargetOf<'http'>, deps: HttpProbeDeps, ctx: ProbeContext): Promise<Findings> {
  const prepared = await prepareRequest(target, deps);
  if ('problems' in prepared) {
    // Sent without its headers the request would fail for a reason that is not the target's.
    return misconfigured(target, prepared.problems);
  }

  const what = describeTarget(target);
  const started = performance.now();
  let answer: HttpAnswer;
  try {
    answer = await sendRequest(new URL(target.url), { method: target.method, headers: prepared.headers, ca: prepared.ca, signal: ctx.signal });
  } catch (err) {
    return unreachable(target, causeOf(err), describeError(err));
  }
  const tookMs = performance.now() - started;

  const expected = Array.isArray(target.expectStatus) ? target.expectStatus : [target.expectStatus];
  const statusMet = expected.includes(answer.status);
  const observations: Observation[] = [
    reachedObservation(target),
    observation('status', `${what} answers with status ${expected.join(' or ')}`, expected.join(' or '), String(answer.status), statusMet, 'broken_integration'),
    latencyObservation(what, tookMs, target.latencyBudgetMs),
  ];
  // A body that came with the wrong status is an error page: its fields say nothing about drift.
  if (statusMet && target.expectJson !== undefined) {
    observations.push(...jsonObservations(what, target.expectJson, answer));
  }
  const denied = !statusMet && (answer.status === 401 || answer.status === 403);
  return {
    reach: denied ? { reachable: false, cause: 'unauthorized', detail: `HTTP ${answer.status}` } : { reachable: true },
    observations,
  };
}

function jsonObservations(what: string, expectJson: Record<string, string | number | boolean | null>, answer: HttpAnswer): Observation[] {
  let body: unknown;
  let unreadable: string | null = null;
  if (answer.truncated) {
    unreadable = `the body is larger than ${maxBodyBytes} bytes`;
  } else {
    try {
      body = JSON.parse(answer.body.toString('utf8')) as unknown;
    } catch {
      unreadable = 'the body is not JSON';
    }
  }
  return Object.entries(expectJson).map(([path, want]) => {
    const seen = unreadable === null ? valueAtPath(body, path) : undefined;
    const observed = unreadable ?? (seen === undefined ? 'absent' : shownJson(seen.value));
    const met = seen !== undefined && seen.value === want;
    return observation(`json.${path}`, `${what} answers with ${path} = ${JSON.stringify(want)}`, JSON.stringify(want), observed, met, 'configuration_drift');
  });
}
