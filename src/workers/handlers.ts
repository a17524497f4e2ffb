import { bedrockSupportHandlers } from './bedrock-support.processor.js';
import { complianceHandlers } from './compliance.processor.js';
import type { WorkerDeps } from './deps.js';
import { implementationSupportHandlers } from './implementation-support.processor.js';
import { infrastructureAuditorHandlers } from './infrastructure-auditor.processor.js';
import { metaMonitorHandlers } from './meta-monitor.processor.js';
import type { AllHandlerTables } from './runner.js';

/** The handler tables of all five queues (a queue left out does not compile). */
export function buildHandlers(deps: WorkerDeps): AllHandlerTables {
  return {
    'bedrock-support': bedrockSupportHandlers(deps),
    'infrastructure-auditor': infrastructureAuditorHandlers(deps),
    'meta-monitor': metaMonitorHandlers(deps),
    'implementation-support': implementationSupportHandlers(),
    compliance: complianceHandlers(deps),
  };
}
