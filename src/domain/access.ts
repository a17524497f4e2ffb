/**
 * Who may do what: roles are sets of permissions, not a ladder (the shared contract in the
 * architecture document).
 *
 * - read: every GET, MCP read tools.
 * - ingest: an agent posting executions or OTLP spans.
 * - operate: lifecycle, emergency shutdown, triggering audits, analyses, reports and archives,
 *   requesting remediations, acknowledging alerts, backlog priorities, MCP tools that act.
 * - approve: approving or rejecting an action that waits, applying an optimization.
 * - administer: runtime configuration, cleanup of archived trail entries, erasure, dashboards.
 */
export const permissions = ['read', 'ingest', 'operate', 'approve', 'administer'] as const;
export type Permission = (typeof permissions)[number];

export const roles = ['viewer', 'ingest', 'operator', 'approver', 'admin'] as const;
export type Role = (typeof roles)[number];

export const grants: Readonly<Record<Role, readonly Permission[]>> = {
  viewer: ['read'],
  ingest: ['ingest'],
  operator: ['read', 'operate'],
  approver: ['read', 'approve'],
  admin: ['read', 'ingest', 'operate', 'approve', 'administer'],
};

export function isRole(value: string): value is Role {
  return (roles as readonly string[]).includes(value);
}

export function roleCan(role: Role, permission: Permission): boolean {
  return grants[role].includes(permission);
}

/** The roles that grant `permission`, in the order of {@link roles}. */
export function rolesWith(permission: Permission): Role[] {
  return roles.filter((r) => roleCan(r, permission));
}

/** An authenticated caller: the key's name and its role. */
export interface Principal {
  name: string;
  role: Role;
}

/** The verdict on one approval under the two-person rule. */
export type ApprovalVerdict = { allowed: true; twoPersonRule: 'kept' | 'off' | 'not_applicable' } | { allowed: false; reason: string };

/**
 * Two-person rule: an action that waits for approval is approved by a principal other than the
 * one who requested it. `requestedBy` is null for an action with no human requester (an
 * optimization the meta-monitor recommends): the approver is its one decision. With the rule
 * off (`BSM_TWO_PERSON_RULE=false`, for one-person installs) a requester may approve their own
 * request, and the verdict says the rule was off so the approval records it.
 */
export function checkApproval(approver: Principal, requestedBy: string | null, twoPersonRule: boolean): ApprovalVerdict {
  if (!roleCan(approver.role, 'approve')) {
    return { allowed: false, reason: `role ${approver.role} may not approve` };
  }
  if (requestedBy === null) {
    return { allowed: true, twoPersonRule: 'not_applicable' };
  }
  if (requestedBy !== approver.name) {
    return { allowed: true, twoPersonRule: 'kept' };
  }
  if (!twoPersonRule) {
    return { allowed: true, twoPersonRule: 'off' };
  }
  return { allowed: false, reason: `${approver.name} requested this action and may not approve it too (two-person rule; BSM_TWO_PERSON_RULE=false lifts it for one-person installs)` };
}
