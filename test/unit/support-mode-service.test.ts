import { describe, expect, it } from 'vitest';
import type { AuditEventInput } from '../../src/domain/audit-trail/chain.js';
import { AuditUnavailableError, createSupportModeService, type SupportModeDeps } from '../../src/domain/support-mode/service.js';
import { initialState, type SupportModeState } from '../../src/domain/support-mode/state.js';

/** Free text with personal data and a secret, as an operator might paste it into a reason. */
const pii = {
  email: 'jane.doe@example.com',
  phone: '+49 30 1234567',
  iban: 'DE89370400440532013000',
  card: '4111 1111 1111 1111',
  secret: 'aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
};
const reason = `Paged by ${pii.email} (${pii.phone}); refund ${pii.iban}, card ${pii.card}; leaked ${pii.secret}`;

/** The service over an in-memory store, recording everything it hands on. */
function harness(options: { audit?: SupportModeDeps['audit']; auditRetryMs?: number } = {}) {
  let stored: SupportModeState = initialState();
  const audited: AuditEventInput[] = [];
  const cancelled: string[] = [];
  const transitions: unknown[] = [];
  const retries: number[] = [];
  const paused = new Map<string, boolean>();
  const service = createSupportModeService({
    store: {
      read: () => Promise.resolve(stored),
      exclusive: (work) => work(),
      update(change) {
        const before = stored;
        stored = change(stored);
        return Promise.resolve({ before, after: stored });
      },
    },
    setPaused: (q, p) => {
      paused.set(q, p);
      return Promise.resolve();
    },
    cancelRunning: (r) => {
      cancelled.push(r);
      return Promise.resolve(1);
    },
    activeJobs: () => Promise.resolve(0),
    audit:
      options.audit ??
      ((e) => {
        audited.push(e);
        return Promise.resolve();
      }),
    clock: () => new Date('2026-11-30T10:00:00Z'),
    onTransition: (e) => transitions.push(e),
    onAuditRetry: (e) => retries.push(e.attempt),
    auditRetryMs: options.auditRetryMs ?? 10,
  });
  return { service, audited, cancelled, transitions, retries, paused, state: () => stored };
}

const everythingHandedOn = (h: ReturnType<typeof harness>) => JSON.stringify([h.state(), h.audited, h.cancelled, h.transitions]);

describe('support-mode service: free text is redacted before it is stored anywhere', () => {
  it('an emergency shutdown keeps no personal data in its state, audit entry, cancellation or transition', async () => {
    const h = harness();
    await h.service.execute({ type: 'enable', activate: true }, { by: 'ops' });
    await h.service.emergencyShutdown({ reason, initiatedBy: `Jane <${pii.email}>`, immediate: true }, { by: 'ops', reason });
    const all = everythingHandedOn(h);
    for (const value of [pii.email, pii.phone, pii.iban, pii.card, 'wJalrXUtnFEMI']) {
      expect(all).not.toContain(value);
    }
    // The same value gets the same placeholder in every field of one request.
    expect(h.state().emergency).toMatchObject({ reason: expect.stringContaining('[EMAIL_1]') as string, initiatedBy: 'Jane <[EMAIL_1]>' });
    expect(h.cancelled).toEqual([expect.stringMatching(/^emergency shutdown: Paged by \[EMAIL_1\] \(\[PHONE_1\]\); refund \[IBAN_1\], card \[CARD_1\]/)]);
  });

  it('a lifecycle or flag change keeps no personal data in its reason', async () => {
    const h = harness();
    await h.service.execute({ type: 'flag.enable' }, { by: 'ops', reason });
    await h.service.execute({ type: 'activate', components: ['meta-monitor'] }, { by: 'ops', reason });
    const all = everythingHandedOn(h);
    for (const value of [pii.email, pii.phone, pii.iban, pii.card, 'wJalrXUtnFEMI']) {
      expect(all).not.toContain(value);
    }
    expect(h.state().flag.reason).toContain('[EMAIL_1]');
  });
});

describe('support-mode service: a change is in the audit trail, or it does not happen', () => {
  it('when the trail cannot take the entry, the change is refused and the state stays as it was', async () => {
    const h = harness({ audit: () => Promise.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value')) });
    const before = h.state();
    await expect(h.service.execute({ type: 'enable', activate: true }, { by: 'ops' })).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(h.state()).toBe(before);
    expect(h.paused.size).toBe(0);
    expect(h.transitions).toEqual([]);
  });

  it('an emergency shutdown stands anyway, and its entry is retried until the trail takes it', async () => {
    let failuresLeft = 3;
    const written: AuditEventInput[] = [];
    const h = harness({
      audit: (e) => {
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          return Promise.reject(new Error('Connection is closed.'));
        }
        written.push(e);
        return Promise.resolve();
      },
    });
    const result = await h.service.emergencyShutdown({ reason: 'stop', initiatedBy: 'alice', immediate: false }, { by: 'ops', reason: 'stop' });
    expect(result.to).toBe('emergency');
    expect(h.state().emergency?.reason).toBe('stop');
    await expect.poll(() => written.length, { timeout: 2_000 }).toBe(1);
    expect(written[0]).toMatchObject({ action: 'support-mode.emergency', actor: 'ops' });
    expect(h.retries).toEqual([1, 2, 3]);
  });
});
