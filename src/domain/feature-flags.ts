/**
 * The feature-flag registry: every flag of the service, declared once with its description,
 * default, the permission needed to change it, and what in this version acts on it.
 *
 * `bedrock-support` is the master switch of support mode: its value and its changes belong to
 * the support-mode lifecycle (`domain/support-mode/`). Every other flag is stored on its own
 * (see `feature-flags.service.ts`) and gates a feature a component brings; a flag whose feature
 * does not exist yet says so (`enforcedBy: null` and why), so nobody believes it protects them.
 */
import { z } from 'zod';
import type { Permission } from './access.js';

export const featureFlagNames = ['bedrock-support', 'auto-remediation', 'auto-emergency-shutdown', 'llm-narratives', 'cloudwatch-publishing'] as const;
export type FeatureFlagName = (typeof featureFlagNames)[number];

/** The flag the support-mode lifecycle owns; the others are stored by the flag service. */
export const masterSwitch = 'bedrock-support' satisfies FeatureFlagName;
export type StoredFlagName = Exclude<FeatureFlagName, typeof masterSwitch>;

/** What acts on a flag in this version, or why nothing does yet. */
export type Enforcement = { enforcedBy: string } | { enforcedBy: null; notInEffectBecause: string };

export type FeatureFlagDefinition = {
  name: FeatureFlagName;
  /** What the flag does, in a sentence an operator can act on. */
  description: string;
  /** The value before anyone sets it. */
  default: boolean;
  /** The permission a principal needs to change it. */
  permission: Permission;
} & Enforcement;

export const featureFlags = {
  'bedrock-support': {
    name: 'bedrock-support',
    description:
      'The master switch of support mode. Enabling makes support mode enabled and inactive (components are then activated one by one); disabling deactivates every component and pauses its queue. Owned by the support-mode lifecycle.',
    default: false,
    permission: 'operate',
    enforcedBy: 'the support-mode lifecycle (queue pausing, POST /admin/bedrock-support/*)',
  },
  'auto-remediation': {
    name: 'auto-remediation',
    description:
      'Let a medium-risk remediation requested with auto_resolve run without waiting for an approver (low risk always runs at once; high risk always waits).',
    default: false,
    permission: 'administer',
    enforcedBy: 'implementation support\'s remediation requests (POST /admin/bedrock-support/implementation/remediate)',
  },
  'auto-emergency-shutdown': {
    name: 'auto-emergency-shutdown',
    description:
      'Let the alert evaluation shut support mode down without an operator when a trigger alert fires (BSM_AUTO_SHUTDOWN_TRIGGERS: the support operations\' error rate, consecutive failures of a component\'s jobs, LLM spend per hour), recorded as an emergency shutdown with the rule as its initiator.',
    default: false,
    permission: 'administer',
    enforcedBy: 'the alert evaluation (alert-evaluation job, every minute)',
  },
  'llm-narratives': {
    name: 'llm-narratives',
    description:
      'Let a language model write the narratives of daily checks, weekly reviews, audits, execution analyses and gap guidance. Off, the local template writer writes them and no model is called.',
    default: true,
    permission: 'operate',
    enforcedBy: 'the job narratives (daily-check, weekly-review, audit, analyze-executions) and GET /admin/bedrock-support/implementation/gaps/{id}/guidance',
  },
  'cloudwatch-publishing': {
    name: 'cloudwatch-publishing',
    description:
      'Publish the fleet\'s metrics to CloudWatch (BedrockSupport/Performance, …/Resources, …/Operations). Needs CLOUDWATCH_ENABLED=true as well, which declares the publishing schedule; off, a run sends nothing.',
    default: false,
    permission: 'administer',
    enforcedBy: 'the cloudwatch-publish job on the bedrock-support queue (BSM_SCHEDULE_CLOUDWATCH, declared with CLOUDWATCH_ENABLED=true), which reads the flag on every run',
  },
} as const satisfies { [N in FeatureFlagName]: FeatureFlagDefinition & { name: N } };

export function isFeatureFlagName(value: string): value is FeatureFlagName {
  return (featureFlagNames as readonly string[]).includes(value);
}

/** A flag's value and its last change, as stored (and as the support-mode state keeps the master switch). */
export const flagStateSchema = z.object({
  enabled: z.boolean(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
  /** Redacted of personal data before it is stored. */
  reason: z.string().nullable(),
});
export type FlagState = z.infer<typeof flagStateSchema>;

/** The state of a flag nobody has set. */
export const defaultState = (name: FeatureFlagName): FlagState => ({ enabled: featureFlags[name].default, updatedAt: null, updatedBy: null, reason: null });

/** Reads flags: what a feature asks before it acts. */
export interface FeatureFlagReader {
  enabled(name: StoredFlagName): Promise<boolean>;
}

/** Another feature-flag change holds the fleet-wide lock. */
export class FeatureFlagBusyError extends Error {
  override readonly name = 'FeatureFlagBusyError';
}
