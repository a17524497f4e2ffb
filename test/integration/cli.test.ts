/**
 * The operator CLI, run as the real binary (`node --import tsx src/main.ts …`) against a running
 * `bsm all` on free ports: the runbook's activation, the morning check and an audit done from the
 * command line alone, with the exit codes a script relies on.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `bsm …` with a clean environment for the CLI's own variables. */
function bsm(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const base = { ...process.env };
  for (const name of ['BSM_URL', 'BSM_TOKEN', 'BSM_DATA_DIR', 'NO_COLOR', 'FORCE_COLOR']) {
    delete base[name];
  }
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`bsm ${args.join(' ')} did not exit in time`));
    }, 120_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

// Each run starts a node process (with tsx): on a loaded two-core machine that takes seconds.
describe('bsm, the operator CLI, against a running service', { timeout: 180_000 }, () => {
  const redis = testRedis();
  const bsmPrefix = uniquePrefix('cli');
  let dataDir = '';
  let base = '';
  let token = '';
  let service: ReturnType<typeof spawnBsm>;
  /** The CLI against the service, with the admin token file of its data directory (no --token). */
  const cli = (args: string[], env: Record<string, string> = {}) => bsm(args, { BSM_URL: base, BSM_DATA_DIR: dataDir, ...env });
  const api = async <T>(path: string): Promise<T> => {
    const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return (await r.json()) as T;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-cli-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    // No BSM_API_KEYS: the service generates the admin token file the CLI reads when local.
    // Its own archive: the hourly checkpoint job may run during the test.
    service = spawnBsm(['all'], { BSM_PREFIX: bsmPrefix, PORT: String(port), BSM_DATA_DIR: dataDir, BSM_ARCHIVE_URL: `file://${join(dataDir, 'archive')}`, BSM_API_KEYS: '', LOG_LEVEL: 'warn' });
    await eventually(async () => (await fetch(`${base}/health`).catch(() => null)) !== null, 80_000, 100);
    token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  }, 90_000);

  afterAll(async () => {
    service.kill('SIGTERM');
    await waitForExit(service);
    await deleteKeys(redis, `{${bsmPrefix}}`);
    await redis.quit();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('a wrong invocation exits 2 with one line naming the problem, before any request', async () => {
    const runs = await Promise.all([cli(['status', '--bogus']), cli(['activate', 'nope']), cli(['frobnicate']), cli(['audit']), cli(['optimize']), cli(['audit', 'trigger', '--timeout', 'soon'])]);
    expect(runs.map((r) => r.code)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(runs[0]?.stderr).toBe("bsm: unknown option '--bogus'\n");
    expect(runs[1]?.stderr).toBe("bsm: command-argument value 'nope' is invalid for argument 'component'. Allowed choices are infrastructure-auditor, meta-monitor, implementation-support, all.\n");
    expect(runs[2]?.stderr).toContain('unknown role "frobnicate"');
    expect(runs[4]?.stderr).toContain("missing required argument 'id'");
    expect(runs[5]?.stderr).toBe('bsm: --timeout must be a number of seconds 1-86400, got "soon"\n');
  });

  it('a service that cannot be reached exits 3, saying so', async () => {
    const closed = await freePort();
    const r = await bsm(['status', '--url', `http://127.0.0.1:${closed}`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`bsm: cannot reach http://127.0.0.1:${closed}: connection refused (is the service running? start it with \`bsm all\`, or set --url/BSM_URL)\n`);
  });

  it("an error of the service exits 1 with its error.message; a wrong token is the service's 401", async () => {
    const unknown = await cli(['alerts', 'ack', 'alert-0000000000000000']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^bsm: no alert alert-0000000000000000.* \(404 not_found\)\n$/);
    const wrong = await cli(['status', '--token', 'not-a-token-0123456789']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^bsm: .+ \(401 unauthorized\)\n$/);
  });

  it('the runbook activation from the CLI alone: daily-check fails while disabled, enable, activate the auditor, activate all, status', async () => {
    const before = await cli(['daily-check', '--json']);
    expect(before.code).toBe(1);
    const failed = JSON.parse(before.stdout) as { verdict: string; reasons: string[] };
    expect(failed.verdict).toBe('fail');
    expect(failed.reasons).toContainEqual(expect.stringMatching(/^support-mode: support mode is disabled; inactive: infrastructure-auditor, meta-monitor, implementation-support$/));

    const enable = await cli(['enable', '--reason', 'Initial activation']);
    expect(enable.code).toBe(0);
    expect(enable.stdout).toContain('support mode disabled -> inactive');

    const auditor = await cli(['activate', 'infrastructure-auditor', '--json']);
    expect(auditor.code).toBe(0);
    const partial = JSON.parse(auditor.stdout) as { status: string; components: Record<string, { active: boolean }> };
    expect(partial.status).toBe('partial');
    expect(partial.components['infrastructure-auditor']?.active).toBe(true);
    expect(partial.components['meta-monitor']?.active).toBe(false);

    const all = await cli(['activate', '--reason', 'Full production activation']);
    expect(all.code).toBe(0);
    expect(all.stdout).toContain('support mode partial -> active');

    const status = await cli(['status', '--json']);
    expect(status.code).toBe(0);
    const fromCli = JSON.parse(status.stdout) as Record<string, unknown> & { components: Record<string, { active: boolean; by: string }> };
    const fromApi = await api<typeof fromCli>('/admin/bedrock-support/status');
    expect(fromCli.status).toBe('active');
    expect({ status: fromCli.status, version: fromCli.version, featureFlag: fromCli.featureFlag, lastTransition: fromCli.lastTransition }).toEqual({
      status: fromApi.status,
      version: fromApi.version,
      featureFlag: fromApi.featureFlag,
      lastTransition: fromApi.lastTransition,
    });
    expect(Object.values(fromCli.components).map((c) => [c.active, c.by])).toEqual([
      [true, 'admin'],
      [true, 'admin'],
      [true, 'admin'],
    ]);
    // The transitions are in the audit trail under the admin key, with their reasons.
    const human = await cli(['status']);
    expect(human.stdout).toMatch(/Support mode {2}active \(version \d+\)/);
    expect(human.stdout).toContain('activate by admin at');
    expect(human.stdout).toContain('(Full production activation)');
  });

  it('audit trigger --wait follows the audit to its end and prints its id and gap count, as the API has them', async () => {
    const r = await cli(['audit', 'trigger', '--wait', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const done = JSON.parse(r.stdout) as { auditId: string; state: string; summary: { status: string; score: number; gaps: number } };
    expect(done.auditId).toMatch(/^audit-/);
    expect(done.state).toBe('completed');
    const report = await api<{ auditId: string; score: number; summary: { gaps: number }; gaps: unknown[] }>(`/admin/bedrock-support/audit/${done.auditId}/details`);
    expect(done.summary.gaps).toBe(report.summary.gaps);
    expect(done.summary.gaps).toBe(report.gaps.length);
    expect(done.summary.score).toBe(report.score);
    // Off a TTY no progress bar is drawn: stderr stays empty.
    expect(r.stderr).toBe('');

    const human = await cli(['audit', 'trigger', '--wait', '--type', 'targeted', '--targets', 'fleet-redis', '--reason', 'Pre-deployment validation']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^audit audit-\S+ completed in \d+ ms: (healthy|degraded|unhealthy), score \d+, \d+ gap\(s\)\n$/);

    // audit show ID --json is the stored report, as the API answers it.
    const shown = await cli(['audit', 'show', done.auditId, '--json']);
    expect(JSON.parse(shown.stdout)).toEqual(report);
  });

  it('the other reads print the API answer with --json', async () => {
    const [gaps, flags, trail, backlog] = await Promise.all([cli(['gaps', '--json']), cli(['flags', '--json']), cli(['trail', 'verify', '--json']), cli(['backlog', '--json'])]);
    expect([gaps.code, flags.code, trail.code, backlog.code]).toEqual([0, 0, 0, 0]);
    const apiGaps = await api<{ gaps: { id: string }[] }>('/admin/bedrock-support/implementation/gaps');
    expect((JSON.parse(gaps.stdout) as typeof apiGaps).gaps.map((g) => g.id)).toEqual(apiGaps.gaps.map((g) => g.id));
    expect((JSON.parse(flags.stdout) as { flags: { name: string }[] }).flags.map((f) => f.name)).toEqual((await api<{ flags: { name: string }[] }>('/admin/feature-flags')).flags.map((f) => f.name));
    const verified = JSON.parse(trail.stdout) as { ok: boolean; entries: number; problemCount: number };
    expect(verified.ok).toBe(true);
    expect(verified.problemCount).toBe(0);
    expect(verified.entries).toBeGreaterThan(3);
    const apiBacklog = await api<{ items: { id: string }[] }>('/admin/bedrock-support/implementation/backlog');
    expect((JSON.parse(backlog.stdout) as typeof apiBacklog).items.map((i) => i.id)).toEqual(apiBacklog.items.map((i) => i.id));
  });

  it('daily-check passes on a healthy active service that audited and analysed, and fails with the reason once a component is inactive', async () => {
    const analysis = await cli(['analyze', '--source', 'fleet', '--timeframe', 'last-24h', '--wait', '--json']);
    expect(analysis.code, analysis.stderr).toBe(0);
    expect((JSON.parse(analysis.stdout) as { analysisId: string; source: string }).source).toBe('fleet');

    // Health is measured (a Redis PING past 100 ms on a busy machine is "degraded"): wait for a healthy reading.
    const pass = await eventually(
      async () => {
        const r = await cli(['daily-check', '--json']);
        return r.code === 0 ? r : null;
      },
      90_000,
      500,
    );
    const result = JSON.parse(pass.stdout) as { verdict: string; checks: { id: string; verdict: string; detail: string }[]; reasons: string[] };
    expect(result.verdict).toBe('pass');
    expect(result.reasons).toEqual([]);
    expect(result.checks.map((c) => c.id)).toEqual(['support-mode', 'components', 'audits', 'meta-monitor', 'implementation', 'latency', 'routing', 'alerts']);
    expect(result.checks.find((c) => c.id === 'audits')?.detail).toMatch(/^\d+ audit\(s\); latest audit-/);

    const deactivate = await cli(['deactivate', 'meta-monitor', '--reason', 'daily-check test']);
    expect(deactivate.code).toBe(0);
    const fail = await cli(['daily-check']);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toContain('FAIL: ');
    expect(fail.stdout).toContain('  - support-mode: support mode is partial; inactive: meta-monitor\n');
    expect(fail.stdout).toMatch(/ {2}- components: .*meta-monitor degraded: inactive/);
    expect(await cli(['activate', 'meta-monitor']).then((r) => r.code)).toBe(0);
  }, 240_000);

  it('exports an audit to a file; plans a remediation of a gap', async () => {
    const auditFile = join(dataDir, 'audit.md');
    const gapId = (await api<{ gaps: { id: string }[] }>('/admin/bedrock-support/implementation/gaps')).gaps[0]?.id;
    const [exported, remediation] = await Promise.all([
      cli(['audit', 'export', '--format', 'markdown', '--output', auditFile]),
      gapId === undefined ? Promise.resolve(null) : cli(['remediate', gapId, '--json']),
    ]);
    expect(exported.code, exported.stderr).toBe(0);
    const latest = await api<{ auditId: string }>('/admin/bedrock-support/audit/latest');
    expect(exported.stdout).toMatch(new RegExp(`^wrote audit ${latest.auditId} as markdown to .*audit\\.md \\(\\d+ bytes\\)\\n$`));
    const fromApi = await (await fetch(`${base}/admin/bedrock-support/audit/${latest.auditId}/export?format=markdown`, { headers: { authorization: `Bearer ${token}` } })).text();
    expect(await readFile(auditFile, 'utf8')).toBe(fromApi);

    // The built-in inventory's Redis has no AOF in the tests: there is a gap to plan for.
    expect(remediation?.code, remediation?.stderr).toBe(0);
    const planned = JSON.parse(remediation?.stdout ?? '{}') as { request: { id: string; gapId: string; status: string } };
    expect(planned.request).toMatchObject({ gapId, status: 'suggested' });
    expect(planned.request.id).toMatch(/^act-/);
  });

  it("compliance report: queued (--json is the 202), followed (--wait --json is the report), and exported to a file equal to the export route's bytes, with the SHA-256 of X-Content-SHA256", async () => {
    const reportFile = join(dataDir, 'compliance.md');
    const [queued, waited, written, piped] = await Promise.all([
      cli(['compliance', 'report', '--json']),
      cli(['compliance', 'report', '--period', 'monthly', '--details', '--wait', '--json']),
      cli(['compliance', 'report', '--period', 'daily', '--format', 'markdown', '--output', reportFile]),
      cli(['compliance', 'report', '--format', 'json', '--output', '-']),
    ]);
    expect(queued.code, queued.stderr).toBe(0);
    const accepted = JSON.parse(queued.stdout) as { reportId: string; state: string; period: string; includeDetails: boolean; format: string };
    expect(accepted).toMatchObject({ state: 'queued', period: 'weekly', includeDetails: false, format: 'json' });
    expect(accepted.reportId).toMatch(/^compliance-report-/);

    const violationsOf = (out: string) => {
      try {
        return JSON.stringify((JSON.parse(out) as { violations?: unknown }).violations ?? null);
      } catch {
        return out.slice(0, 2000);
      }
    };
    expect(waited.code, `${waited.stderr}\n${violationsOf(waited.stdout)}`).toBe(0);
    const report = JSON.parse(waited.stdout) as { id: string; status: string; period: { name: string }; includeDetails: boolean; checks: { measured?: unknown }[] };
    expect(report).toMatchObject({ status: 'compliant', period: { name: 'monthly' }, includeDetails: true });
    expect(report.checks[0]?.measured).toBeDefined();
    expect(report).toEqual(await api(`/admin/bedrock-support/compliance/report/${report.id}`));

    // On a failure, the report itself says which check found a violation.
    expect(written.code, `${written.stderr}\n${written.stdout}\n${written.code === 0 ? '' : (await readFile(reportFile, 'utf8').catch(() => '')).slice(0, 4000)}`).toBe(0);
    const said = /^wrote compliance report (compliance-report-\S+) \(daily, markdown, compliant\) to (\S+) \((\d+) bytes\)\n {2}SHA-256 of its content: ([0-9a-f]{64}) \(= X-Content-SHA256\)\n {2}SHA-256 of the file: {4}([0-9a-f]{64})\n$/.exec(written.stdout);
    expect(said, written.stdout).not.toBeNull();
    const [, id, output, bytes, contentHash, fileHash] = said ?? [];
    expect(output).toBe(reportFile);
    const fromApi = await fetch(`${base}/admin/bedrock-support/compliance/export?id=${id}&format=markdown`, { headers: { authorization: `Bearer ${token}` } });
    const apiBytes = Buffer.from(await fromApi.arrayBuffer());
    const file = await readFile(reportFile);
    expect(file.equals(apiBytes)).toBe(true);
    expect(file.length).toBe(Number(bytes));
    expect(fromApi.headers.get('x-content-sha256')).toBe(contentHash);
    // What `sed '1,/^-->$/d' compliance.md | sha256sum` gives, and what sha256sum gives for the file.
    const content = file.subarray(file.indexOf('\n-->\n') + '\n-->\n'.length);
    expect(createHash('sha256').update(content).digest('hex')).toBe(contentHash);
    expect(createHash('sha256').update(file).digest('hex')).toBe(fileHash);
    expect(file.toString('utf8')).toContain('compliance-report: ' + (id ?? ''));

    expect(piped.code, piped.stderr).toBe(0);
    const exported = JSON.parse(piped.stdout) as { metadata: { reportId: string; sha256: string } };
    const jsonFromApi = await fetch(`${base}/admin/bedrock-support/compliance/export?id=${exported.metadata.reportId}&format=json`, { headers: { authorization: `Bearer ${token}` } });
    expect(piped.stdout).toBe(await jsonFromApi.text());
    expect(jsonFromApi.headers.get('x-content-sha256')).toBe(exported.metadata.sha256);
    expect(piped.stderr).toBe(`compliance report ${exported.metadata.reportId}: compliant; SHA-256 of its content ${exported.metadata.sha256} (= X-Content-SHA256)\n`);
  });

  it('colour only when asked for or on a TTY, and never with NO_COLOR', async () => {
    const [plain, forced, noColor] = await Promise.all([cli(['status']), cli(['status'], { FORCE_COLOR: '1' }), cli(['status'], { FORCE_COLOR: '1', NO_COLOR: '1' })]);
    expect(plain.stdout).not.toContain('\u001b[');
    expect(forced.stdout).toContain('\u001b[32mactive\u001b[0m');
    expect(noColor.stdout).not.toContain('\u001b[');
    expect(noColor.stdout).toBe(plain.stdout.replace(/version \d+/, noColor.stdout.match(/version \d+/)?.[0] ?? ''));
  });

  // util-linux's `script` gives the CLI a real terminal (a pty), as an operator's shell does.
  it.runIf(existsSync('/usr/bin/script'))('on a terminal, --wait draws its progress bar in place on stderr, then clears it, and the result is coloured', async () => {
    const child = spawn('/usr/bin/script', ['-qec', 'node --import tsx src/main.ts audit trigger --wait', '/dev/null'], {
      env: { ...process.env, BSM_URL: base, BSM_DATA_DIR: dataDir, NO_COLOR: '', FORCE_COLOR: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    expect(await waitForExit(child, 120_000)).toBe(0);
    expect(out).toMatch(/\r\S+ audit audit-\S+ \[[█░]{30}\] +\d+ % \w+/);
    expect(out).toContain('\r\u001b[K');
    expect(out).toContain(`${'\u001b'}[32mcompleted${'\u001b'}[0m in `);
  });

  it('report daily --run runs the daily check job, waits for it and prints it; report daily --json is the stored report as the API has it', async () => {
    const ran = await cli(['report', 'daily', '--run']);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout.length).toBeGreaterThan(50);
    const stored = await cli(['report', 'daily', '--json']);
    expect(stored.code, stored.stderr).toBe(0);
    expect(JSON.parse(stored.stdout)).toEqual(await api('/admin/bedrock-support/reports/daily/latest'));
  });

  it('an emergency shutdown from the CLI: status says so and daily-check fails naming it', async () => {
    const down = await cli(['shutdown', '--reason', 'Emergency shutdown - test', '--initiated-by', 'alice']);
    expect(down.code, down.stderr).toBe(0);
    const status = JSON.parse((await cli(['status', '--json'])).stdout) as { status: string; emergency: { reason: string; initiatedBy: string } };
    expect(status.status).toBe('emergency');
    expect(status.emergency).toMatchObject({ reason: 'Emergency shutdown - test', initiatedBy: 'alice' });
    const check = await cli(['daily-check', '--json']);
    expect(check.code).toBe(1);
    expect((JSON.parse(check.stdout) as { reasons: string[] }).reasons[0]).toMatch(/^support-mode: emergency shutdown since \S+ by alice: Emergency shutdown - test$/);
  });

  it('roles and the existing commands keep their meaning: an unknown option of a role is a usage error', async () => {
    const r = await bsm(['worker', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^bsm: Unknown option '--bogus'/);
    const help = await bsm(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('usage: bsm [api|worker|scheduler|all]');
    expect(help.stdout).toContain('`bsm help`');
  });
});
