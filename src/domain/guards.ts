/**
 * Whether `value` is an object whose properties can be read by name: not null, not an array.
 * The one such guard of the code base; narrow `unknown` input (SDK errors, JSON) with it.
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
