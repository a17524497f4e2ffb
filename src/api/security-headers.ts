import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';
import type { AppEnv } from './env.js';

type ContentSecurityPolicy = NonNullable<NonNullable<Parameters<typeof secureHeaders>[0]>['contentSecurityPolicy']>;

/**
 * On every answer, whatever made it (a route, the error handler, Bull Board, the Node adapter's
 * own 400 or 500): no content-type sniffing, and no Referer with the service's URLs in it.
 */
export const everyAnswerHeaders: readonly (readonly [string, string])[] = [
  ['X-Content-Type-Options', 'nosniff'],
  ['Referrer-Policy', 'no-referrer'],
];

/**
 * The paths app.ts authenticates (`/admin/*`, `/test/*`, `/mcp`, each matching its bare prefix too):
 * what they answer only a key may read, so it defaults to `Cache-Control: no-store`.
 */
const authenticatedPath = /^\/(?:admin|test|v1|mcp)(?:[/?]|$)/;

/**
 * Wraps the Node request listener that serves the app: every answer carries
 * {@link everyAnswerHeaders}, and an answer on an authenticated path `Cache-Control: no-store`
 * unless the app set a `Cache-Control` of its own (a header the app sets replaces these).
 *
 * They are set on the Node response before the app runs, which costs a few percent of a health
 * or status request's CPU: a Hono middleware setting them took the health routes off their
 * one-handler synchronous path and made every answer build a `Headers` object, a fifth of a
 * health request and a tenth of a status request (measured with autocannon).
 */
export function withEveryAnswerHeaders(listener: (req: IncomingMessage, res: ServerResponse) => unknown): (req: IncomingMessage, res: ServerResponse) => void {
  return function everyAnswerHeadersListener(req, res) {
    for (const [name, value] of everyAnswerHeaders) {
      res.setHeader(name, value);
    }
    if (authenticatedPath.test(req.url ?? '')) {
      res.setHeader('Cache-Control', 'no-store');
    }
    void listener(req, res);
  };
}

/** What every HTML page may do: load from here, be framed nowhere, post forms nowhere else. */
const pageBase: ContentSecurityPolicy = {
  defaultSrc: ["'self'"],
  connectSrc: ["'self'"],
  imgSrc: ["'self'", 'data:'],
  fontSrc: ["'self'", 'data:'],
  objectSrc: ["'none'"],
  baseUri: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** `'sha256-…'` of each inline script of `html` (a `<script>` with neither `src` nor a data type). */
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
    .filter((m) => !/\bsrc=/.test(m[1] ?? '') && !/\btype="application\/json"/.test(m[1] ?? ''))
    .map((m) => `'sha256-${createHash('sha256').update(m[2] ?? '', 'utf8').digest('base64')}'`);
}

/**
 * Swagger UI's policy: its bundle and styles come from /docs/assets and its CSS uses data:
 * images; the page starts it with one inline script, allowed by its hash (`scriptHashes`, from
 * {@link inlineScriptHashes} of the page as rendered).
 */
export function docsPolicy(scriptHashes: string[]): ContentSecurityPolicy {
  return { ...pageBase, scriptSrc: ["'self'", ...scriptHashes], styleSrc: ["'self'"] };
}

/**
 * Bull Board's policy: its scripts are its own files (its configuration is a JSON data block,
 * which runs nothing); its loading placeholder and UI use inline styles. Its page also asks Google
 * Fonts for its typeface: refused, so an operator's browser tells no third party who opens the
 * board (it falls back to system fonts).
 */
export const boardPolicy: ContentSecurityPolicy = {
  ...pageBase,
  scriptSrc: ["'self'"],
  workerSrc: ["'self'"],
  styleSrc: ["'self'", "'unsafe-inline'"],
  fontSrc: ["'self'", 'data:'],
};

/**
 * The dashboard's policy: its script, styles and uPlot are its own files; no inline script or
 * style, nothing from elsewhere; it fetches only this service's API.
 */
export const dashboardPolicy: ContentSecurityPolicy = { ...pageBase, scriptSrc: ["'self'"], styleSrc: ["'self'"] };

/**
 * The headers of an HTML page and what it loads (hono's secure-headers): `policy`, no framing
 * (`X-Frame-Options: DENY` for browsers without `frame-ancestors`), a same-origin opener and
 * resource policy. No `Strict-Transport-Security`: whether the service is reached over HTTPS is
 * the proxy's to say, and it would hold for every subdomain.
 */
export function pageSecurityHeaders(policy: ContentSecurityPolicy): MiddlewareHandler<AppEnv> {
  return secureHeaders({ contentSecurityPolicy: policy, xFrameOptions: 'DENY', strictTransportSecurity: false });
}

/**
 * `Cache-Control: private` instead of the authenticated paths' `no-store`, for files that are the
 * same for every key (Bull Board's scripts and styles): the browser may keep them as it did,
 * shared caches may not.
 */
export function privateCache(): MiddlewareHandler<AppEnv> {
  return async function privateCacheMiddleware(c, next) {
    await next();
    // A refusal (401, 403) keeps no-store.
    if (c.res.ok) {
      c.res.headers.set('Cache-Control', 'private');
    }
  };
}
