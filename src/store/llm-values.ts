import type { Redis } from 'ioredis';
import { z } from 'zod';
import { StoredDataError } from './parse.js';

/*
 * Parsing what the LLM stores read back from Redis: hash fields are text, and a counter or a
 * time that is not a number is a corrupt value, not a zero.
 */

/** A whole number written by HINCRBY or HSET. */
export const intText = z.string().regex(/^-?\d+$/, 'not a whole number').transform(Number);

/** A number written as text (epoch milliseconds may carry a fraction from a test clock). */
export const numberText = z
  .string()
  .regex(/^-?\d+(\.\d+)?(e[-+]?\d+)?$/i, 'not a number')
  .transform(Number);

/** Parses `value` with `schema`, naming `what` in the {@link StoredDataError} when it does not fit. */
export function parseFrom<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoredDataError(`${what}: ${issue?.path.join('.') ?? ''} ${issue?.message ?? 'unexpected value'}`.trim());
  }
  return parsed.data;
}

/** JSON text read back from Redis, or undefined when it is not JSON (the caller's schema then refuses it). */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Execs a MULTI and returns the replies, throwing the first command error. */
export async function execAll(multi: ReturnType<Redis['multi']>): Promise<unknown[]> {
  const replies = await multi.exec();
  if (replies === null) {
    throw new Error('Redis transaction was aborted');
  }
  return replies.map(([error, value]) => {
    if (error) {
      throw error;
    }
    return value;
  });
}
