import { randomBytes } from 'node:crypto';
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { recordBeforeChange } from '../domain/audit-trail/ports.js';
import { criticalities } from '../domain/audit/inventory.js';
import { Redactor } from '../domain/compliance/pii.js';
import { gapSeverities, gapStatuses, gapTypes } from '../domain/gaps/gap.js';
import { isOpenGap } from '../domain/gaps/lifecycle.js';
import {
  buildBacklog,
  criticalityOf,
  defaultEffortByType,
  defaultSprintCapacity,
  effortLimits,
  entryOfGap,
  entryOfItem,
  handItemIdPattern,
  overrideScore,
  priorityLevels,
  type HandItem,
  type PriorityOverride,
} from '../domain/implementation/backlog.js';
import type { ApiDeps } from './deps.js';
import type { AppEnv } from './env.js';
import { reportedProblemFields } from './gap-fields.js';
import { ApiError } from './errors.js';
import { bodyErrors, count, guard, isoTime, jsonBody, jsonResponse, keyed, notFound, protectedErrors } from './openapi.js';

const base = '/admin/bedrock-support/implementation';
/** Open gaps the backlog reads at most (the gap store's largest list). */
const gapLimit = 1_000;
const gapIdPattern = /^gap-[0-9a-f]{16}$/;

const Priority = z.union([z.enum(priorityLevels), z.number().min(0).max(100)]).openapi({ description: '`critical` (100), `high` (75), `medium` (50), `low` (25), or a score 0-100' });
const Effort = z.number().int().min(effortLimits.min).max(effortLimits.max).openapi({ description: `Points, ${effortLimits.min}-${effortLimits.max}` });
const ItemId = z.string().trim().min(1).max(100).openapi({ example: 'gap-1a2b3c4d5e6f7a8b' });

const BacklogQuery = z
  .object({ capacity: z.coerce.number().int().min(1).max(1_000).default(defaultSprintCapacity).openapi({ description: `Points per sprint (default ${defaultSprintCapacity})` }) })
  .strict();

const ItemBody = z
  .object({
    ...reportedProblemFields,
    effort: Effort.optional().openapi({ description: "Points; default: the gap type's default effort" }),
    blockedBy: z.array(ItemId).max(50).default([]).openapi({ description: 'Ids (gap-… or item-…) that must be done first' }),
  })
  .strict()
  .openapi('BacklogItemBody');

const PrioritizeBody = z
  .object({
    items: z
      .array(z.object({ id: ItemId, priority: Priority, effort: Effort.optional().openapi({ description: 'Points; when absent, an effort set before stays' }) }).strict())
      .min(1)
      .max(100),
  })
  .strict()
  .openapi('BacklogPrioritizeBody');

const OverrideView = z.object({ priority: Priority, effort: Effort.optional(), setBy: z.string(), setAt: isoTime, score: z.number() });

const HandItemView = z
  .object({ id: z.string(), title: z.string(), type: z.enum(gapTypes), severity: z.enum(gapSeverities), components: z.array(z.string()), effort: count, blockedBy: z.array(z.string()), createdBy: z.string(), createdAt: isoTime })
  .openapi('BacklogHandItem');

const Parts = z
  .object({ severity: z.number(), criticality: z.number(), frequency: z.number(), recency: z.number(), age: z.number(), blastRadius: z.number(), effort: z.number() })
  .openapi('BacklogScoreParts', { description: 'Their sum, kept within 0-100, is computedScore' });

const RankedItem = z
  .object({
    rank: count,
    id: z.string(),
    origin: z.enum(['gap', 'item']),
    title: z.string(),
    type: z.enum(gapTypes),
    severity: z.enum(gapSeverities),
    status: z.string(),
    components: z.array(z.string()),
    effort: count,
    effortFrom: z.enum(['type-default', 'item', 'override']),
    score: z.number().openapi({ description: "The ranking's score: the override's when set, else computedScore" }),
    computedScore: z.number(),
    rankScore: z.number().openapi({ description: 'What the ranking orders by: the highest score among this item and the open items it blocks, directly or not' }),
    parts: Parts,
    inputs: z.object({ severity: z.enum(gapSeverities), criticality: z.enum(criticalities).nullable(), count, daysSinceLastSeen: count, ageDays: count, components: count, effort: count }),
    override: OverrideView.nullable(),
    blockedBy: z.array(z.object({ id: z.string(), open: z.boolean() })),
    blocks: z.array(z.string()),
    inCycle: z.boolean(),
    sprint: count,
  })
  .openapi('BacklogItem');

const BacklogView = z
  .object({
    generatedAt: isoTime,
    capacity: count,
    counts: z.object({ total: count, byOrigin: z.object({ gap: count, item: count }), byType: keyed(gapTypes, count), bySeverity: keyed(gapSeverities, count) }),
    items: z.array(RankedItem),
    cycles: z.array(z.array(z.string())),
    sprints: z.array(z.object({ number: count, capacity: count, points: count, items: z.array(z.string()), overCapacity: z.boolean() })),
    truncated: z.boolean().openapi({ description: `True when there were more open gaps than the ${gapLimit} most recently seen that the backlog reads` }),
  })
  .openapi('Backlog');

/**
 * `/admin/bedrock-support/implementation/backlog…`: the open gaps and hand-posted items, scored,
 * ranked with their blockers and cut into sprints; priority overrides kept apart from the gaps.
 */
export function backlogRoutes(deps: ApiDeps) {
  const app = new OpenAPIHono<AppEnv>();

  /** The ids among `ids` that are neither a stored gap nor a hand item, in the order given. */
  const unknownIds = async (ids: readonly string[]): Promise<string[]> => {
    const distinct = [...new Set(ids)];
    const itemIds = distinct.filter((id) => handItemIdPattern.test(id));
    const gapIds = distinct.filter((id) => gapIdPattern.test(id));
    const [items, gaps] = await Promise.all([deps.backlog.items(itemIds), Promise.all(gapIds.map((id) => deps.gaps.get(id)))]);
    const known = new Set([...items.map((i) => i.id), ...gaps.flatMap((g) => (g === null ? [] : [g.id]))]);
    return distinct.filter((id) => !known.has(id));
  };
  const named = (ids: readonly string[]) => ids.map((id) => `"${id.slice(0, 80)}"`).join(', ');

  app.openapi(
    createRoute({
      method: 'get',
      path: '/implementation/backlog',
      summary: 'The backlog: open gaps and hand-posted items, each with its score and the parts of it, ranked after their blockers, with counts, cycles and suggested sprints',
      ...guard('read'),
      request: { query: BacklogQuery },
      responses: { 200: jsonResponse(BacklogView, 'The backlog'), ...protectedErrors, 400: bodyErrors[400] },
    }),
    async (c) => {
      const { capacity } = c.req.valid('query');
      const now = deps.clock();
      const [gaps, items, overrides, inventory] = await Promise.all([
        deps.gaps.list({ status: gapStatuses.filter(isOpenGap), limit: gapLimit }),
        deps.backlog.items(),
        deps.backlog.overrides(),
        deps.audit.inventory.current(),
      ]);
      const targets = inventory.inventory.targets;
      const entries = [
        ...gaps.map((g) => entryOfGap(g, criticalityOf(g, targets), overrides.get(g.id) ?? null)),
        ...items.map((i) => entryOfItem(i, criticalityOf(i, targets), overrides.get(i.id) ?? null)),
      ];
      const backlog = buildBacklog(entries, { now, capacity });
      return c.json({ generatedAt: now.toISOString(), capacity, ...backlog, truncated: gaps.length >= gapLimit }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/backlog/items',
      summary: 'Post a backlog item by hand; free text is redacted before it is stored; blockedBy names gaps or items that exist',
      ...guard('operate'),
      request: { body: jsonBody(ItemBody) },
      responses: { 201: jsonResponse(HandItemView, 'Created'), ...protectedErrors, ...bodyErrors, ...notFound },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const blockedBy = [...new Set(input.blockedBy)];
      const unknown = await unknownIds(blockedBy);
      if (unknown.length > 0) {
        throw new ApiError(404, 'not_found', `blockedBy: unknown id${unknown.length === 1 ? '' : 's'} ${named(unknown)} (GET ${base}/backlog lists items, ${base}/gaps gaps)`, { field: 'blockedBy', unknown });
      }
      const redactor = new Redactor();
      const principal = c.get('principal');
      const item: HandItem = {
        id: `item-${randomBytes(8).toString('hex')}`,
        title: redactor.redact(input.title),
        type: input.type,
        severity: input.severity,
        components: input.components.map((x) => redactor.redact(x)),
        effort: input.effort ?? defaultEffortByType[input.type],
        blockedBy,
        createdBy: principal.name,
        createdAt: deps.clock().toISOString(),
      };
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'backlog.item.add',
        target: item.id,
        details: { title: item.title, type: item.type, severity: item.severity, components: item.components, effort: item.effort, blockedBy, requestId: c.get('requestId') },
      });
      await deps.backlog.addItem(item);
      return c.json(item, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/implementation/backlog/prioritize',
      summary: 'Set the priority (and optionally the effort) of gaps and items; kept apart from the gaps, so a new sighting leaves it. All ids are checked first: an unknown one is a 404 naming it and nothing is applied',
      ...guard('operate'),
      request: { body: jsonBody(PrioritizeBody) },
      responses: { 200: jsonResponse(z.object({ applied: count, overrides: z.record(z.string(), OverrideView) }).openapi('BacklogPrioritizeResult'), 'Applied'), ...protectedErrors, ...bodyErrors, ...notFound },
    }),
    async (c) => {
      const { items } = c.req.valid('json');
      const firstAt = new Map<string, number>();
      items.forEach((item, i) => {
        const first = firstAt.get(item.id);
        if (first !== undefined) {
          throw new ApiError(400, 'invalid_request', `items.${i}.id: "${item.id.slice(0, 80)}" is named twice (items ${first} and ${i})`, { field: `items.${i}.id` });
        }
        firstAt.set(item.id, i);
      });
      const unknown = await unknownIds(items.map((i) => i.id));
      if (unknown.length > 0) {
        throw new ApiError(404, 'not_found', `items: unknown id${unknown.length === 1 ? '' : 's'} ${named(unknown)}; nothing was applied (GET ${base}/backlog lists items, ${base}/gaps gaps)`, { field: 'items', unknown });
      }
      const principal = c.get('principal');
      const setAt = deps.clock().toISOString();
      const before = await deps.backlog.overrides();
      const batch = new Map<string, PriorityOverride>(
        items.map((i) => {
          const effort = i.effort ?? before.get(i.id)?.effort;
          return [i.id, { priority: i.priority, ...(effort === undefined ? {} : { effort }), setBy: principal.name, setAt }];
        }),
      );
      await recordBeforeChange(deps.auditTrail, {
        actor: principal.name,
        action: 'backlog.prioritize',
        target: 'backlog',
        details: { items: items.map((i) => ({ id: i.id, priority: i.priority, effort: i.effort ?? null, before: before.get(i.id)?.priority ?? null })), requestId: c.get('requestId') },
      });
      await deps.backlog.setOverrides(batch);
      const view = Object.fromEntries([...batch].map(([id, o]) => [id, { ...o, score: overrideScore(o.priority) }]));
      return c.json({ applied: batch.size, overrides: view }, 200);
    },
  );

  return app;
}
