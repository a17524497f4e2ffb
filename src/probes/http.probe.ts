/**
 * The `http` kind: one request over a fresh connection (no keep-alive pool, so every probe
 * measures a whole exchange), its status, how long the whole answer took, and fields of its JSON
 * body. Header values and URL passwords never reach an observation.
 */
import { request as httpRequest, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { TargetOf } from '../domain/audit/inventory.js';
import type { Observation } from '../domain/audit/probe.js';
import { isRecord } from '../domain/guards.js';
import {
  causeOf,
  describeError,
  describeTarget,
  errorCode,
  latencyObservation,
  misconfigured,
  observation,
  reachedObservation,
  resolveSecret,
  unreachable,
  unsetVariable,
  type Findings,
  type ProbeContext,
} from './findings.js';

export interface HttpProbeDeps {
  /** Where `{ env: NAME }` header values are read. */
  env: NodeJS.ProcessEnv;
  /** Reads a CA file (PEM). */
  readFile: (path: string) => Promise<string | Buffer>;
}

/** Most of a body kept for its JSON checks; the rest is read and dropped. */
const maxBodyBytes = 1024 * 1024;
const maxShown = 200;

interface Answer {
  status: number;
  body: Buffer;
  truncated: boolean;
}

export async function probeHttp(target: TargetOf<'http'>, deps: HttpProbeDeps, ctx: ProbeContext): Promise<Findings> {
  const headers: Record<string, string> = {};
  const problems: string[] = [];
  for (const [name, value] of Object.entries(target.headers ?? {})) {
    const resolved = resolveSecret(value, deps.env);
    if ('missing' in resolved) {
      problems.push(`${unsetVariable(resolved.missing)} (header ${name})`);
    } else {
      headers[name] = resolved.value;
    }
  }
  let ca: string[] | undefined;
  if (target.caFile !== undefined) {
    try {
      // `ca` replaces the system's roots: keep them, and trust the file's CA besides.
      ca = [...rootCertificates, String(await deps.readFile(target.caFile))];
    } catch (err) {
      problems.push(`CA file ${target.caFile} cannot be read (${errorCode(err) ?? describeError(err)})`);
    }
  }
  if (problems.length > 0) {
    // Sent without its headers the request would fail for a reason that is not the target's.
    return misconfigured(target, problems);
  }

  const what = describeTarget(target);
  const started = performance.now();
  let answer: Answer;
  try {
    answer = await send(new URL(target.url), { method: target.method, headers, ca, signal: ctx.signal });
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

function send(url: URL, options: Pick<RequestOptions, 'method' | 'headers' | 'signal'> & { ca: string[] | undefined }): Promise<Answer> {
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { ...options, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      res.on('data', (chunk: Buffer) => {
        if (kept + chunk.length <= maxBodyBytes) {
          chunks.push(chunk);
          kept += chunk.length;
        } else {
          truncated = true;
        }
      });
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), truncated }));
      res.once('error', reject);
    });
    req.once('error', reject);
    req.end();
  });
}

function jsonObservations(what: string, expectJson: Record<string, string | number | boolean | null>, answer: Answer): Observation[] {
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
    const seen = unreadable === null ? at(body, path) : undefined;
    const observed = unreadable ?? (seen === undefined ? 'absent' : shown(seen.value));
    const met = seen !== undefined && seen.value === want;
    return observation(`json.${path}`, `${what} answers with ${path} = ${JSON.stringify(want)}`, JSON.stringify(want), observed, met, 'configuration_drift');
  });
}

/** The value at a dotted path (`checks.db`, `items.0.id`), or undefined when the path does not exist. */
function at(body: unknown, path: string): { value: unknown } | undefined {
  let here: unknown = body;
  for (const key of path.split('.')) {
    if (Array.isArray(here) && /^\d+$/.test(key) && Number(key) < here.length) {
      here = here[Number(key)];
    } else if (isRecord(here) && Object.hasOwn(here, key)) {
      here = here[key];
    } else {
      return undefined;
    }
  }
  return { value: here };
}

function shown(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > maxShown ? `${text.slice(0, maxShown - 1)}…` : text;
}
