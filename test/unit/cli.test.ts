import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashedPart } from '../../src/cli/compliance.commands.js';
import { defaultThresholds, judgeDaily, type DailyInputs } from '../../src/cli/daily-check.js';
import { resolveConnection } from '../../src/cli/http.js';
import { colourOn, progressBar, table, styleFor, type Io } from '../../src/cli/output.js';
import { cliCommands, isCliInvocation, runCli } from '../../src/cli/program.js';
import type { StatusAnswer } from '../../src/cli/support-mode.commands.js';
import { listenOnLoopback } from '../fakes/listen.js';

/** An in-process run of the CLI with captured output (no service: only what needs none). */
async function run(argv: string[], tty = false, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: { write: (t: string) => ((stdout += t), true), isTTY: tty },
    stderr: { write: (t: string) => ((stderr += t), true), isTTY: tty },
    env,
  };
  const code = await runCli(argv, { io, offlineTrailVerify: () => Promise.resolve(0) });
  return { code, stdout, stderr };
}

describe('the CLI program', () => {
  const groups: Record<string, string[]> = { audit: ['trigger', 'show', 'export'], compliance: ['status', 'report'], trail: ['verify'], alerts: ['ack'] };
  const leaves = [...cliCommands.filter((c) => c !== 'help').map((c) => [c]), ...Object.entries(groups).flatMap(([g, subs]) => subs.map((s) => [g, s]))];

  it.each(leaves)('%s %s --help exits 0 with a description and an example', async (...words) => {
    const r = await run([...words.filter(Boolean), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: bsm /);
    expect(r.stdout).toMatch(/\nExamples?:\n {2}\$ bsm /);
    expect(r.stdout).toContain('--json');
  });

  it('an operator command is told from a role by its first word after the global options', () => {
    expect(isCliInvocation(['status'])).toBe(true);
    expect(isCliInvocation(['--json', 'status'])).toBe(true);
    expect(isCliInvocation(['--url', 'http://h:3000', '--token=t', 'daily-check'])).toBe(true);
    expect(isCliInvocation(['all'])).toBe(false);
    expect(isCliInvocation(['worker', '--queues', 'compliance'])).toBe(false);
    expect(isCliInvocation(['cloudwatch', 'dashboards'])).toBe(false);
    expect(isCliInvocation([])).toBe(false);
    expect(isCliInvocation(['--help'])).toBe(false);
  });

  it('bsm help and bsm help <command> are answers (exit 0); a group without its subcommand is a usage error (exit 2)', async () => {
    const help = await run(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: bsm /);
    const audit = await run(['help', 'audit']);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/^Usage: bsm audit /);
    const group = await run(['audit']);
    expect(group.code).toBe(2);
    expect(group.stderr).toMatch(/^Usage: bsm audit /);
  });

  it('an unknown subcommand of a group and a missing mandatory option are usage errors (exit 2)', async () => {
    expect((await run(['audit', 'frob'])).code).toBe(2);
    const shutdown = await run(['shutdown']);
    expect(shutdown.code).toBe(2);
    expect(shutdown.stderr).toBe("bsm: required option '--reason <text>' not specified\n");
    expect((await run(['audit', 'export'])).stderr).toBe("bsm: required option '--output <file>' not specified\n");
  });

  it('trail verify with --archive or --public-key goes to the offline verification with the same arguments', async () => {
    const seen: string[][] = [];
    const io: Io = { stdout: { write: () => true }, stderr: { write: () => true }, env: {} };
    const code = await runCli(['trail', 'verify', '--archive', '/tmp/a', '--public-key', 'k1.pem', '--public-key', 'k2.pem'], {
      io,
      offlineTrailVerify: (args) => {
        seen.push(args);
        return Promise.resolve(1);
      },
    });
    expect(code).toBe(1);
    expect(seen).toEqual([['verify', '--archive', '/tmp/a', '--public-key', 'k1.pem', '--public-key', 'k2.pem']]);
  });
});

describe('output', () => {
  it('colour on a TTY only, never with NO_COLOR, FORCE_COLOR off a TTY', () => {
    expect(colourOn({ isTTY: true }, {})).toBe(true);
    expect(colourOn({ isTTY: false }, {})).toBe(false);
    expect(colourOn({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colourOn({ isTTY: true }, { NO_COLOR: '' })).toBe(true);
    expect(colourOn({ isTTY: false }, { FORCE_COLOR: '1' })).toBe(true);
    expect(colourOn({ isTTY: false }, { FORCE_COLOR: '0' })).toBe(false);
    expect(colourOn({ isTTY: false }, { FORCE_COLOR: '1', NO_COLOR: 'yes' })).toBe(false);
  });

  it('tables align by visible width, colour codes not counted', () => {
    const style = styleFor(true);
    const text = table(['a', 'status'], [['x', style.status('healthy')], ['longer', style.status('unhealthy')]], style);
    const plain = text.replaceAll(`${'\u001b'}[32m`, '').replaceAll(`${'\u001b'}[31m`, '').replaceAll(`${'\u001b'}[1m`, '').replaceAll(`${'\u001b'}[0m`, '');
    expect(plain).toBe('A       STATUS\nx       healthy\nlonger  unhealthy\n');
  });

  it('the progress bar draws on a TTY, in place, and writes nothing elsewhere', () => {
    let tty = '';
    let pipe = '';
    const onTty = progressBar('audit x', { stdout: { write: () => true }, stderr: { write: (t: string) => ((tty += t), true), isTTY: true }, env: {} }, 10);
    const onPipe = progressBar('audit x', { stdout: { write: () => true }, stderr: { write: (t: string) => ((pipe += t), true), isTTY: false }, env: {} }, 10);
    for (const bar of [onTty, onPipe]) {
      bar.update(0, 'queued');
      bar.update(50, 'running');
      bar.done();
    }
    expect(pipe).toBe('');
    expect(tty).toContain('\r');
    expect(tty).toContain('audit x [█████░░░░░]  50 % running');
    expect(tty.endsWith('\r\u001b[K')).toBe(true);
  });
});

describe('the connection', () => {
  it('--url and --token first, then BSM_URL and BSM_TOKEN, then the admin token file of a local service only', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bsm-cli-unit-'));
    try {
      await writeFile(join(dir, 'admin-token'), 'bsm_file_token\n');
      expect(await resolveConnection({}, { BSM_DATA_DIR: dir })).toEqual({ url: 'http://127.0.0.1:3000', token: 'bsm_file_token', tokenSource: 'admin-token-file' });
      expect(await resolveConnection({ token: 't1' }, { BSM_DATA_DIR: dir, BSM_TOKEN: 't2' })).toMatchObject({ token: 't1', tokenSource: 'option' });
      expect(await resolveConnection({}, { BSM_DATA_DIR: dir, BSM_TOKEN: 't2', BSM_URL: 'https://bsm.example/' })).toEqual({ url: 'https://bsm.example', token: 't2', tokenSource: 'env' });
      // A remote service never gets the local admin token.
      expect(await resolveConnection({ url: 'https://bsm.example' }, { BSM_DATA_DIR: dir })).toEqual({ url: 'https://bsm.example', token: null, tokenSource: 'none' });
      await expect(resolveConnection({ url: 'ftp://x' }, {})).rejects.toThrow('--url must be an http(s) URL, got "ftp://x"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('the daily check verdict', () => {
  const now = new Date('2026-12-01T08:15:00Z');
  const ok = <T>(body: T) => ({ ok: true as const, body });
  const component = (active: boolean) => ({ active, since: null, by: null });
  const activeStatus: StatusAnswer = {
    status: 'active',
    version: 4,
    featureFlag: { enabled: true, updatedAt: null, updatedBy: null, reason: null },
    components: { 'infrastructure-auditor': component(true), 'meta-monitor': component(true), 'implementation-support': component(true) },
    emergency: null,
    lastEmergency: null,
    lastTransition: null,
  };
  const healthy: DailyInputs = {
    now,
    status: ok(activeStatus),
    health: ok({ status: 'healthy', mode: 'active', redis: { status: 'up', latencyMs: 1 }, components: { 'meta-monitor': { status: 'healthy', active: true, reasons: [] } } }),
    audits: ok({ count: 2, totals: { gaps: 0, newGaps: 0, resolvedGaps: 0 }, audits: [{ auditId: 'audit-1', status: 'healthy', score: 100, startedAt: '2026-12-01T08:00:00Z' }] }),
    insights: ok({ analysisId: 'analysis-1', window: { from: '2026-12-01T07:10:00Z', to: '2026-12-01T08:10:00Z' }, healthScore: 98, insights: [] }),
    activities: ok({ counts: { verified: 2, failed: 0 }, awaitingApproval: 0, autoResolution: { '24h': { attempted: 2, rate: 1, meetsTarget: true }, target: 0.7 } }),
    performance: ok({ window: '24h', operations: { audit: { count: 48, errors: 0, successRate: 1, p95Ms: 800 } } }),
    routing: ok({ decisions: 20, efficiency: 0.95 }),
    alerts: ok({ alerts: [] }),
  };

  it('passes when every step is in order', () => {
    const r = judgeDaily(healthy);
    expect(r.verdict).toBe('pass');
    expect(r.reasons).toEqual([]);
    expect(r.checks.every((c) => c.verdict === 'pass')).toBe(true);
  });

  it('fails naming an inactive component, an unhealthy one, a missing audit, a stale analysis', () => {
    const r = judgeDaily({
      ...healthy,
      status: ok({ ...activeStatus, status: 'partial', components: { 'infrastructure-auditor': component(true), 'meta-monitor': component(false), 'implementation-support': component(true) } }),
      health: ok({ status: 'degraded', mode: 'partial', redis: { status: 'up', latencyMs: 1 }, components: { 'meta-monitor': { status: 'degraded', active: false, reasons: ['inactive: activate it'] } } }),
      audits: ok({ count: 0, totals: { gaps: 0, newGaps: 0, resolvedGaps: 0 }, audits: [] }),
      insights: ok({ analysisId: 'analysis-0', window: { from: '2026-11-29T07:00:00Z', to: '2026-11-29T08:00:00Z' }, healthScore: null, insights: [] }),
    });
    expect(r.verdict).toBe('fail');
    expect(r.reasons).toEqual([
      'support-mode: support mode is partial; inactive: meta-monitor',
      'components: meta-monitor degraded: inactive: activate it',
      'audits: no infrastructure audit in the last 24 h (the schedule runs one every 30 min: is infrastructure-auditor active and its worker running?)',
      'meta-monitor: the latest analysis (analysis-0) ended 2026-11-29T08:00:00Z, more than 24 h ago',
    ]);
  });

  it('judges routing efficiency by the runbook thresholds, error rates and p95 by the options, alerts by level', () => {
    const warn = judgeDaily({ ...healthy, routing: ok({ decisions: 10, efficiency: 0.7 }) });
    expect(warn.verdict).toBe('pass');
    expect(warn.warnings).toEqual(['routing: 70.0 % of 10 requests served by their primary path within budget (fail below 60 %, warn below 80 %)']);
    expect(judgeDaily({ ...healthy, routing: ok({ decisions: 10, efficiency: 0.5 }) }).reasons[0]).toMatch(/^routing: 50.0 %/);
    const slow = judgeDaily({ ...healthy, performance: ok({ window: '24h', operations: { audit: { count: 10, errors: 2, successRate: 0.8, p95Ms: 9000 } } }) }, { ...defaultThresholds, maxP95Ms: 5000 });
    expect(slow.reasons).toEqual(['latency: audit failed 2 of 10 (over 10 %); audit p95 9000 ms (over 5000 ms)']);
    const alert = (level: string) => ({ id: 'alert-1', rule: 'r', subject: 's', level, state: 'firing', title: 'T', detail: '', firedAt: '', lastSeenAt: '', firings: 1, acknowledged: null, resolvedAt: null });
    expect(judgeDaily({ ...healthy, alerts: ok({ alerts: [alert('P2')] }) }).verdict).toBe('pass');
    expect(judgeDaily({ ...healthy, alerts: ok({ alerts: [alert('P1')] }) }).reasons).toEqual(['alerts: P1 T']);
  });

  it('a route that refused is a failed check naming its message; no analysis yet is one too', () => {
    const r = judgeDaily({ ...healthy, insights: { ok: false, status: 404, error: 'no analysis yet' }, activities: { ok: false, status: 403, error: 'forbidden' } });
    expect(r.reasons).toEqual(['meta-monitor: no meta-monitor analysis yet (the schedule runs one every 5 min: is meta-monitor active?)', 'implementation: could not read the implementation activities: forbidden']);
  });
});

describe('report, against the routes the issue names (a loopback fake: the reports routes come with another branch)', () => {
  it('fetches the latest or one by id in the format asked, with the token; a 404 is exit 1 with its message', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization}`);
      if (req.url === '/admin/bedrock-support/reports/weekly/latest?format=markdown') {
        res.writeHead(200, { 'content-type': 'text/markdown' }).end('# Weekly review\n');
      } else if (req.url === '/admin/bedrock-support/reports/daily/daily-check-1?format=json') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"verdict":"pass"}');
      } else {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'not_found', message: 'no weekly report yet', details: null } }));
      }
    });
    const port = await listenOnLoopback(server);
    try {
      const env = { BSM_URL: `http://127.0.0.1:${port}`, BSM_TOKEN: 'tok' };
      expect(await run(['report', 'weekly'], false, env)).toEqual({ code: 0, stdout: '# Weekly review\n', stderr: '' });
      expect(await run(['report', 'daily', 'daily-check-1', '--json'], false, env)).toEqual({ code: 0, stdout: '{"verdict":"pass"}\n', stderr: '' });
      expect(await run(['report', 'weekly', '--format', 'html'], false, env)).toEqual({ code: 1, stdout: '', stderr: 'bsm: no weekly report yet (404 not_found)\n' });
      expect((await run(['report', 'monthly'], false, env)).code).toBe(2);
      expect(seen).toEqual([
        'GET /admin/bedrock-support/reports/weekly/latest?format=markdown Bearer tok',
        'GET /admin/bedrock-support/reports/daily/daily-check-1?format=json Bearer tok',
        'GET /admin/bedrock-support/reports/weekly/latest?format=html Bearer tok',
      ]);
    } finally {
      server.close();
    }
  });

  it('compliance report: a bare POST without options; an export whose content does not hash to X-Content-SHA256 is not written (exit 1); a failed report job is exit 1 with its message', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bsm-cli-compliance-'));
    const seen: string[] = [];
    const content = '# Compliance report\n';
    const good = createHash('sha256').update(content).digest('hex');
    const report = { id: 'compliance-report-1', status: 'compliant', period: { name: 'weekly', from: 'a', to: 'b' } };
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
        if (req.method === 'POST') {
          const failing = body.includes('daily');
          json(202, { reportId: failing ? 'compliance-report-2' : 'compliance-report-1', state: 'queued', period: failing ? 'daily' : 'weekly', includeDetails: false, format: 'markdown', resultUrl: '/r', exportUrl: '/e' });
        } else if (req.url === '/admin/bedrock-support/compliance/report/compliance-report-1') {
          json(200, report);
        } else if (req.url === '/admin/bedrock-support/compliance/report/compliance-report-2') {
          json(409, { error: { code: 'conflict', message: 'compliance report compliance-report-2 failed: the audit trail could not be read', details: null } });
        } else {
          // The export, its body changed after hashing.
          res.writeHead(200, { 'content-type': 'text/markdown', 'x-content-sha256': good }).end(`<!--\nsha256: ${good}\n-->\n# Compliance report, edited\n`);
        }
      });
    });
    const port = await listenOnLoopback(server);
    try {
      const env = { BSM_URL: `http://127.0.0.1:${port}`, BSM_TOKEN: 'tok' };
      expect((await run(['compliance', 'report'], false, env)).code).toBe(0);
      const file = join(dir, 'report.md');
      const tampered = await run(['compliance', 'report', '--output', file], false, env);
      expect(tampered.code).toBe(1);
      expect(tampered.stderr).toMatch(/^bsm: the markdown export of compliance-report-1 does not match its X-Content-SHA256 \([0-9a-f]{64}; its content hashes to [0-9a-f]{64}\): not written\n$/);
      await expect(readFile(file)).rejects.toThrow(/ENOENT/);
      const failed = await run(['compliance', 'report', '--period', 'daily', '--wait'], false, env);
      expect(failed).toEqual({ code: 1, stdout: '', stderr: 'bsm: compliance report compliance-report-2 failed: the audit trail could not be read (409 conflict)\n' });
      expect(seen).toEqual([
        'POST /admin/bedrock-support/compliance/report ',
        'POST /admin/bedrock-support/compliance/report ',
        'GET /admin/bedrock-support/compliance/report/compliance-report-1 ',
        'GET /admin/bedrock-support/compliance/export?id=compliance-report-1&format=markdown ',
        'POST /admin/bedrock-support/compliance/report {"period":"daily"}',
        'GET /admin/bedrock-support/compliance/report/compliance-report-2 ',
      ]);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the hashed part of a compliance export: JSON after the first `,"report":` before the last `}`; Markdown and HTML after the line `-->`', () => {
    expect(hashedPart(Buffer.from('{"metadata":{"a":"x"},"report":{"b":1}}\n'), 'json')?.toString()).toBe('{"b":1}');
    expect(hashedPart(Buffer.from('<!--\nsha256: x\n-->\n<h1>R</h1>\n'), 'html')?.toString()).toBe('<h1>R</h1>\n');
    expect(hashedPart(Buffer.from('no comment'), 'markdown')).toBeNull();
    expect(hashedPart(Buffer.from('{"metadata":{}}'), 'json')).toBeNull();
  });
});
