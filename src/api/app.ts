import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { OpenAPIHono } from '@hono/zod-openapi';
import { SwaggerUI, swaggerUI } from '@hono/swagger-ui';
import { bodyLimit } from 'hono/body-limit';
import type { MiddlewareHandler } from 'hono';
import { alertRoutes } from './alerts.routes.js';
import { auditRoutes } from './audit.routes.js';
import { auditTrailRoutes } from './audit-trail.routes.js';
import { complianceRoutes } from './compliance.routes.js';
import { complianceReportRoutes } from './compliance-report.routes.js';
import { componentRoutes } from './components.routes.js';
import { authenticate, scraperOrReader } from './auth.js';
import { bullBoardPath, bullBoardRoutes } from './bull-board.js';
import { cloudwatchRoutes } from './cloudwatch.routes.js';
import { componentTestRoutes } from './component-test.routes.js';
import { defaultLimits, type ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { ApiError, errorBody, errorHandler } from './errors.js';
import { FailedLogins } from './failed-logins.js';
import { featureFlagRoutes } from './feature-flags.routes.js';
import { healthRoutes } from './health.routes.js';
import { auditMutations, basicNeedsCsrfHeader, csrfGuard, freshFleetAfterMutations, mutatingMethods, requestIds } from './middleware.js';
import { csrfHeader, dashboardPath, dashboardRoutes } from './dashboard.js';
import { llmRoutes } from './llm.routes.js';
import { mcpPath, mcpRoutes } from './mcp.routes.js';
import { metricsRoutes, prometheusRoute } from './metrics.routes.js';
import { ingestPath, metaMonitorRoutes } from './meta-monitor.routes.js';
import { metaMonitorAnalysisRoutes } from './meta-monitor-analysis.routes.js';
import { otlpRoutes, otlpTracesPath } from './otlp.routes.js';
import { implementationRoutes } from './implementation.routes.js';
import { guidanceRoutes } from './guidance.routes.js';
import { backlogRoutes } from './backlog.routes.js';
import { remediationRoutes } from './remediation.routes.js';
import { reportRoutes } from './reports.routes.js';
import { specScanRoutes } from './spec-scan.routes.js';
import { boardPolicy, dashboardPolicy, docsPolicy, inlineScriptHashes, pageSecurityHeaders, privateCache } from './security-headers.js';
import { supportModeRoutes } from './support-mode.routes.js';
import { describeIssue } from './validation.js';

export type { ApiDeps } from './deps.js';

const swaggerDist = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

/** A body limit of `maxSize` bytes, or of `byPath[path]` on the paths named there (bulk routes). */
function bodyLimits(maxSize: number, byPath: Record<string, number>): MiddlewareHandler<AppEnv> {
  const limit = (bytes: number) =>
    bodyLimit({
      maxSize: bytes,
      onError: () => {
        throw new ApiError(413, 'payload_too_large', `request body exceeds ${bytes} bytes`);
      },
    });
  const general = limit(maxSize);
  const own = new Map(Object.entries(byPath).map(([path, bytes]) => [path, limit(bytes)]));
  return function bodyLimitsMiddleware(c, next) {
    return (own.get(c.req.path) ?? general)(c, next);
  };
}

/** The HTTP application: one sub-app per resource, one error handler, the OpenAPI document. */
export function createApp(deps: ApiDeps): OpenAPIHono<AppEnv> {
  const limits = { ...defaultLimits, ...deps.limits };
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        // The validator hands the raw input along (typed only in @hono/zod-validator): it lets a message say what was given.
        const input = (result as { data?: unknown }).data;
        const issues = result.error.issues.map((i) => describeIssue(i, input));
        const first = issues[0] ?? { path: '(body)', message: 'the request is invalid' };
        throw new ApiError(400, 'invalid_request', first.message, { field: first.path, issues });
      }
    },
  });

  // Only requests that change state get these: a read has no body to limit (and asking for one
  // makes @hono/node-server build the whole Request object, a large share of a cheap GET's cost),
  // and request ids are for the audit trail, which records mutations only.
  app.on(
    mutatingMethods,
    '*',
    csrfGuard({ publicUrl: deps.publicUrl }),
    basicNeedsCsrfHeader({ header: csrfHeader, exempt: (path) => path.startsWith(`${bullBoardPath}/`) }),
    freshFleetAfterMutations({ invalidate: () => deps.fleetReader.invalidate() }),
    requestIds(),
    // An MCP request may carry a batch of executions (report_executions): the ingest's limit.
    bodyLimits(limits.bodyLimitBytes, { [ingestPath]: limits.ingestBodyLimitBytes, [otlpTracesPath]: limits.ingestBodyLimitBytes, [mcpPath]: limits.ingestBodyLimitBytes }),
  );
  // The HTML pages and what they load get a content security policy each and may not be framed;
  // mounted before authentication, so the board's sign-in challenge has them too (`/x/*` matches
  // `/x`). Every answer's nosniff and Referrer-Policy, and the authenticated paths' no-store, are
  // set beneath the app, where they cost least (createApiServer).
  // Swagger UI without the online validator: its badge would be an image from another site.
  const docsOptions = { url: '/openapi.json', baseUrl: '/docs/assets', title: 'Bedrock Support Mode API', validatorUrl: 'none' };
  app.use('/docs/*', pageSecurityHeaders(docsPolicy(inlineScriptHashes(SwaggerUI(docsOptions)))));
  app.use(`${bullBoardPath}/*`, pageSecurityHeaders(boardPolicy));
  app.use(`${bullBoardPath}/static/*`, privateCache());
  app.use(`${dashboardPath}/*`, pageSecurityHeaders(dashboardPolicy));

  const audit = auditMutations({ append: (e) => deps.auditTrail.append(e), logger: deps.logger });
  // One count of failed logins for every authenticated path.
  const failedLogins = new FailedLogins(
    { maxFailures: limits.loginFailures, windowMs: limits.loginWindowMs, logLines: limits.loginLogLines, maxClients: limits.loginClients },
    deps.logger,
  );
  // These paths are also security-headers.ts's `authenticatedPath`.
  app.use('/admin/*', authenticate({ keyring: deps.keyring, basicRealm: 'Bedrock Support Mode', failedLogins, clock: deps.clock }));
  app.use('/test/*', authenticate({ keyring: deps.keyring, failedLogins, clock: deps.clock }));
  // OTLP/HTTP at the path exporters append to the service's address.
  app.use('/v1/*', authenticate({ keyring: deps.keyring, failedLogins, clock: deps.clock }));
  app.on(mutatingMethods, ['/admin/*', '/test/*', '/v1/*'], audit);
  // The MCP endpoint: the same keys; each tool's route checks the role and writes the audit entry.
  app.use(`${mcpPath}/*`, authenticate({ keyring: deps.keyring, failedLogins, clock: deps.clock }));
  // The dashboard signs in as Bull Board does: the browser asks for the token as the password.
  app.use(`${dashboardPath}/*`, authenticate({ keyring: deps.keyring, basicRealm: 'Bedrock Support Mode', failedLogins, clock: deps.clock }));
  // A scraper's own token, or an API key that reads (not in the OpenAPI document: Prometheus text, not JSON).
  app.use('/metrics/*', scraperOrReader({ keyring: deps.keyring, failedLogins, clock: deps.clock, scraperToken: deps.metrics.scraperToken }));

  app.route('/health', healthRoutes(deps));
  app.route('/admin/feature-flags', featureFlagRoutes(deps));
  app.route('/admin/bedrock-support', supportModeRoutes(deps));
  app.route('/admin/bedrock-support', llmRoutes(deps));
  app.route('/admin/bedrock-support', metricsRoutes(deps));
  app.route('/admin/bedrock-support', auditRoutes(deps));
  app.route('/admin/bedrock-support', componentRoutes(deps));
  app.route('/admin/bedrock-support', metaMonitorRoutes(deps));
  app.route('/admin/bedrock-support', metaMonitorAnalysisRoutes(deps));
  app.route('/admin/bedrock-support', implementationRoutes(deps));
  app.route('/admin/bedrock-support', guidanceRoutes(deps));
  app.route('/admin/bedrock-support', backlogRoutes(deps));
  app.route('/admin/bedrock-support', remediationRoutes(deps));
  app.route('/admin/bedrock-support', specScanRoutes(deps));
  app.route('/admin/bedrock-support', alertRoutes(deps));
  app.route('/admin/bedrock-support', cloudwatchRoutes(deps));
  app.route('/admin/bedrock-support', auditTrailRoutes(deps));
  app.route('/admin/bedrock-support', complianceRoutes(deps));
  app.route('/admin/bedrock-support', complianceReportRoutes(deps));
  app.route('/admin/bedrock-support', reportRoutes(deps));
  app.route('/test', componentTestRoutes(deps));
  app.route('/v1', otlpRoutes(deps));
  app.route('/metrics', prometheusRoute(deps));
  app.route(bullBoardPath, bullBoardRoutes(deps.fleet, deps.queueSettings, deps.auditTrail));
  app.route(mcpPath, mcpRoutes({ fetch: (request, env) => app.fetch(request, env as object), maxBodyBytes: limits.ingestBodyLimitBytes }));
  app.route('/', dashboardRoutes(deps.reports));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer', description: 'A token from BSM_API_KEYS (or the generated admin token)' });
  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: { title: 'Bedrock Support Mode', version: '0.1.0', description: 'Control API of the Bedrock Support Mode fleet. Health is public; /admin and /test need a bearer token.' },
  });
  app.use('/docs/assets/swagger-ui-dist/*', serveStatic({ root: swaggerDist, rewriteRequestPath: (p) => p.replace(/^\/docs\/assets\/swagger-ui-dist/, '') }));
  const docsPage = swaggerUI(docsOptions);
  app.get('/docs', docsPage);
  // A typed or bookmarked `/docs/` is the same page: its asset and document URLs are absolute.
  app.get('/docs/', docsPage);

  // A documented path asked with another method is a 405 naming the methods it takes.
  const documented = app.openAPIRegistry.definitions.flatMap((d) =>
    d.type === 'route' ? [{ method: d.route.method.toUpperCase(), path: new RegExp(`^${d.route.path.replace(/\{[^}]+\}/g, '[^/]+')}$`) }] : [],
  );
  app.notFound((c) => {
    const methods = documented.filter((r) => r.path.test(c.req.path)).map((r) => r.method);
    const allowed = [...new Set(methods.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])))];
    if (allowed.length > 0) {
      return c.json(errorBody('method_not_allowed', `${c.req.path} takes ${allowed.join(', ')}, not ${c.req.method}`, { allowed }), 405, { Allow: allowed.join(', ') });
    }
    return c.json(errorBody('not_found', `no route for ${c.req.method} ${c.req.path}`), 404);
  });
  app.onError(errorHandler(deps.logger));
  return app;
}
