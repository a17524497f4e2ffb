import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/redis-server.js';
import { eventually, spawnBsm, waitForExit } from '../helpers/fleet.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';

const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// Without a browser the test is skipped and says how to get one; CI sets BSM_REQUIRE_BROWSER=1,
// so there a missing browser fails the run instead.
const hasBrowser = existsSync(executablePath);
const browserRequired = process.env.BSM_REQUIRE_BROWSER === '1';
if (!hasBrowser && !browserRequired) {
  process.stderr.write(`browser test skipped: no Chromium at ${executablePath} (apt install chromium, or set CHROMIUM_PATH to a Chromium binary)\n`);
}
const viewer = 'viewer-token-e2e-0123456789';

/** What the browser refused to load or run under the page's Content-Security-Policy, as it reports it in the console. */
function cspViolations(page: Page): string[] {
  const refused: string[] = [];
  page.on('console', (message) => {
    // The board's page asks Google Fonts for its typeface; the policy refuses that on purpose.
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text()) && !/fonts\.googleapis\.com|fonts\.gstatic\.com/.test(message.text())) {
      refused.push(message.text());
    }
  });
  return refused;
}
const operator = 'operator-token-e2e-0123456789';

describe.skipIf(!hasBrowser && !browserRequired)('Bull Board in a real browser, against a running bsm', () => {
  const bsmPrefix = uniquePrefix('e2e');
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

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'bsm-e2e-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = spawnBsm(['all'], { BSM_PREFIX: bsmPrefix, PORT: String(port), BSM_DATA_DIR: dataDir, BSM_ARCHIVE_URL: `file://${join(dataDir, 'archive')}`, BSM_API_KEYS: `v:viewer:${viewer},o:operator:${operator}` });
    await eventually(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 30_000, 200);
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    // Whatever beforeAll got to, it is undone: a browser that never launched leaves no service behind.
    await browser?.close();
    service.kill('SIGTERM');
    await waitForExit(service);
    await deleteKeys(redis, `{${bsmPrefix}}`);
    await redis.quit();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('without credentials the browser is asked for them', async () => {
    const context = await launched().newContext();
    const response = await context.request.get(`${base}/admin/queues`);
    expect(response.status()).toBe(401);
    expect(response.headers()['www-authenticate']).toContain('Basic');
    // A page load gets the challenge; with no credentials to give, the browser gives up.
    const page = await context.newPage();
    await expect(page.goto(`${base}/admin/queues`)).rejects.toThrow(/ERR_INVALID_AUTH_CREDENTIALS/);
    await context.close();
  });

  it('with Basic credentials it renders the board with the five queues', async () => {
    const context = await launched().newContext({ httpCredentials: { username: 'viewer', password: viewer } });
    const page = await context.newPage();
    const refused = cspViolations(page);
    const response = await page.goto(`${base}/admin/queues`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    for (const name of ['bedrock-support', 'infrastructure-auditor', 'meta-monitor', 'implementation-support', 'compliance']) {
      await page.getByText(name, { exact: true }).first().waitFor({ timeout: 15_000 });
    }
    expect(refused).toEqual([]);
    await page.screenshot({ path: process.env.BSM_E2E_SCREENSHOT ?? join(dataDir, 'bull-board.png'), fullPage: true });
    await context.close();
  });

  it('a refusal shows its reason and what to use in the toast a person sees', async () => {
    const context = await launched().newContext({ httpCredentials: { username: 'operator', password: operator } });
    const page = await context.newPage();
    const refused = cspViolations(page);
    await page.goto(`${base}/admin/queues/queue/meta-monitor`);
    // The queue's actions are in its menu; support mode keeps meta-monitor paused, so it offers Resume.
    const menu = page.locator('button[aria-haspopup="menu"]').first();
    await menu.waitFor({ timeout: 15_000 });
    await menu.click();
    await page.getByRole('menuitem', { name: /resume|pause/i }).first().click();
    // Some versions ask to confirm.
    const confirm = page.getByRole('button', { name: /^(confirm|pause|yes|ok)$/i }).last();
    if (await confirm.isVisible().catch(() => false)) {
      await confirm.click();
    }
    await page.getByText('Not from Bull Board').first().waitFor({ timeout: 15_000 });
    await page.getByText(/support mode owns queue pausing/).first().waitFor({ timeout: 5_000 });
    expect(refused).toEqual([]);
    await page.screenshot({ path: process.env.BSM_E2E_REFUSAL_SCREENSHOT ?? join(dataDir, 'bull-board-refusal.png'), fullPage: true });
    await context.close();
  });

  it('Swagger UI renders the API under its content security policy, and its Try it out calls the service', async () => {
    const context = await launched().newContext();
    const page = await context.newPage();
    const refused = cspViolations(page);
    const response = await page.goto(`${base}/docs/`);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'none'");
    const health = page.locator('.opblock-summary', { hasText: '/health/bedrock-support' }).first();
    await health.waitFor({ timeout: 15_000 });
    await health.click();
    await page.getByRole('button', { name: 'Try it out' }).first().click();
    await page.getByRole('button', { name: 'Execute' }).first().click();
    await page.locator('.live-responses-table .response-col_status', { hasText: '200' }).first().waitFor({ timeout: 15_000 });
    expect(refused).toEqual([]);
    await context.close();
  });
});
