import { canarySchema, defineQueue } from './define.js';

/** BullMQ queue of ImplementationSupport. Remediation and backlog jobs join it with their issue. */
export const implementationSupportQueue = defineQueue({
  name: 'implementation-support',
  description: 'Remediation, backlog analysis, implementation guidance',
  jobs: {
    canary: canarySchema,
  },
});
