import { z } from 'zod';
import { evaluateFleetRules, firingAlertSchema } from '../../domain/alerts/fleet-rules.js';
import { defineJob } from '../define.js';

/** Evaluates the fleet's alert rules and stores what fires. */
export const alertEvaluationJob = defineJob({
  queue: 'bedrock-support',
  name: 'alert-evaluation',
  description: 'evaluates fleet rules (no worker anywhere: P0; work waiting without a worker: P1; slow Redis: P2) and stores what fires',
  payload: z.object({}),
  result: z.object({ evaluatedAt: z.string(), firing: z.array(firingAlertSchema) }),
  stored: true,
  schedule: { id: 'alert-evaluation', setting: 'BSM_SCHEDULE_ALERTS', data: {}, priority: 'high', description: 'Alert evaluation' },
  handler: async (_job, _ctx, deps) => {
    const state = await deps.fleet.snapshot();
    return { evaluatedAt: state.at, firing: evaluateFleetRules(state) };
  },
});
