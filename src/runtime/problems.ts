/**
 * The exit code of a problem `bsm` reports as one line instead of a stack: 2 for how it was called
 * or configured (usage, settings, API keys, the inventory file, no Redis), 1 for a service outside
 * that refused (CloudWatch, the audit-trail archive). main.ts imports this only when something
 * failed, so the error classes' modules (Redis, Hono, YAML) stay out of a command that succeeds.
 */
import { ApiKeysError } from '../api/auth.js';
import { ConfigError } from '../config.js';
import { AuditUnavailableError } from '../domain/audit-trail/ports.js';
import { CloudWatchRequestError } from '../domain/cloudwatch/ports.js';
import { NoRedisError } from '../redis-server.js';
import { InventoryFileError } from '../store/inventory-file.js';
import { UsageError } from './invocation.js';

/** 1 or 2 for a problem to print as one line; `null` for anything else (a bug: its stack). */
export function problemExitCode(err: unknown): 1 | 2 | null {
  if (err instanceof CloudWatchRequestError || err instanceof AuditUnavailableError) {
    return 1;
  }
  if (err instanceof InventoryFileError || err instanceof ConfigError || err instanceof UsageError || err instanceof NoRedisError || err instanceof ApiKeysError) {
    return 2;
  }
  return null;
}
