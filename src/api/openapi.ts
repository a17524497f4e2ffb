import { z, type RouteConfig } from '@hono/zod-openapi';
import { routeReasons } from '../domain/llm/router.js';
import { remotePaths } from '../domain/llm/routing-matrix.js';
import { llmPaths } from '../domain/llm/types.js';
import { supportStatuses } from '../domain/support-mode/state.js';
import { queueNames } from '../domain/queue-names.js';
import { requirePermission, type Permission } from './auth.js';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'invalid_request' }),
      message: z.string().openapi({ example: 'component: Invalid option: expected one of "infrastructure-auditor"|"meta-monitor"|"implementation-support"' }),
      details: z.unknown().openapi({ description: 'More about the error (e.g. the field and every issue); null when there is nothing more' }),
    }),
  })
  .openapi('Error');

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: ErrorSchema } } });

/** Security, permission check and the error responses every protected route shares. */
export function guard(permission: Permission) {
  return {
    security: [{ bearerAuth: [] }],
    middleware: [requirePermission(permission)],
    'x-required-permission': permission,
  } as const satisfies Partial<RouteConfig> & Record<string, unknown>;
}

export const protectedErrors = {
  401: errorResponse('Missing or invalid token'),
  403: errorResponse('The role does not allow this'),
  503: errorResponse('Redis is unreachable'),
} as const;

export const bodyErrors = {
  400: errorResponse('Invalid JSON or a field that does not validate'),
  409: errorResponse('The current state does not allow this'),
  413: errorResponse('Body too large'),
  415: errorResponse('Body is not JSON'),
} as const;

export const notFound = { 404: errorResponse('Unknown resource') } as const;

/** A JSON request body; `required: false` lets runbook calls without a body through. */
export function jsonBody<T extends z.ZodType>(schema: T, required = true) {
  return { required, content: { 'application/json': { schema } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/**
 * An object with one required property per key: a `Record<K, …>` that the document lists key by
 * key (a `z.record` over an enum would leave `required` out).
 */
export function keyed<const K extends string, T extends z.ZodType>(keys: readonly K[], value: T) {
  return z.object(Object.fromEntries(keys.map((k) => [k, value])) as Record<K, T>);
}

/** A number of things (jobs, workers, calls, tokens stored as integers). */
export const count = z.number().int().min(0);

/** An instant as `Date#toISOString` writes it (UTC). */
export const isoTime = z.iso.datetime().openapi({ example: '2026-11-26T12:00:00.000Z' });

export const SupportStatusSchema = z.enum(supportStatuses).openapi('SupportStatus');
export const QueueNameSchema = z.enum(queueNames).openapi('QueueName');
export const LlmPathSchema = z.enum(llmPaths).openapi('LlmPath');
export const RemotePathSchema = z.enum(remotePaths).openapi('RemotePath');
export const RouteReasonSchema = z.enum(routeReasons).openapi('RouteReason', { description: 'Why the answer came from the path it came from' });

export const reason = z.string().trim().max(500).optional().openapi({ example: 'Initial activation' });

/** The query of a GET that takes no parameters: an unknown one is a 400 naming it, as in bodies. */
export const noQuery = { query: z.object({}).strict() };
