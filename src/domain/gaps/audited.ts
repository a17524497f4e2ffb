/**
 * The gap store as the jobs use it: every run that records sightings (an audit, an analysis, a
 * spec scan) is written to the audit trail before it changes a gap (`gap.observe`: who, which
 * run, which gaps it saw, how many subjects it looked at), and what it did after
 * (`gap.observed`: the gaps it opened, reopened and resolved). People's changes (a gap reported
 * or dismissed, a remediation) are recorded by their own routes and services.
 */
import type { AuditEventInput } from '../audit-trail/chain.js';
import { recordBeforeChange } from '../audit-trail/ports.js';
import type { GapSource, GapStore } from './gap.js';
import { distinctSightings } from './lifecycle.js';

/** Gap ids an entry lists at most; beyond, it gives the count. */
const listedIds = 500;

/** Which component records the sightings of a source. */
const componentOf: Record<GapSource, string> = { audit: 'infrastructure-auditor', 'meta-monitor': 'meta-monitor', spec: 'implementation-support', manual: 'manual' };

const ids = (list: readonly { id: string }[]) => (list.length > listedIds ? { count: list.length, first: list.slice(0, listedIds).map((g) => g.id) } : list.map((g) => g.id));

export function auditedGapStore(inner: GapStore, audit: { append(input: AuditEventInput): Promise<unknown> }): GapStore {
  return {
    ...inner,
    async observe(run, sightings) {
      const actor = componentOf[run.source];
      const seen = distinctSightings(sightings);
      await recordBeforeChange(audit, { actor, action: 'gap.observe', target: run.runId, details: { source: run.source, sighted: ids(seen), subjects: run.scope.length } });
      const observation = await inner.observe(run, sightings);
      const { opened, reopened, resolved } = observation;
      if (opened.length + reopened.length + resolved.length > 0) {
        await audit.append({ actor, action: 'gap.observed', target: run.runId, details: { source: run.source, opened: ids(opened), reopened: ids(reopened), resolved: ids(resolved), recurring: observation.recurring.length } });
      }
      return observation;
    },
  };
}
