import { bedrockSupportQueue } from './bedrock-support.queue.js';
import { complianceQueue } from './compliance.queue.js';
import { implementationSupportQueue } from './implementation-support.queue.js';
import { infrastructureAuditorQueue } from './infrastructure-auditor.queue.js';
import { metaMonitorQueue } from './meta-monitor.queue.js';
import type { QueueName } from './names.js';

/** Every queue definition by name. */
export const queueDefinitions = {
  'bedrock-support': bedrockSupportQueue,
  'infrastructure-auditor': infrastructureAuditorQueue,
  'meta-monitor': metaMonitorQueue,
  'implementation-support': implementationSupportQueue,
  compliance: complianceQueue,
} as const satisfies { [Q in QueueName]: { name: Q } };

export type QueueDefinitions = typeof queueDefinitions;
