/** The five queues, one per component (runbook names). */
export const queueNames = [
  'bedrock-support',
  'infrastructure-auditor',
  'meta-monitor',
  'implementation-support',
  'compliance',
] as const;
export type QueueName = (typeof queueNames)[number];

export function isQueueName(value: string): value is QueueName {
  return (queueNames as readonly string[]).includes(value);
}

/** Job priorities: BullMQ runs lower numbers first. */
export const priorities = { high: 1, medium: 5, low: 10 } as const;
export type PriorityName = keyof typeof priorities;
export const priorityNames = Object.keys(priorities) as PriorityName[];
