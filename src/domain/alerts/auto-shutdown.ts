/**
 * Automatic emergency shutdown: while the `auto-emergency-shutdown` flag is on, an alert of a
 * configured trigger shuts support mode down as an operator's shutdown would (the same command,
 * audited), with the rule as its initiator.
 */
import type { AlertCondition } from './alert.js';

/** The alerts that may shut support mode down by themselves (`BSM_AUTO_SHUTDOWN_TRIGGERS`). */
export const autoShutdownTriggers = ['error-rate', 'consecutive-failures', 'llm-spend'] as const;
export type AutoShutdownTrigger = (typeof autoShutdownTriggers)[number];

/** The alert rule behind each trigger. */
export const triggerRules = {
  'error-rate': 'support-operations.error-rate',
  'consecutive-failures': 'component.consecutive-failures',
  'llm-spend': 'llm.spend',
} as const satisfies Record<AutoShutdownTrigger, string>;

/** Who the support-mode state names as the initiator of an automatic shutdown. */
export function ruleInitiator(rule: string): string {
  return `rule:${rule}`;
}

/** The first firing condition of a configured trigger (in the order the triggers are listed), or null. */
export function shutdownCause(firing: readonly AlertCondition[], triggers: readonly AutoShutdownTrigger[]): AlertCondition | null {
  for (const trigger of triggers) {
    const found = firing.find((c) => c.rule === triggerRules[trigger]);
    if (found) {
      return found;
    }
  }
  return null;
}
