/**
 * The state of support mode the dashboards show, from the service's own stores: the fleet read
 * (support mode, queue figures for health), the latest audit report, the gap store's counts and
 * the remediation requests' events.
 */
import { auditReportSchema } from '../audit/report.js';
import type { FleetReader } from '../fleet/ports.js';
import type { GapStore } from '../gaps/gap.js';
import { isOpenGap } from '../gaps/lifecycle.js';
import type { RemediationStore } from '../implementation/remediation-service.js';
import type { RemediationRequest } from '../implementation/remediation.js';
import type { ReportStore } from '../reports.js';
import type { SupportStateSource, Window } from './ports.js';

/** Requests whose events in the window verified or failed them, counted once per event. */
export function remediationOutcomes(requests: readonly Pick<RemediationRequest, 'events'>[], window: Window): { verified: number; failed: number } {
  const from = window.from.getTime();
  const to = window.to.getTime();
  let verified = 0;
  let failed = 0;
  for (const r of requests) {
    for (const e of r.events) {
      const at = Date.parse(e.at);
      if (at < from || at >= to) {
        continue;
      }
      if (e.event === 'verified') {
        verified += 1;
      } else if (e.event === 'failed') {
        failed += 1;
      }
    }
  }
  return { verified, failed };
}

export interface SupportStateDeps {
  fleet: Pick<FleetReader, 'snapshot'>;
  reports: Pick<ReportStore, 'latest'>;
  gaps: Pick<GapStore, 'countByStatus'>;
  remediations: Pick<RemediationStore, 'list'>;
}

/** Remediation requests read per window at most (a window is a minute or so). */
const remediationsPerWindow = 1_000;

export function createSupportStateSource(deps: SupportStateDeps): SupportStateSource {
  const score = auditReportSchema.pick({ score: true });
  return {
    snapshot: () => deps.fleet.snapshot(),
    async latestAuditScore() {
      return (await deps.reports.latest('audit', score))?.body.score ?? null;
    },
    async openGaps() {
      const counts = await deps.gaps.countByStatus();
      return Object.entries(counts).reduce((n, [status, count]) => (isOpenGap(status as keyof typeof counts) ? n + count : n), 0);
    },
    async remediations(window) {
      return remediationOutcomes(await deps.remediations.list({ since: window.from, limit: remediationsPerWindow }), window);
    },
  };
}
