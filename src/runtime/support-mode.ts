import type { Redis } from 'ioredis';
import type { Logger } from '../observability/logger.js';
import { createSupportModeService, type SupportModeDeps, type SupportModeService } from '../domain/support-mode/service.js';
import type { Fleet } from '../queues/fleet.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import type { ControlChannel } from '../store/control-channel.js';
import { createSupportModeStore } from '../store/support-mode.store.js';

/** Wires the support-mode service to Redis, the queues, the control channel and the audit trail. */
export function supportModeFor(parts: {
  redis: Redis;
  prefix: string;
  fleet: Fleet;
  control: ControlChannel;
  auditTrail: AuditTrail;
  logger?: Logger;
  /** Told of every emergency shutdown (the alerts raise a P0 and notify the team). */
  onEmergency?: SupportModeDeps['onEmergency'];
}): SupportModeService {
  const { logger } = parts;
  return createSupportModeService({
    store: createSupportModeStore(parts.redis, parts.prefix),
    setPaused: (q, paused) => parts.fleet.setPaused(q, paused),
    cancelRunning: (reason) => parts.control.publish({ type: 'cancel-running', reason }),
    activeJobs: () => parts.fleet.activeCount(),
    audit: (e) => parts.auditTrail.append(e),
    clock: () => new Date(),
    onEmergency: parts.onEmergency,
    onAuditRetry: ({ attempt, error, nextRetryMs }) => logger?.error({ attempt, err: error, nextRetryMs }, 'emergency shutdown stands, but its audit entry could not be written yet: retrying'),
    // An operator tailing the log sees every change of state, who made it and why.
    onTransition: ({ command, actor, from, to, version }) => {
      const fields = { action: command.type, from, to, by: actor.by, reason: actor.reason ?? null, version };
      if (command.type === 'emergency') {
        logger?.warn({ ...fields, initiatedBy: command.initiatedBy, immediate: command.immediate }, `support mode: emergency shutdown requested by ${actor.by}: ${command.reason}`);
      } else {
        logger?.info(fields, `support mode: ${from} -> ${to} (${command.type} by ${actor.by})`);
      }
    },
  });
}
