import { CliUsageError } from './http.js';
import { progressBar, type Io } from './output.js';

/** The job did not finish within `--timeout`. Exit 1: what was asked for did not happen. */
export class WaitTimeoutError extends Error {
  override readonly name = 'WaitTimeoutError';
}

export interface Poll<T> {
  /** Finished: the value to return. */
  done?: T;
  /** Still queued or running. */
  percent?: number;
  state?: string;
}

/**
 * Follows a job until it finishes: polls `check` every `everyMs`, drawing its progress on a TTY,
 * and gives up after `timeoutMs`.
 */
export async function follow<T>(label: string, io: Io, check: () => Promise<Poll<T>>, options: { timeoutMs: number; everyMs?: number }): Promise<T> {
  const bar = progressBar(label, io);
  const deadline = Date.now() + options.timeoutMs;
  const every = options.everyMs ?? 250;
  try {
    for (;;) {
      const poll = await check();
      if (poll.done !== undefined) {
        bar.update(100, 'done');
        return poll.done;
      }
      bar.update(poll.percent ?? 0, poll.state ?? 'queued');
      if (Date.now() > deadline) {
        throw new WaitTimeoutError(`${label} did not finish within ${options.timeoutMs / 1000} s (last state: ${poll.state ?? 'queued'}, ${Math.round(poll.percent ?? 0)} %)`);
      }
      await new Promise((r) => setTimeout(r, every));
    }
  } finally {
    bar.done();
  }
}

/** `--timeout SECONDS` as milliseconds. */
export function timeoutMs(raw: string): number {
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > 86_400) {
    throw new CliUsageError(`--timeout must be a number of seconds 1-86400, got "${raw}"`);
  }
  return seconds * 1000;
}
