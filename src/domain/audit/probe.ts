/**
 * What a probe reports about one target: whether the auditor reached it (and if not, why) and
 * each expectation of the target with what was seen. The domain turns unmet expectations into
 * gaps; the probes (adapters in `src/probes/`) only observe.
 */
import type { GapType } from '../gaps/gap.js';
import type { Target, TargetKind } from './inventory.js';

/** Why a target could not be reached, as `GET …/audit/permissions` reports it. */
export const unreachableCauses = ['dns', 'refused', 'tls', 'unauthorized', 'timeout', 'not_configured', 'other'] as const;
export type UnreachableCause = (typeof unreachableCauses)[number];

export type Reachability = { reachable: true } | { reachable: false; cause: UnreachableCause; detail: string };

/** One expectation of a target and what the probe saw. */
export interface Observation {
  /** Stable within the target's kind (`status`, `latency`, `json.status`, `days-left`): part of the gap's fingerprint. */
  check: string;
  /** A sentence: what should be true. */
  title: string;
  expected: string;
  observed: string;
  met: boolean;
  /** What kind of gap an unmet expectation is. */
  gapType: GapType;
}

export interface ProbeOutcome {
  targetId: string;
  kind: TargetKind;
  /** `pass`: every expectation met; `fail`: one or more not; `error`: the probe itself could not run (a bug, not a finding). */
  status: 'pass' | 'fail' | 'error';
  /** Measured: from the probe's start to its end. */
  durationMs: number;
  reach: Reachability;
  observations: Observation[];
  /** When `status` is `error`: why. */
  error?: string;
}

export interface ProbeOptions {
  /** Aborted at the target's timeout or when the audit is cancelled. */
  signal: AbortSignal;
  timeoutMs: number;
}

/** Probes one target (any kind). Never throws for what it finds: an unreachable target is an outcome with `reach.reachable: false`. */
export interface Prober {
  probe(target: Target, options: ProbeOptions): Promise<ProbeOutcome>;
}
