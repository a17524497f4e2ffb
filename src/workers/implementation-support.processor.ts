import type { implementationSupportQueue } from '../queues/implementation-support.queue.js';
import { canaryHandler } from './canary.js';
import type { HandlerTable } from './types.js';

export function implementationSupportHandlers(): HandlerTable<typeof implementationSupportQueue> {
  return {
    canary: canaryHandler('implementation-support'),
  };
}
