/**
 * The critical compliance violations that stop LLM calls: an LLM path whose region is outside the
 * EU allow-list, the PII redaction failing its self-test, a broken audit trail. While one holds, the
 * router refuses every request (nothing is redacted, sent or recorded as a decision) with
 * {@link LlmBlockedError} naming it; once it is fixed, calls go through again.
 *
 * Where each verdict comes from, measured rather than assumed:
 * - residency and the self-test are measured by the process that would make the call, from its own
 *   settings and its own redactor (residency on every request: it is a pure function of the
 *   settings; the self-test at most once a minute);
 * - the audit trail is too long to verify per request: every verification records its verdict in
 *   Redis (a full one that passes lifts the block, any failing one sets it: the status route, the
 *   daily compliance check, `GET …/audit-trail/verify`, the minute's alert evaluation over the newest
 *   entries), and the router reads that verdict through a cache of a second.
 */
import type { PathResidency } from '../llm/residency.js';
import type { PiiSelfTest } from './gdpr-status.js';

export const criticalChecks = ['llm.residency', 'pii.redaction', 'audit-trail.integrity'] as const;
export type CriticalCheck = (typeof criticalChecks)[number];

/** One critical violation: which check, what is wrong, when and by whom it was measured. */
export interface CriticalViolation {
  check: CriticalCheck;
  detail: string;
  measuredAt: string;
  /** What measured it (`router`, `gdpr-status`, `audit-trail.verify`, `alert-evaluation`, …). */
  source: string;
}

/** An LLM call refused because the compliance status has a critical violation. */
export class LlmBlockedError extends Error {
  override readonly name = 'LlmBlockedError';
  constructor(readonly violations: readonly CriticalViolation[]) {
    super(
      `LLM calls are refused until the critical compliance violation is fixed: ${violations.map((v) => `${v.check}: ${v.detail} (measured ${v.measuredAt} by ${v.source})`).join('; ')}`,
    );
  }
}

/** Where the audit trail's verdict is kept between verifications (Redis: every process reads it). */
export interface ChainVerdictStore {
  read(): Promise<CriticalViolation | null>;
  set(violation: CriticalViolation): Promise<void>;
  clear(): Promise<void>;
}

export interface LlmGate {
  /** The critical violations now (empty: calls may go through). */
  violations(): Promise<CriticalViolation[]>;
  /**
   * Records a verification of the audit trail: a failing one blocks LLM calls; one that covered the
   * whole trail (`full`) and passed lifts the block. A partial one that passes changes nothing.
   */
  recordChain(result: { ok: boolean; full: boolean; detail: string; source: string }): Promise<void>;
}

export interface LlmGateDeps {
  /** This process's residency verdicts, as its router decides them. */
  residency: () => readonly PathResidency[];
  /** The redaction self-test over the canary. */
  selfTest: () => PiiSelfTest;
  chain: ChainVerdictStore;
  clock: () => Date;
  /** How long a read of the chain's verdict is reused. Default 1,000 ms. */
  cacheMs?: number;
  /** How long a self-test result is reused. Default 60,000 ms. */
  selfTestEveryMs?: number;
}

export function createLlmGate(deps: LlmGateDeps): LlmGate {
  const cacheMs = deps.cacheMs ?? 1_000;
  const selfTestEveryMs = deps.selfTestEveryMs ?? 60_000;
  let chain: { at: number; value: Promise<CriticalViolation | null> } | null = null;
  let selfTest: { at: number; value: CriticalViolation | null } | null = null;

  const chainVerdict = (now: number) => {
    if (!chain || now - chain.at >= cacheMs) {
      const value = deps.chain.read();
      chain = { at: now, value };
      // A failed read is not kept: the next call asks again (and fails the same way while Redis is down).
      value.catch(() => {
        chain = null;
      });
    }
    return chain.value;
  };

  return {
    async violations() {
      const at = deps.clock();
      const now = at.getTime();
      const found: CriticalViolation[] = [];
      const refused = deps.residency().filter((r) => !r.verdict.ok);
      if (refused.length > 0) {
        found.push({
          check: 'llm.residency',
          detail: refused.map(({ path, verdict }) => `${path}: ${verdict.ok ? 'allowed' : verdict.reason}`).join('; '),
          measuredAt: at.toISOString(),
          source: 'router',
        });
      }
      if (!selfTest || now - selfTest.at >= selfTestEveryMs) {
        const result = deps.selfTest();
        selfTest = { at: now, value: result.ok ? null : { check: 'pii.redaction', detail: `the redaction self-test failed: ${result.detail}`, measuredAt: at.toISOString(), source: 'router' } };
      }
      if (selfTest.value) {
        found.push(selfTest.value);
      }
      const broken = await chainVerdict(now);
      if (broken) {
        found.push(broken);
      }
      return found;
    },
    async recordChain(result) {
      if (result.ok && !result.full) {
        return;
      }
      chain = null;
      if (result.ok) {
        await deps.chain.clear();
      } else {
        await deps.chain.set({ check: 'audit-trail.integrity', detail: result.detail, measuredAt: deps.clock().toISOString(), source: result.source });
      }
    },
  };
}
