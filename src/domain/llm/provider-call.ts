import { untilAborted } from './abort.js';
import type { AttemptResult, DecisionAttempt, SkipCause } from './ports.js';
import { LlmThrottledError } from './types.js';
import type { LlmPath, LlmProvider, LlmRequest, ProviderResult } from './types.js';

/** How one provider call ended, with its measured duration. */
export type CallResult =
  | { kind: 'success'; result: ProviderResult; latencyMs: number }
  /** The caller's signal aborted it. */
  | { kind: 'aborted'; signal: AbortSignal; latencyMs: number }
  | { kind: 'throttled'; error: LlmThrottledError; latencyMs: number }
  /** No answer within `timeoutMs`. */
  | { kind: 'timeout'; error: unknown; latencyMs: number }
  | { kind: 'failed'; error: unknown; latencyMs: number };

/** How {@link callProvider} calls. */
export interface CallOptions {
  /** Cut the call after this many ms; none when undefined. */
  timeoutMs?: number;
  callerSignal: AbortSignal | undefined;
  /** Monotonic clock, ms. */
  monotonic: () => number;
}

/**
 * Calls `provider` once and says how it ended. A provider that ignores its signal is abandoned
 * when the signal fires (its promise goes on, unobserved).
 */
export async function callProvider(provider: LlmProvider, request: LlmRequest, options: CallOptions): Promise<CallResult> {
  const { callerSignal, monotonic } = options;
  const timeout = options.timeoutMs === undefined ? undefined : AbortSignal.timeout(options.timeoutMs);
  const signals = [callerSignal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : signals[0];
  const started = monotonic();
  try {
    const result = await untilAborted(provider.complete(request, signal ?? new AbortController().signal), signal);
    return { kind: 'success', result, latencyMs: monotonic() - started };
  } catch (error) {
    const latencyMs = monotonic() - started;
    if (callerSignal?.aborted === true) {
      return { kind: 'aborted', signal: callerSignal, latencyMs };
    }
    if (error instanceof LlmThrottledError) {
      return { kind: 'throttled', error, latencyMs };
    }
    return timeout?.aborted === true ? { kind: 'timeout', error, latencyMs } : { kind: 'failed', error, latencyMs };
  }
}

const MAX_DETAIL_CHARS = 300;

/** An error as an attempt's detail: its name and message, at most 300 characters. */
export function errorDetail(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_DETAIL_CHARS);
}

/** A path that was not called, as an attempt. */
export function skippedAttempt(path: LlmPath, cause: SkipCause, detail: string): DecisionAttempt {
  return { path, result: 'skipped', skipped: cause, latencyMs: 0, detail };
}

/** A path that was called, as an attempt. */
export function calledAttempt(path: LlmPath, result: Exclude<AttemptResult, 'skipped'>, latencyMs: number, detail: string | null = null): DecisionAttempt {
  return { path, result, skipped: null, latencyMs, detail };
}
