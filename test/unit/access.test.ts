import { describe, expect, it } from 'vitest';
import { checkApproval, grants, rolesWith, type Principal } from '../../src/domain/access.js';
import { ApiKeysError, parseApiKeys } from '../../src/api/auth.js';

const alice: Principal = { name: 'alice', role: 'approver' };

describe('roles are sets of permissions', () => {
  it('grant exactly what the shared contract says', () => {
    // The table of "Contracts the components share", written out rather than derived.
    expect(grants).toEqual({
      viewer: ['read'],
      ingest: ['ingest'],
      operator: ['read', 'operate'],
      approver: ['read', 'approve'],
      admin: ['read', 'ingest', 'operate', 'approve', 'administer'],
    });
    expect(rolesWith('read')).toEqual(['viewer', 'operator', 'approver', 'admin']);
    expect(rolesWith('administer')).toEqual(['admin']);
  });

  it('BSM_API_KEYS accepts an ingest key and names a role it does not know', () => {
    expect(parseApiKeys('agent:ingest:0123456789abcdef')).toEqual([{ name: 'agent', role: 'ingest', token: '0123456789abcdef' }]);
    expect(() => parseApiKeys('x:root:0123456789abcdef')).toThrow(new ApiKeysError('BSM_API_KEYS entry 1 (x) has role "root": expected one of viewer, ingest, operator, approver, admin'));
  });
});

describe('two-person rule', () => {
  it('refuses the requester approving their own request while the rule is on', () => {
    const verdict = checkApproval(alice, 'alice', true);
    expect(verdict).toEqual({ allowed: false, reason: expect.stringContaining('two-person rule') as unknown });
  });

  it('lets the requester approve with the rule off, and says it was off so the approval records it', () => {
    expect(checkApproval(alice, 'alice', false)).toEqual({ allowed: true, twoPersonRule: 'off' });
  });

  it('keeps the rule when another principal approves, whether the rule is on or off', () => {
    expect(checkApproval(alice, 'bob', true)).toEqual({ allowed: true, twoPersonRule: 'kept' });
    expect(checkApproval(alice, 'bob', false)).toEqual({ allowed: true, twoPersonRule: 'kept' });
  });

  it('an action with no human requester (an optimization the meta-monitor recommends) is the approver\'s one decision', () => {
    expect(checkApproval(alice, null, true)).toEqual({ allowed: true, twoPersonRule: 'not_applicable' });
    expect(checkApproval({ name: 'root', role: 'admin' }, null, true)).toEqual({ allowed: true, twoPersonRule: 'not_applicable' });
  });

  it('a role without the approve permission may not approve, even someone else\'s request or with the rule off', () => {
    for (const role of ['viewer', 'operator', 'ingest'] as const) {
      for (const [requestedBy, rule] of [['bob', true], ['carol', false], [null, true]] as const) {
        expect(checkApproval({ name: 'carol', role }, requestedBy, rule), `${role} ${String(requestedBy)} ${String(rule)}`).toEqual({ allowed: false, reason: `role ${role} may not approve` });
      }
    }
  });
});
