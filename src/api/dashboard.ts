import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hono } from 'hono';
import { z } from 'zod';
import type { ReportStore } from '../domain/reports.js';
import { requirePermission, roleCan } from './auth.js';
import type { AppEnv } from './env.js';

export const dashboardPath = '/dashboard';

/**
 * The header every state-changing call the dashboard makes carries. A browser sends Basic
 * credentials on its own, as it sends cookies; a cross-site form or image cannot add a header,
 * and a cross-site fetch that adds one needs a CORS preflight this service never grants. So a
 * Basic-authenticated change under /admin must carry it (see `basicNeedsCsrfHeader`).
 */
export const csrfHeader = 'X-BSM-CSRF';

/** The page's own files (`public/dashboard`, beside `src` and `dist`) and uPlot's build. */
const ownDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'public', 'dashboard');
const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');

const assets: Record<string, { file: string; type: string }> = {
  'dashboard.js': { file: join(ownDir, 'dashboard.js'), type: 'text/javascript; charset=utf-8' },
  'dashboard.css': { file: join(ownDir, 'dashboard.css'), type: 'text/css; charset=utf-8' },
  'uPlot.iife.min.js': { file: join(uplotDir, 'uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: join(uplotDir, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

/**
 * `/dashboard`: the operator's page (static HTML, CSS and script, uPlot for the charts, all served
 * from here) and who the caller is, so the page shows the controls the role allows. The page reads
 * and acts through the API's own routes, with the Basic credentials the browser keeps, so roles,
 * validation and the audit trail apply as to any client. Authentication is the app's.
 */
export function dashboardRoutes(reports: Pick<ReportStore, 'latest'>): Hono<AppEnv> {
  // Read once: the files ship with the service and do not change while it runs.
  const page = readFileSync(join(ownDir, 'index.html'), 'utf8');
  const files = new Map(Object.entries(assets).map(([name, a]) => [name, { body: readFileSync(a.file), type: a.type }]));
  const app = new Hono<AppEnv>();
  app.use('*', requirePermission('read'));
  app.get('/', (c) => c.html(page, 200, { 'Cache-Control': 'no-store' }));
  app.get('/session', (c) => {
    const p = c.get('principal');
    return c.json(
      { name: p.name, role: p.role, can: { operate: roleCan(p.role, 'operate'), approve: roleCan(p.role, 'approve'), administer: roleCan(p.role, 'administer') }, csrfHeader },
      200,
      { 'Cache-Control': 'no-store' },
    );
  });
  // Which "latest" reads have something to show: the page asks those only, so an install with no
  // audit or report yet shows "none yet" without a 404 in the browser's console.
  app.get('/available', async (c) => {
    const has = async (kind: string) => (await reports.latest(kind, z.unknown()).catch(() => null)) !== null;
    const [audit, analysis, daily, weekly] = await Promise.all([has('audit'), has('analyze-executions'), has('daily-check'), has('weekly-review')]);
    return c.json({ audit, analysis, daily, weekly }, 200, { 'Cache-Control': 'no-store' });
  });
  app.get('/assets/:name', (c) => {
    const f = files.get(c.req.param('name'));
    if (!f) {
      return c.json({ error: { code: 'not_found', message: `no dashboard asset ${c.req.param('name')}`, details: null } }, 404);
    }
    return c.body(new Uint8Array(f.body), 200, { 'Content-Type': f.type, 'Cache-Control': 'private, max-age=300' });
  });
  return new Hono<AppEnv>().route(dashboardPath, app).get(`${dashboardPath}/`, (c) => c.redirect(dashboardPath, 301));
}
