import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestApp, tokens, type TestApp } from '../helpers/app.js';
import { boardRoutes, FuzzGenerator, type Category, type FuzzCase, type OpenApiDoc } from '../helpers/fuzz-cases.js';
import { dumpKeys } from '../helpers/redis.js';

/**
 * Fuzzes every documented route and Bull Board's API in-process, from the service's own
 * /openapi.json. A failure names its seed: `FUZZ_SEED=<seed> npm test -- test/integration/fuzz.test.ts`.
 */
const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() % 2 ** 31;
const total = 2400;
const timeoutMs = 5_000;
const concurrency = 8;
const batchSize = 40;
const delayedJobId = 'fuzz-delayed';

interface Outcome {
  status: number | 'timeout';
  contentType: string;
  body: string;
}

interface Violation {
  fuzzCase: FuzzCase;
  outcome: Outcome;
  problem: string;
}

/**
 * Defects the fuzzer found in code this test may not change. Each is matched exactly, printed on
 * every run, and its case is left out of the failures until it is fixed: delete the entry then.
 */
/** Defects the fuzzer found that are not fixed yet: each is excluded by an exact match and printed on every run. None today. */
const knownDefects: { name: string; reproduce: string; matches: (v: Violation) => boolean }[] = [];

function authorization(c: FuzzCase): Record<string, string> {
  switch (c.caller.kind) {
    case 'none':
      return {};
    case 'wrong-token':
      return { authorization: `Bearer ${tokens.admin}x` };
    case 'bearer':
      return { authorization: `Bearer ${tokens[c.caller.role]}` };
    case 'basic':
      return { authorization: `Basic ${Buffer.from(`fuzz:${tokens[c.caller.role]}`).toString('base64')}` };
  }
}

async function send(t: TestApp, c: FuzzCase): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Outcome>((done) => {
    timer = setTimeout(() => done({ status: 'timeout', contentType: '', body: '' }), timeoutMs);
  });
  const answer = (async (): Promise<Outcome> => {
    const r = await t.call(c.method, c.path, { role: null, headers: { ...c.headers, ...authorization(c) }, rawBody: c.rawBody });
    return { status: r.status, contentType: r.headers.get('content-type') ?? '', body: await r.text() };
  })();
  try {
    return await Promise.race([answer, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The project's error shape: `{ error: { code, message, details } }` and nothing else inside `error`. */
function projectError(body: unknown): boolean {
  return isObject(body) && isObject(body.error) && Object.keys(body.error).sort().join() === 'code,details,message' && typeof body.error.code === 'string' && typeof body.error.message === 'string';
}

/** Bull Board's own error (`{ error: { key } }`) or the service's refusal in the board's shape. */
function boardError(body: unknown): boolean {
  if (!isObject(body)) {
    return false;
  }
  const ownShape = isObject(body.error) && typeof body.error.key === 'string';
  const refusal = typeof body.error === 'string' && typeof body.message === 'string' && typeof body.code === 'string' && 'details' in body;
  return ownShape || refusal;
}

/** What is wrong with an answer, or null. */
function judge(c: FuzzCase, o: Outcome, documented: Map<string, string[]>): string | null {
  if (o.status === 'timeout') {
    return `no answer within ${timeoutMs} ms`;
  }
  if (o.status >= 500) {
    return `server error ${o.status}`;
  }
  if (o.status === 204) {
    return c.expect === 'refused' ? 'accepted (204) a request that must be refused' : null;
  }
  if (!o.contentType.startsWith('application/json')) {
    return `answer is ${o.contentType || 'without a content type'}, not JSON`;
  }
  let body: unknown;
  try {
    body = JSON.parse(o.body);
  } catch {
    return 'answer is not valid JSON';
  }
  if (o.status < 400) {
    if (c.expect === 'refused') {
      return `accepted (${o.status}) a request that must be refused`;
    }
    const statuses = documented.get(`${c.method} ${c.route}`);
    return statuses && !statuses.includes(String(o.status)) ? `status ${o.status} is not documented for ${c.method} ${c.route}` : null;
  }
  const service = !c.path.startsWith('/admin/queues') || [401, 403, 413].includes(o.status);
  if (service ? !projectError(body) : !boardError(body)) {
    return `4xx body is not the ${service ? "project's" : "board's"} error shape`;
  }
  return null;
}

/** Every key under the prefix, less BullMQ's event and metric streams (written by BullMQ itself). */
async function snapshot(t: TestApp): Promise<string> {
  const dump = await dumpKeys(t.client, t.prefix);
  return dump
    .split('\n')
    .filter((line) => !/^\S*:(events|metrics)(:\S*)? /.test(line))
    .sort()
    .join('\n');
}

async function runAll<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i] as T);
      }
    }),
  );
  return results;
}

describe('fuzzing the API from its own OpenAPI document', () => {
  let t: TestApp;
  let doc: OpenApiDoc;

  beforeAll(async () => {
    t = await makeTestApp('fuzz');
    doc = (await (await t.call('GET', '/openapi.json', { role: null })).json()) as OpenApiDoc;
    // Something for the refused requests to leave alone: a state, an audit trail and a job.
    expect((await t.call('POST', '/admin/bedrock-support/enable', { role: 'operator', body: { active: false, reason: 'fuzz set-up' } })).status).toBe(200);
    await t.fleet.add('meta-monitor', 'canary', {}, { delayMs: 3_600_000, jobId: delayedJobId });
  });

  afterAll(async () => {
    await t.close();
  });

  it(`answers ${total} malformed, hostile and unauthorised requests with JSON 4xx (or documented 2xx) and changes nothing when it refuses`, { timeout: 120_000 }, async () => {
    const started = Date.now();
    const gen = new FuzzGenerator(seed);
    const base = [...gen.documented(doc), ...gen.board(boardRoutes(), delayedJobId)];
    const cases = gen.fill(base, Math.max(total, base.length));
    const documented = new Map(Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([m, op]) => [`${m.toUpperCase()} ${path}`, Object.keys(op.responses)] as const)));

    // Requests that must be refused run first, in batches with Redis compared around each; the rest after.
    const ordered = [...cases.filter((c) => c.expect === 'refused'), ...cases.filter((c) => c.expect === 'any')];
    const violations: Violation[] = [];
    const perCategory = new Map<Category, number>();
    const perStatus = new Map<string, number>();
    let compared = 0;
    let before = await snapshot(t);
    let auditBefore = await t.auditTrail.length();
    for (let i = 0; i < ordered.length; i += batchSize) {
      const batch = ordered.slice(i, i + batchSize);
      const outcomes = await runAll(batch, concurrency, (c) => send(t, c));
      let allRefused = true;
      batch.forEach((c, j) => {
        const o = outcomes[j] as Outcome;
        perCategory.set(c.category, (perCategory.get(c.category) ?? 0) + 1);
        perStatus.set(String(o.status), (perStatus.get(String(o.status)) ?? 0) + 1);
        allRefused &&= typeof o.status === 'number' && o.status >= 400 && o.status < 500;
        const problem = judge(c, o, documented);
        if (problem) {
          violations.push({ fuzzCase: c, outcome: o, problem });
        }
      });
      const after = await snapshot(t);
      const auditAfter = await t.auditTrail.length();
      if (allRefused) {
        compared += batch.length;
        const where = `batch of requests ${i}-${i + batch.length - 1} (seed ${seed})`;
        expect(auditAfter, `audit trail grew from refused requests in ${where}`).toBe(auditBefore);
        expect(after, `Redis changed under refused requests in ${where}`).toBe(before);
      }
      before = after;
      auditBefore = auditAfter;
    }

    const known = violations.filter((v) => knownDefects.some((d) => d.matches(v)));
    const unknown = violations.filter((v) => !known.includes(v));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const lines = [
      `fuzz: seed ${seed} (rerun with FUZZ_SEED=${seed}), ${ordered.length} requests in ${seconds} s, ${compared} of them inside all-refused batches with Redis compared`,
      `fuzz: per category ${JSON.stringify(Object.fromEntries([...perCategory].sort()))}`,
      `fuzz: per status ${JSON.stringify(Object.fromEntries([...perStatus].sort()))}`,
      ...knownDefects.map((d) => `fuzz: known defect ${d.name} (${known.filter((v) => d.matches(v)).length} cases excluded this run): ${d.reproduce}`),
    ];
    console.log(lines.join('\n'));
    const describeViolation = (v: Violation) =>
      `${v.problem}: ${v.fuzzCase.method} ${v.fuzzCase.path.slice(0, 300)} [${v.fuzzCase.category}, caller ${JSON.stringify(v.fuzzCase.caller)}, headers ${JSON.stringify(v.fuzzCase.headers)}, body ${JSON.stringify(v.fuzzCase.rawBody?.slice(0, 200) ?? null)}] -> ${v.outcome.status} ${v.outcome.contentType} ${v.outcome.body.slice(0, 300)}`;
    expect(unknown.map(describeViolation), `seed ${seed}`).toEqual([]);
    expect(ordered.length).toBeGreaterThanOrEqual(2000);
    // The "nothing changed" check must have had refused requests to look at.
    expect(compared).toBeGreaterThan(ordered.length / 2);
    expect(before).toContain(delayedJobId);
  });
});
