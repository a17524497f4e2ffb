import { hostname } from 'node:os';
import type { Logger } from '../observability/logger.js';
import type { ControlChannel, ControlMessage } from '../store/control-channel.js';
import type { Runner } from '../workers/runner.js';

/**
 * What a worker process does with the fleet's control messages: cancel its running jobs (an
 * emergency shutdown), or close one queue's workers and start them again, then answer.
 */
export function controlHandler(parts: { runner: Runner; control: ControlChannel; logger: Logger }): (message: ControlMessage) => void {
  const worker = `${hostname()}:${process.pid}`;
  return (message) => {
    switch (message.type) {
      case 'cancel-running':
        parts.logger.warn({ reason: message.reason }, 'cancelling running jobs');
        parts.runner.cancelAll(message.reason);
        return;
      case 'restart-queue': {
        const started = performance.now();
        const tookMs = () => Math.round(performance.now() - started);
        parts.runner
          .restart(message.queue)
          .then(
            (restarted) => parts.control.answer(message.requestId, { worker, restarted, tookMs: tookMs(), error: null }),
            (err: unknown) => {
              parts.logger.error({ queue: message.queue, err: (err as Error).message }, 'could not restart the workers of the queue');
              return parts.control.answer(message.requestId, { worker, restarted: false, tookMs: tookMs(), error: (err as Error).message });
            },
          )
          .catch((err: unknown) => parts.logger.warn({ err: (err as Error).message }, 'could not answer a restart request'));
        return;
      }
    }
  };
}
