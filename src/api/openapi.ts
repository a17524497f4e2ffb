import { z, type RouteConfig } from '@hono/zod-openapi';
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

/** A free-form JSON answer (documented by example, not by schema). */
export const AnyJson = z.record(z.string(), z.unknown()).openapi('Object');

export const reason = z.string().trim().max(500).optional().openapi({ example: 'Initial activation' });
