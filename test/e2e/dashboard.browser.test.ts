import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasBrowser = existsSync(executablePath);
const browserRequired = process.env.BSM_REQUIRE_BROWSER === '1';
if (!hasBrowser && !browserRequired) {
  process.stderr.write(`dashboard browser test skipped: no Chromium at ${executablePath} (apt install chromium, or set CHROMIUM_PATH to a Chromium binary)\n`);
}
const viewer = 'viewer-token-dash-0123456789';
const operator = 'operator-token-dash-0123456789';
const approver = 'approver-token-dash-0123456789';
const adminToken = 'admin-token-dash-0123456789';
/** Screenshots are kept here (gitignored; CI can upload the folder). */
const artifacts = resolve(process.env.BSM_TEST_ARTIFACTS ?? 'test-artifacts');

/** Every console error and uncaught exception of the page. */
function errorsOf(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') {
      errors.push(m.text());
    }
  });
  page.on('pageerror', (e) => errors.push(e.message));
  // Which request failed, next to the console's line that does not name it.
  page.on('response', (r) => {
    if (r.status() >= 400) {
      errors.push(`${r.status()} ${r.url()}`);
    }
  });
  return errors;
}

describe.skipIf(!hasBrowser && !browserRequired)('the dashboard in a real browser, against a running bsm', () => {
  const bsmPrefix = uniquePrefix('dash');
  const redis = testRedis();
  let browser: Browser | undefined;
  let base: string;
  let dataDir: string;
  let service: ReturnType<typeof spawnBsm>;

  const launched = (): Browser => {
    if (!browser) {
      throw new Error('the browser did not launch');
    }
    return browser;
  };
  const api = async <T>(path: string, token = viewer): Promise<T> => {
    const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status, path).toBe(200);
    return (await r.json()) as T;
  };
  const open = async (username: string, password: string, viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page; errors: string[] }> => {
    const context = await launched().newContext({ httpCredentials: { username, password }, viewport });
    const page = await context.newPage();
    const errors = errorsOf(page);
    const response = await page.goto(`${base}/dashboard`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("script-src 'self'");
    // The first refresh has run once the time of the last update shows.
    await page.locator('#refreshed[data-at]').waitFor({ timeout: 20_000 });
    return { context, page, errors };
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-dash-'));
    await mkdir(artifacts, { recursive: true });
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = spawnBsm(['all'], {
      BSM_PREFIX: bsmPrefix,
      PORT: String(port),
      BSM_DATA_DIR: dataDir,
      BSM_ARCHIVE_URL: `file://${join(dataDir, 'archive')}`,
      BSM_API_KEYS: `v:viewer:${viewer},o:operator:${operator},a:approver:${approver},root:admin:${adminToken}`,
    });
    await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 30_000, 200);
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    service.kill('SIGTERM');
    await waitForExit(service);
    await deleteKeys(redis, `{${bsmPrefix}}`);
    await redis.quit();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('without credentials the browser is asked for them', async () => {
    const r = await fetch(`${base}/dashboard`);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toContain('Basic');
  });

  it('a viewer sees live values that match the API, no controls, and no console error', async () => {
    const { context, page, errors } = await open('viewer', viewer);
    const status = await api<{ status: string }>('/admin/bedrock-support/status');
    expect(await page.locator('#status-value').textContent()).toBe(status.status);
    const health = await api<{ status: string; components: Record<string, { status: string }> }>('/health/bedrock-support/detailed');
    expect(await page.locator('#health-overall').textContent()).toBe(health.status);
    const matrix = await page.locator('#health-matrix tbody tr').allTextContents();
    expect(matrix).toHaveLength(Object.keys(health.components).length);
    for (const [name, c] of Object.entries(health.components)) {
      expect(matrix.some((row) => row.startsWith(`${name}${c.status}`)), `${name} ${c.status}`).toBe(true);
    }
    const perf = await api<{ operations: Record<string, { count: number }> }>('/admin/bedrock-support/metrics/performance?window=24h');
    expect(await page.locator('#performance tbody tr').count()).toBe(Object.keys(perf.operations).length);
    // The charts are uPlot's canvases, drawn from the page's own copy of the library.
    expect(await page.locator('#chart-errors canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#chart-latency canvas').count()).toBeGreaterThan(0);
    expect(await page.locator('#who').textContent()).toBe('v (viewer)');
    expect(await page.locator('#controls').count()).toBe(0);
    expect(await page.locator('button[data-action]').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(artifacts, 'dashboard-viewer.png'), fullPage: true });
    await context.close();
  }, 60_000);

  it('an operator\'s control asks for a reason, calls the API, and the page shows the result', async () => {
    const { context, page, errors } = await open('operator', operator);
    expect((await api<{ status: string }>('/admin/bedrock-support/status')).status).toBe('disabled');
    await page.locator('button[data-action="enable"]').click();
    await page.locator('#confirm').waitFor({ state: 'visible' });
    await page.locator('#confirm-reason').fill('Initial activation from the dashboard');
    await page.locator('#confirm-ok').click();
    await page.locator('#status-value', { hasText: 'inactive' }).waitFor({ timeout: 15_000 });
    const status = await api<{ status: string; featureFlag: { enabled: boolean }; lastTransition: { action: string; by: string; reason: string } }>('/admin/bedrock-support/status');
    expect(status).toMatchObject({ status: 'inactive', featureFlag: { enabled: true }, lastTransition: { action: 'enable', by: 'o', reason: 'Initial activation from the dashboard' } });

    // A dangerous one refuses to go on without a reason, and does nothing when cancelled.
    await page.locator('button[data-action="activate-all"]').click();
    await page.locator('#confirm-ok').click();
    expect(await page.locator('#confirm-error').textContent()).toContain('Give a reason');
    await page.locator('#confirm-cancel').click();
    expect((await api<{ status: string }>('/admin/bedrock-support/status')).status).toBe('inactive');

    // The morning check, run from the page, then shown on it with its verdict.
    await page.locator('button[data-action="daily"]').click();
    await page.locator('#confirm-ok').click();
    await page.locator('#banner', { hasText: 'Run the daily check: done (report-' }).waitFor({ timeout: 10_000 });
    const daily = await eventually(async () => {
      const r = await fetch(`${base}/admin/bedrock-support/reports/daily/latest`, { headers: { authorization: `Bearer ${viewer}` } });
      return r.status === 200 ? ((await r.json()) as { verdict: { result: string } }) : null;
    }, 30_000);
    await page.locator('#refresh-now').click();
    await page.locator('#daily-facts dd', { hasText: daily.verdict.result.toUpperCase() }).waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(artifacts, 'dashboard-operator.png'), fullPage: true });
    await context.close();
  }, 90_000);

  it('reads on a phone: one column, nothing wider than the screen', async () => {
    const { context, page, errors } = await open('approver', approver, { width: 390, height: 844 });
    const widths = await page.evaluate<{ scroll: number; inner: number }>('({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })');
    expect(widths.scroll).toBeLessThanOrEqual(widths.inner);
    // An approver gets no lifecycle controls (approve buttons show beside waiting requests).
    expect(await page.locator('#controls').count()).toBe(0);
    expect(errors).toEqual([]);
    await page.screenshot({ path: join(artifacts, 'dashboard-phone.png'), fullPage: true });
    await context.close();
  }, 60_000);

  it('an approver approves a waiting remediation from the page; the API shows the decision', async () => {
    const send = async (method: string, path: string, token: string, body?: unknown) => {
      const r = await fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as Record<string, unknown> };
    };
    // A gap whose remediation is medium risk (setting a feature flag): it waits for a second person.
    expect((await send('PUT', '/admin/bedrock-support/audit/config', adminToken, { targets: [{ id: 'narratives-off', kind: 'feature-flag', component: 'llm', criticality: 'high', flag: 'llm-narratives', expected: false }] })).status).toBe(200);
    for (const component of ['infrastructure-auditor', 'implementation-support']) {
      expect((await send('POST', '/admin/bedrock-support/activate-component', operator, { component })).status).toBe(200);
    }
    const audit = await send('POST', '/admin/bedrock-support/audit/trigger', operator, { type: 'targeted', targets: ['narratives-off'] });
    expect(audit.status).toBe(202);
    const gapId = await eventually(async () => {
      const r = await send('GET', `/admin/bedrock-support/audit/${audit.body.auditId as string}/details`, viewer);
      return r.status === 200 ? (r.body.gaps as { id: string }[])[0]?.id : null;
    }, 30_000);
    const requested = await send('POST', '/admin/bedrock-support/implementation/remediate', operator, { gap_id: gapId, auto_resolve: true });
    const request = requested.body.request as { id: string; status: string };
    expect(request.status).toBe('awaiting_approval');

    const { context, page, errors } = await open('approver', approver);
    const item = page.locator('#approvals-list li', { hasText: request.id });
    await item.waitFor({ timeout: 15_000 });
    await item.getByRole('button', { name: 'Approve' }).click();
    await page.locator('#confirm-reason').fill('Checked the plan: narratives off is intended');
    await page.locator('#confirm-ok').click();
    await page.locator('#banner', { hasText: `Approve ${request.id}: done` }).waitFor({ timeout: 15_000 });
    const decided = await send('GET', `/admin/bedrock-support/implementation/approvals/${request.id}`, viewer);
    expect(decided.body.approval).toMatchObject({ decision: 'approved', by: 'a', reason: 'Checked the plan: narratives off is intended' });
    expect(errors).toEqual([]);
    await context.close();
  }, 90_000);

  it('a change with the browser\'s Basic credentials needs the dashboard\'s header', async () => {
    const basic = `Basic ${Buffer.from(`o:${operator}`).toString('base64')}`;
    const bare = await fetch(`${base}/admin/bedrock-support/audit/trigger`, { method: 'POST', headers: { authorization: basic } });
    expect(bare.status).toBe(403);
    expect(((await bare.json()) as { error: { message: string } }).error.message).toContain('X-BSM-CSRF');
    const withHeader = await fetch(`${base}/admin/bedrock-support/reports/daily`, { method: 'POST', headers: { authorization: basic, 'x-bsm-csrf': '1' } });
    expect(withHeader.status).toBe(202);
  });
});
