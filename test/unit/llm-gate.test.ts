import { describe, expect, it } from 'vitest';
import { buildComplianceCheck } from '../../src/domain/compliance/daily-check.js';
import { createLlmGate, type ChainVerdictStore, type CriticalViolation } from '../../src/domain/compliance/llm-gate.js';
import type { PathResidency } from '../../src/domain/llm/residency.js';

function memoryChain(): ChainVerdictStore & { reads: number } {
  let held: CriticalViolation | null = null;
  return {
    reads: 0,
    read() {
      this.reads++;
      return Promise.resolve(held);
    },
    set(v) {
      held = v;
      return Promise.resolve();
    },
    clear() {
      held = null;
      return Promise.resolve();
    },
  };
}

const eu: PathResidency = { path: 'direct', verdict: { ok: true, region: 'eu-central-1', basis: 'eu' } };
const us: PathResidency = { path: 'direct', verdict: { ok: false, region: 'us-east-1', reason: 'region us-east-1 is outside the EU allow-list' } };

describe('the LLM gate', () => {
  it('blocks on a non-EU path, a failing self-test and a broken chain, naming each; lifts the chain only on a full verification that passes', async () => {
    let now = 1_000_000;
    let residency = [us];
    let selfTestOk = false;
    const chain = memoryChain();
    const gate = createLlmGate({
      residency: () => residency,
      selfTest: () => ({ ok: selfTestOk, types: ['EMAIL'], failed: selfTestOk ? [] : ['EMAIL'], detail: selfTestOk ? 'all replaced' : '1 of 1 detector types not redacted in the canary: EMAIL' }),
      chain,
      clock: () => new Date(now),
      selfTestEveryMs: 60_000,
    });
    expect((await gate.violations()).map((v) => [v.check, v.detail])).toEqual([
      ['llm.residency', 'direct: region us-east-1 is outside the EU allow-list'],
      ['pii.redaction', 'the redaction self-test failed: 1 of 1 detector types not redacted in the canary: EMAIL'],
    ]);
    residency = [eu];
    selfTestOk = true;
    // The self-test result is reused for a minute, then measured again.
    expect((await gate.violations()).map((v) => v.check)).toEqual(['pii.redaction']);
    now += 60_000;
    expect(await gate.violations()).toEqual([]);

    await gate.recordChain({ ok: false, full: false, detail: '1 break(s), first at seq 3: hash_mismatch', source: 'alert-evaluation' });
    expect(await gate.violations()).toEqual([{ check: 'audit-trail.integrity', detail: '1 break(s), first at seq 3: hash_mismatch', measuredAt: new Date(now).toISOString(), source: 'alert-evaluation' }]);
    // A partial verification that passes proves nothing about the whole trail.
    await gate.recordChain({ ok: true, full: false, detail: 'verified', source: 'alert-evaluation' });
    expect((await gate.violations()).map((v) => v.check)).toEqual(['audit-trail.integrity']);
    await gate.recordChain({ ok: true, full: true, detail: 'verified', source: 'audit-trail verification (all)' });
    expect(await gate.violations()).toEqual([]);
  });

  it('reads the stored chain verdict at most once per cache period', async () => {
    let now = 0;
    const chain = memoryChain();
    const gate = createLlmGate({ residency: () => [eu], selfTest: () => ({ ok: true, types: [], failed: [], detail: '' }), chain, clock: () => new Date(now), cacheMs: 1_000 });
    await gate.violations();
    await gate.violations();
    expect(chain.reads).toBe(1);
    now += 1_000;
    await gate.violations();
    expect(chain.reads).toBe(2);
  });

  it('the daily compliance check carries the self-test, so a failing one is a compliance violation (P0) too', () => {
    const check = buildComplianceCheck(
      {
        residency: [eu],
        selfTest: { ok: false, detail: '1 of 12 detector types not redacted in the canary: IBAN' },
        retention: { completedJobHours: 24, failedJobHours: 24, auditArchiveAfterDays: 90, limitHours: 2160 },
        auditTrail: { ok: true, entries: 1, problemCount: 0, firstProblem: null },
      },
      new Date(0),
    );
    expect(check.status).toBe('non_compliant');
    expect(check.items.find((i) => i.id === 'pii.redaction')).toEqual({ id: 'pii.redaction', status: 'fail', detail: 'redaction self-test: 1 of 12 detector types not redacted in the canary: IBAN' });
  });
});
