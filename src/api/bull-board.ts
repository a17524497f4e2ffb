import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { validateRequest } from '@bull-board/api/dist/validation.js';
import { HonoAdapter } from '@bull-board/hono';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import type { QueueSettings } from '../config.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import type { Fleet } from '../queues/fleet.js';
import { queueNames, type QueueName } from '../domain/queue-names.js';
import { requirePermission, roleCan } from './auth.js';
import type { AppEnv } from './env.js';

export const bullBoardPath = '/admin/queues';

type FleetQueue = ReturnType<Fleet['queue']>;

/**
 * BullMQ's `getRateLimitTtl()` without a job count reports the limiter window of any queue that
 * ran one job in it, so the board showed every such queue as rate limited. Asked with the
 * queue's limit, it reports a limit actually reached (or a back-off set after throttling).
 */
class FleetQueueAdapter extends BullMQAdapter {
  constructor(
    private readonly fleetQueue: FleetQueue,
    private readonly rateLimitMax: number,
    options: ConstructorParameters<typeof BullMQAdapter>[1],
  ) {
    super(fleetQueue, options);
  }

  override async getActiveRateLimitTtl(): Promise<number> {
    const ttl = await this.fleetQueue.getRateLimitTtl(this.rateLimitMax);
    return ttl > 0 ? ttl : 0;
  }
}

function board(fleet: Fleet, settings: Record<QueueName, QueueSettings>, readOnlyMode: boolean): Hono {
  const adapter = new HonoAdapter(serveStatic);
  adapter.setBasePath(bullBoardPath);
  createBullBoard({
    queues: queueNames.map((n) => new FleetQueueAdapter(fleet.queue(n), settings[n].rateLimit.max, { readOnlyMode, description: n })),
    serverAdapter: adapter,
    options: { uiConfig: { boardTitle: readOnlyMode ? 'Bedrock Support (read-only)' : 'Bedrock Support' } },
  });
  return new Hono().route(bullBoardPath, adapter.registerPlugin());
}

/**
 * Board actions that would go around the service: pausing and resuming belong to the
 * support-mode lifecycle, concurrency, rate limits and schedulers to configuration, and
 * jobs enter through the API, where their payloads are validated.
 */
const ownedElsewhere: { pattern: RegExp; use: string }[] = [
  { pattern: /^\/api\/queues\/(pause|resume)$/, use: 'POST /admin/bedrock-support/activate or /deactivate (support mode owns queue pausing)' },
  { pattern: /^\/api\/queues\/[^/]+\/(pause|resume)$/, use: 'POST /admin/bedrock-support/activate-component or /deactivate (support mode owns queue pausing)' },
  { pattern: /^\/api\/queues\/[^/]+\/obliterate$/, use: 'nothing: obliterating a queue would destroy its history' },
  { pattern: /^\/api\/queues\/[^/]+\/(concurrency|rate-limit)$/, use: 'the BSM_<QUEUE>_CONCURRENCY and BSM_<QUEUE>_RATE_* settings' },
  {
    pattern: /^\/api\/queues\/[^/]+\/rate-limit\/release$/,
    use: 'nothing: the rate limit is the BSM_<QUEUE>_RATE_* settings, and a back-off after provider throttling ends by itself (releasing it early sends the next calls into the throttling)',
  },
  { pattern: /^\/api\/queues\/[^/]+\/job-schedulers\/[^/]+(\/remove)?$/, use: 'the BSM_SCHEDULE_* settings (schedulers are declared, and re-applied at start-up); "run now" of a scheduler is allowed' },
  {
    pattern: /^\/api\/queues\/[^/]+\/add$/,
    use: 'the job schedulers ("run now" adds a scheduler\'s own job) or the API (POST /test/bedrock-support/{component} for a canary); a job added here would skip payload validation',
  },
  { pattern: /^\/api\/queues\/[^/]+\/[^/]+\/update-data$/, use: 'nothing: a job\'s payload is validated when it is added and is not edited in place; remove the job and let its scheduler add it again' },
];

const bulkStates = new Set(['completed', 'failed', 'delayed', 'wait', 'waiting', 'active', 'paused', 'prioritized']);

/**
 * A refusal as the board shows it: its UI puts `error` (a string, or a translation key) in a
 * toast's title and `message` in its text, so the person who clicked reads why and what to use
 * (the project's `{ error: { code, message } }` left that toast empty). `code` and `details` keep
 * the refusal machine-readable.
 */
function boardRefusal(title: string, message: string, code: string): { error: string; message: string; code: string; details: null } {
  return { error: title, message, code, details: null };
}

/**
 * Emptying a queue drops the waiting runs of its job schedulers with the other waiting jobs (a
 * scheduler's next run is waiting after "promote all", or while its queue is paused), and a
 * scheduler whose pending run is gone never fires again. Names the schedulers it would stop.
 */
async function schedulersEmptyWouldStop(queue: FleetQueue): Promise<string[]> {
  const schedulers = await queue.getJobSchedulers(0, -1);
  const states = await Promise.all(schedulers.map(async (s) => (s.next === undefined ? null : queue.getJobState(`repeat:${s.key}:${s.next}`))));
  return schedulers.filter((_, i) => states[i] === 'waiting' || states[i] === 'prioritized').map((s) => s.key);
}

/** What a board request that may change a queue acts on: its entry in the audit trail. */
interface BoardAction {
  /** The board's route after `/api/queues/<queue>` (`/retry/failed`, `/<job>/promote`), or its whole API path. */
  route: string;
  queue?: QueueName;
  jobId?: string;
}

/** The board's routes that change a queue and are not refused above: method, then the route after `/api/queues/<queue>`. */
const queueRoutes = /^PUT (\/(clean|retry)\/[^/]+|\/promote|\/empty|\/job-schedulers\/[^/]+\/run)$/;
const jobRoutes = /^(PUT \/([^/]+)\/(clean|promote|retry|remove-unprocessed-children)|PATCH \/([^/]+)\/(delay|priority))$/;

/** The request schemas of Bull Board's own routes that take a body (`schemas/requests` of @bull-board/api). */
const bodySpecs = { delay: 'ChangeJobDelayBody', priority: 'ChangeJobPriorityBody', purge: 'PurgeMetricsHistoryBody' } as const;
type BoardRoute = Parameters<typeof validateRequest>[0];
type BoardRequest = Parameters<typeof validateRequest>[1];

/** Whether Bull Board's own validation takes `body` for that route: a body it would refuse is no action. */
function bodyAccepted(kind: string, body: unknown): boolean {
  const spec = bodySpecs[kind as keyof typeof bodySpecs] as string | undefined;
  return spec !== undefined && validateRequest({ spec: { body: spec } } as BoardRoute, { body, query: {} } as unknown as BoardRequest) === undefined;
}

/**
 * The action a mutating board request would take, or null when the board will refuse it without
 * a change (no such queue, job or route, a body it refuses): those are not recorded, as refused
 * API requests are not.
 */
async function boardAction(fleet: Fleet, method: string, sub: string, body: () => Promise<unknown>): Promise<BoardAction | null> {
  if (method === 'POST' && sub === '/api/metrics/history/purge') {
    return bodyAccepted('purge', await body()) ? { route: sub } : null;
  }
  const m = /^\/api\/queues\/([^/]+)(\/.+)$/.exec(sub);
  const name = m?.[1];
  const rest = m?.[2];
  if (!name || !rest || !(queueNames as readonly string[]).includes(name)) {
    return null;
  }
  const queue = name as QueueName;
  if (queueRoutes.test(`${method} ${rest}`)) {
    // "Run now" of a scheduler the queue does not have is refused by the board.
    const scheduler = /^\/job-schedulers\/([^/]+)\/run$/.exec(rest)?.[1];
    const id = scheduler === undefined ? undefined : decoded(scheduler);
    if (scheduler !== undefined && (id === null || !(await fleet.queue(queue).getJobScheduler(id ?? '')))) {
      return null;
    }
    return { route: rest, queue };
  }
  const job = jobRoutes.exec(`${method} ${rest}`);
  const jobId = job?.[2] ?? job?.[4];
  const verb = job?.[5];
  if (jobId === undefined || (verb !== undefined && !bodyAccepted(verb, await body()))) {
    return null;
  }
  const id = decoded(jobId);
  return id !== null && (await fleet.queue(queue).getJob(id)) ? { route: rest, queue, jobId: id } : null;
}

/** A path segment decoded, or null when it is not valid percent-encoding. */
function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

/**
 * Bull Board for the five queues. Operators and admins get the full board; viewers and
 * approvers a read-only one. Authentication and CSRF checks run before this.
 */
export function bullBoardRoutes(fleet: Fleet, settings: Record<QueueName, QueueSettings>, auditTrail: Pick<AuditTrail, 'append'>): Hono<AppEnv> {
  const full = board(fleet, settings, false);
  const readOnly = board(fleet, settings, true);
  const app = new Hono<AppEnv>();
  // Viewing the board is reading: an ingest key (no read permission) gets the 403 every GET gives it.
  app.use('*', requirePermission('read'));
  app.all('*', async (c) => {
    const sub = c.req.path.slice(bullBoardPath.length);
    let request = c.req.raw;
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      const owned = ownedElsewhere.find((o) => o.pattern.test(sub));
      if (owned) {
        return c.json(boardRefusal('Not from Bull Board', `Use ${owned.use}.`, 'conflict'), 409);
      }
      // BullMQ's job states a clean or retry-all may name; anything else was answered 200 and audited.
      const bulk = /^\/api\/queues\/[^/]+\/(clean|retry)\/([^/]*)$/.exec(sub);
      if (bulk && !bulkStates.has(bulk[2] ?? '')) {
        return c.json(boardRefusal('Unknown job state', `${bulk[1]} takes one of ${[...bulkStates].join(', ')}, not "${bulk[2] ?? ''}".`, 'invalid_request'), 400);
      }
      const empty = /^\/api\/queues\/([^/]+)\/empty$/.exec(sub);
      const name = empty?.[1];
      if (name && (queueNames as readonly string[]).includes(name)) {
        const stopped = await schedulersEmptyWouldStop(fleet.queue(name as QueueName));
        if (stopped.length > 0) {
          return c.json(
            boardRefusal(
              'Emptying would stop a schedule',
              `The waiting jobs of ${name} include the next run of its job scheduler(s) ${stopped.join(', ')}; emptying the queue would drop it and the schedule would not fire again. Let those runs start (or clean the other jobs one by one) first.`,
              'conflict',
            ),
            409,
          );
        }
      }
      if (roleCan(c.get('principal').role, 'operate')) {
        const action = await boardAction(fleet, c.req.method, sub, () => c.req.raw.clone().json().catch(() => undefined));
        if (action) {
          try {
            await auditTrail.append({ actor: c.get('principal').name, action: 'queue.board', target: action.queue ?? 'all queues', details: { ...action, requestId: c.get('requestId') } });
          } catch (err) {
            return c.json(
              boardRefusal('Not recorded, not done', `The audit trail could not record this action (${(err as Error).message}), so it was not done. Try again once Redis takes writes.`, 'audit_unavailable'),
              503,
            );
          }
        }
      }
    } else if (sub === '/') {
      // A reloaded or bookmarked board URL (`/admin/queues/?status=completed`) is the board itself.
      const url = new URL(request.url);
      url.pathname = bullBoardPath;
      request = new Request(url, request);
    }
    const answer = await (roleCan(c.get('principal').role, 'operate') ? full : readOnly).fetch(request, c.env);
    if (answer.status === 404 && sub.startsWith('/api/') && !(answer.headers.get('content-type') ?? '').includes('json')) {
      // The board's API answers JSON; its router's plain-text 404 for an unknown path did not.
      return c.json(boardRefusal('Not found', `Bull Board has no API route ${c.req.method} ${c.req.path}.`, 'not_found'), 404);
    }
    return answer;
  });
  return app;
}
