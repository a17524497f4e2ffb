import { hostname } from 'node:os';
import { z } from 'zod';
import { unreachableCauses, type ProbeOutcome } from '../../domain/audit/probe.js';
import { targetKinds } from '../../domain/audit/inventory.js';
import { probeTargets } from '../../domain/audit/run.js';
import { defineJob } from '../define.js';

/** A reachability check is a quick look: no probe waits longer than this, whatever its target's timeout. */
export const reachabilityTimeoutMs = 5_000;

export const reachabilityResultSchema = z.object({
  inventoryVersion: z.number(),
  checkedAt: z.string(),
  /** The worker process that probed, as BullMQ names it (host:pid). */
  checkedBy: z.string(),
  targets: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(targetKinds),
      component: z.string(),
      reachable: z.boolean(),
      cause: z.enum(unreachableCauses).nullable(),
      detail: z.string().nullable(),
      durationMs: z.number(),
    }),
  ),
});

/** For `GET …/audit/permissions`: can the auditor's workers reach each target right now, and if not, why. */
export const reachabilityJob = defineJob({
  queue: 'infrastructure-auditor',
  name: 'reachability',
  description: 'probes every target of the inventory once, within 5 s each, and reports which the auditor can reach and why not (DNS, refused, TLS, 401/403, timeout)',
  payload: z.object({}),
  result: reachabilityResultSchema,
  stored: false,
  handler: async (_job, ctx, deps) => {
    const inventory = await deps.audit.inventory();
    const targets = inventory.inventory.targets;
    const outcomes = await probeTargets(targets, deps.audit.prober, {
      concurrency: inventory.inventory.defaults.concurrency,
      timeoutMs: inventory.inventory.defaults.timeoutMs,
      maxTimeoutMs: reachabilityTimeoutMs,
      signal: ctx.signal,
    });
    return {
      inventoryVersion: inventory.version,
      checkedAt: deps.clock().toISOString(),
      checkedBy: `${hostname()}:${process.pid}`,
      targets: targets.map((t, i) => {
        // probeTargets answers one outcome per target, in order (or throws).
        const o = outcomes[i] as ProbeOutcome;
        const { reach } = o;
        return {
          id: t.id,
          kind: t.kind,
          component: t.component,
          reachable: reach.reachable,
          cause: reach.reachable ? null : reach.cause,
          detail: reach.reachable ? null : reach.detail,
          durationMs: Math.round(o.durationMs * 10) / 10,
        };
      }),
    };
  },
});
