import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LlmThrottledError } from '../domain/llm/types.js';
import { LlmBlockedError } from '../domain/compliance/llm-gate.js';
import { ActionBusyError, ActionNotFoundError, ActionRollbackRefusedError, ActionValidationError } from '../domain/actions/index.js';
import { AlertConflictError, AlertsBusyError } from '../domain/alerts/alert.js';
import { AlertNotFoundError } from '../domain/alerts/service.js';
import { AuditUnavailableError } from '../domain/audit-trail/ports.js';
import { CloudWatchRequestError, CloudWatchThrottledError } from '../domain/cloudwatch/ports.js';
import { AuditArchiveBusyError } from '../domain/audit-trail/service.js';
import { FeatureFlagBusyError } from '../domain/feature-flags.js';
import { RemediationError } from '../domain/implementation/remediation-service.js';
import { SupportModeBusyError, SupportModeConflictError } from '../domain/support-mode/state.js';
import type { Logger } from '../observability/logger.js';
import { JobPayloadError } from '../queues/fleet.js';
import { isRedisUnreachable } from '../redis.js';

/** The one error body of the API. */
export interface ErrorBody {
  /** Always present; null when there is nothing more to say. */
  error: { code: string; message: string; details: unknown };
}

/** An error with its HTTP status, code and a message a user can act on. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    readonly headers?: Record<string, string>,
    /** Fields placed beside `error` (health answers keep `status` at the top, for `jq .status`). */
    readonly top?: Record<string, unknown>,
  ) {
    super(message);
  }
}

const codeByStatus: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  503: 'unavailable',
};

/** The one error shape: `{ error: { code, message, details } }`, `details` null when empty. */
export function errorBody(code: string, message: string, details: unknown = null): ErrorBody {
  return { error: { code, message, details: details ?? null } };
}

/** `app.onError`: maps every error to `{ error: { code, message, details } }` with the right status. */
export function errorHandler(logger: Logger) {
  return function onError(err: Error, c: Context): Response {
    if (err instanceof ApiError) {
      return c.json({ ...err.top, ...errorBody(err.code, err.message, err.details) }, err.status, err.headers);
    }
    if (err instanceof JobPayloadError) {
      return c.json(errorBody('invalid_request', err.message, { field: err.field, issues: err.issues }), 400);
    }
    if (err instanceof AuditUnavailableError) {
      logger.error({ err: err.message, path: c.req.path }, 'change refused: the audit trail could not record it');
      return c.json(errorBody('audit_unavailable', err.message), 503);
    }
    if (err instanceof ActionValidationError) {
      return c.json(errorBody('invalid_request', err.message, { field: err.field, issues: err.issues }), 400);
    }
    if (err instanceof RemediationError) {
      const status = { not_found: 404, conflict: 409, invalid: 400, forbidden: 403 } as const;
      const code = { not_found: 'not_found', conflict: 'conflict', invalid: 'invalid_request', forbidden: 'forbidden' } as const;
      return c.json(errorBody(code[err.kind], err.message, err.field === undefined ? null : { field: err.field }), status[err.kind]);
    }
    if (err instanceof ActionNotFoundError) {
      return c.json(errorBody('not_found', err.message), 404);
    }
    if (err instanceof ActionRollbackRefusedError) {
      return c.json(errorBody('conflict', err.message, { reason: err.reason }), 409);
    }
    if (err instanceof AlertNotFoundError) {
      return c.json(errorBody('not_found', err.message), 404);
    }
    if (err instanceof AlertConflictError) {
      return c.json(errorBody('conflict', err.message, { state: err.state }), 409);
    }
    if (err instanceof SupportModeBusyError || err instanceof FeatureFlagBusyError || err instanceof ActionBusyError || err instanceof AlertsBusyError || err instanceof AuditArchiveBusyError) {
      return c.json(errorBody('busy', err.message), 409);
    }
    if (err instanceof LlmBlockedError) {
      return c.json(errorBody('compliance_violation', err.message, { violations: err.violations }), 503);
    }
    if (err instanceof LlmThrottledError) {
      const seconds = Math.max(1, Math.ceil((err.retryAfterMs ?? 5_000) / 1000));
      return c.json(errorBody('throttled', `the LLM provider is throttling (${err.message}); retry in ${seconds} s`, { retryAfterSeconds: seconds }), 429, {
        'Retry-After': String(seconds),
      });
    }
    if (err instanceof CloudWatchRequestError) {
      logger.warn({ err: err.message, code: err.code, httpStatus: err.httpStatus, path: c.req.path }, 'CloudWatch refused a request');
      return c.json(errorBody(err instanceof CloudWatchThrottledError ? 'cloudwatch_throttled' : 'cloudwatch_error', err.message, { code: err.code, httpStatus: err.httpStatus ?? null }), 502);
    }
    if (err instanceof SupportModeConflictError) {
      return c.json(errorBody('conflict', err.message, { status: err.status }), 409);
    }
    if (err instanceof HTTPException) {
      const status = err.status;
      const message =
        err.status === 400 && /JSON/i.test(err.message)
          ? 'body is not valid JSON'
          : err.status === 415
            ? 'send the body as JSON, with Content-Type: application/json'
            : err.message || 'request rejected';
      return c.json(errorBody(codeByStatus[status] ?? 'http_error', message), status);
    }
    if (isRedisUnreachable(err)) {
      logger.warn({ err: err.message, path: c.req.path }, 'redis unavailable');
      const mutating = c.req.method !== 'GET' && c.req.method !== 'HEAD';
      return c.json(
        errorBody(
          'unavailable',
          mutating ? 'Redis is unreachable: the request may not have completed; check /admin/bedrock-support/status once Redis is back' : 'Redis is unreachable',
        ),
        503,
      );
    }
    logger.error({ err: err.message, stack: err.stack, path: c.req.path }, 'request failed');
    return c.json(errorBody('internal_error', 'internal error'), 500);
  };
}
