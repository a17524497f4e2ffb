/**
 * Implementation support's backlog: the open gaps and the items people post, each with a priority
 * score whose parts a reader can add up by hand, ranked so that an item blocked by an open one
 * comes after it (a cycle is reported, not followed), and cut into sprints by effort.
 * Pure: the gaps, the items, the overrides, the inventory's targets and the time come in as
 * arguments; the store (`store/backlog.store.ts`) and the route read and write.
 */
import { z } from 'zod';
import { criticalities, type Criticality } from '../audit/inventory.js';
import { gapSeverities, gapTypes, type Gap, type GapSeverity, type GapType } from '../gaps/gap.js';

/** A priority set by hand: a level, or a number 0-100 that replaces the computed score. */
export const priorityLevels = ['critical', 'high', 'medium', 'low'] as const;
export type PriorityLevel = (typeof priorityLevels)[number];
export type Priority = PriorityLevel | number;

/** The score a level stands for. */
export const priorityLevelScores: Record<PriorityLevel, number> = { critical: 100, high: 75, medium: 50, low: 25 };

/** Effort in points: the unit of a sprint's capacity. */
export const effortLimits = { min: 1, max: 40 } as const;
/** Sprint capacity in points when the reader names none. */
export const defaultSprintCapacity = 10;

/** Effort of a gap nobody estimated, by its type. */
export const defaultEffortByType: Record<GapType, number> = {
  missing_implementation: 5,
  incomplete_feature: 3,
  broken_integration: 3,
  security_vulnerability: 3,
  performance_issue: 3,
  configuration_drift: 1,
};

/** The score's tables (README "Backlog" prints them). */
export const scoreWeights = {
  severity: { critical: 40, high: 30, medium: 20, low: 10 } satisfies Record<GapSeverity, number>,
  /** By the highest criticality among the affected targets; `unknown` when no target matches. */
  criticality: { critical: 20, high: 15, medium: 10, low: 5, unknown: 10 } satisfies Record<Criticality | 'unknown', number>,
  /** Per sighting after the first, up to `frequencyCap` sightings counted. */
  frequencyPerSighting: 2,
  frequencyCap: 5,
  /** Last seen less than a day ago, less than a week ago, earlier. */
  recency: { day: 10, week: 5, older: 0 },
  /** Per full week since first seen, up to `agePerWeekCap` weeks. */
  agePerWeek: 2,
  agePerWeekCap: 5,
  /** Per component named, up to `blastCap` components. */
  blastPerComponent: 2,
  blastCap: 5,
  /** Effort points subtracted, up to `effortCap`. */
  effortCap: 10,
} as const;

const priority = z.union([z.enum(priorityLevels), z.number().min(0).max(100)]);
const effort = z.number().int().min(effortLimits.min).max(effortLimits.max);

/** A priority (and optionally an effort) someone set on an item or gap: kept apart from the gaps, so re-analysis leaves it. */
export const priorityOverrideSchema = z.object({
  priority,
  effort: effort.optional(),
  setBy: z.string(),
  setAt: z.string(),
});
export type PriorityOverride = z.infer<typeof priorityOverrideSchema>;

/** An item posted by hand (free text redacted before it is stored). */
export const handItemSchema = z.object({
  id: z.string(),
  title: z.string(),
  type: z.enum(gapTypes),
  severity: z.enum(gapSeverities),
  components: z.array(z.string()),
  effort,
  blockedBy: z.array(z.string()),
  createdBy: z.string(),
  createdAt: z.string(),
});
export type HandItem = z.infer<typeof handItemSchema>;

/** Hand item ids: `item-` and 16 hex digits. */
export const handItemIdPattern = /^item-[0-9a-f]{16}$/;

/**
 * The backlog's own state (a port: `store/backlog.store.ts` keeps it in Redis): hand-posted
 * items and priority overrides, stored apart from the gaps.
 */
export interface BacklogStore {
  addItem(item: HandItem): Promise<void>;
  /** The items with these ids that exist. */
  items(ids?: readonly string[]): Promise<HandItem[]>;
  /** Every override, by item or gap id. */
  overrides(): Promise<Map<string, PriorityOverride>>;
  /** Writes every override of the batch at once, or none. */
  setOverrides(batch: ReadonlyMap<string, PriorityOverride>): Promise<void>;
}

/** The inventory's targets as the score reads them. */
export interface TargetCriticality {
  id: string;
  component: string;
  criticality: Criticality;
}

const criticalityRank = (c: Criticality) => criticalities.length - criticalities.indexOf(c);

/**
 * The criticality of what an item affects: an audit gap's own target (its subject), else the
 * highest criticality of the targets of the components it names; null when nothing matches.
 */
export function criticalityOf(item: { source?: string; subject?: string; components: readonly string[] }, targets: readonly TargetCriticality[]): Criticality | null {
  if (item.source === 'audit') {
    const own = targets.find((t) => t.id === item.subject);
    if (own) {
      return own.criticality;
    }
  }
  const named = new Set(item.components);
  let best: Criticality | null = null;
  for (const t of targets) {
    if (named.has(t.component) && (best === null || criticalityRank(t.criticality) > criticalityRank(best))) {
      best = t.criticality;
    }
  }
  return best;
}

/** One thing of the backlog, gap or hand item, with what its score needs. */
export interface BacklogEntry {
  id: string;
  origin: 'gap' | 'item';
  title: string;
  type: GapType;
  severity: GapSeverity;
  /** A gap's status; `open` for a hand item. */
  status: string;
  components: string[];
  /** Sightings (1 for a hand item). */
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
  blockedBy: string[];
  effort: number;
  /** Where the effort comes from: the gap type's default, the item as posted, or an override. */
  effortFrom: 'type-default' | 'item' | 'override';
  criticality: Criticality | null;
  override: PriorityOverride | null;
}

export function entryOfGap(gap: Gap, criticality: Criticality | null, override: PriorityOverride | null): BacklogEntry {
  const effortFrom = override?.effort === undefined ? 'type-default' : 'override';
  return {
    id: gap.id,
    origin: 'gap',
    title: gap.title,
    type: gap.type,
    severity: gap.severity,
    status: gap.status,
    components: [...gap.components],
    count: gap.count,
    firstSeenAt: gap.firstSeenAt,
    lastSeenAt: gap.lastSeenAt,
    blockedBy: [],
    effort: override?.effort ?? defaultEffortByType[gap.type],
    effortFrom,
    criticality,
    override,
  };
}

export function entryOfItem(item: HandItem, criticality: Criticality | null, override: PriorityOverride | null): BacklogEntry {
  return {
    id: item.id,
    origin: 'item',
    title: item.title,
    type: item.type,
    severity: item.severity,
    status: 'open',
    components: [...item.components],
    count: 1,
    firstSeenAt: item.createdAt,
    lastSeenAt: item.createdAt,
    blockedBy: [...item.blockedBy],
    effort: override?.effort ?? item.effort,
    effortFrom: override?.effort === undefined ? 'item' : 'override',
    criticality,
    override,
  };
}

/** The parts of a computed score: their sum, kept within 0-100, is the score. */
export interface ScoreParts {
  severity: number;
  criticality: number;
  frequency: number;
  recency: number;
  age: number;
  blastRadius: number;
  /** Zero or negative: effort lowers the score. */
  effort: number;
}

/** What the parts were computed from, so a reader can check them. */
export interface ScoreInputs {
  severity: GapSeverity;
  criticality: Criticality | null;
  count: number;
  daysSinceLastSeen: number;
  ageDays: number;
  components: number;
  effort: number;
}

const dayMs = 86_400_000;

/** Full days from `from` to `now` (never negative). */
const fullDays = (from: string, now: Date) => Math.max(0, Math.floor((now.getTime() - Date.parse(from)) / dayMs));

/**
 * The computed score of an entry at `now`:
 * severity + criticality + 2·min(count−1, 5) + recency + 2·min(⌊ageDays/7⌋, 5) + 2·min(components, 5) − min(effort, 10),
 * kept within 0-100.
 */
export function scoreOf(entry: Pick<BacklogEntry, 'severity' | 'criticality' | 'count' | 'lastSeenAt' | 'firstSeenAt' | 'components' | 'effort'>, now: Date): { score: number; parts: ScoreParts; inputs: ScoreInputs } {
  const w = scoreWeights;
  const daysSinceLastSeen = fullDays(entry.lastSeenAt, now);
  const ageDays = fullDays(entry.firstSeenAt, now);
  const parts: ScoreParts = {
    severity: w.severity[entry.severity],
    criticality: w.criticality[entry.criticality ?? 'unknown'],
    frequency: w.frequencyPerSighting * Math.min(Math.max(entry.count - 1, 0), w.frequencyCap),
    recency: daysSinceLastSeen < 1 ? w.recency.day : daysSinceLastSeen < 7 ? w.recency.week : w.recency.older,
    age: w.agePerWeek * Math.min(Math.floor(ageDays / 7), w.agePerWeekCap),
    blastRadius: w.blastPerComponent * Math.min(entry.components.length, w.blastCap),
    effort: -Math.min(entry.effort, w.effortCap),
  };
  const sum = parts.severity + parts.criticality + parts.frequency + parts.recency + parts.age + parts.blastRadius + parts.effort;
  return {
    score: Math.min(100, Math.max(0, sum)),
    parts,
    inputs: { severity: entry.severity, criticality: entry.criticality, count: entry.count, daysSinceLastSeen, ageDays, components: entry.components.length, effort: entry.effort },
  };
}

/** The score an override stands for. */
export function overrideScore(p: Priority): number {
  return typeof p === 'number' ? p : priorityLevelScores[p];
}

/** One ranked entry of the backlog. */
export interface RankedItem {
  rank: number;
  id: string;
  origin: BacklogEntry['origin'];
  title: string;
  type: GapType;
  severity: GapSeverity;
  status: string;
  components: string[];
  effort: number;
  effortFrom: BacklogEntry['effortFrom'];
  /** The score the ranking uses: the override's when there is one, else `computedScore`. */
  score: number;
  computedScore: number;
  /** What the ranking orders by: the highest score among this item and the open items it blocks, directly or not. */
  rankScore: number;
  parts: ScoreParts;
  inputs: ScoreInputs;
  override: (PriorityOverride & { score: number }) | null;
  /** Each blocker named, and whether it is open (in this backlog): only open ones hold this item back. */
  blockedBy: { id: string; open: boolean }[];
  /** Open items this one blocks. */
  blocks: string[];
  /** Part of a cycle of blockers: ranked by score where the cycle was cut. */
  inCycle: boolean;
  /** 1-based sprint it is suggested for. */
  sprint: number;
}

export interface Sprint {
  number: number;
  capacity: number;
  points: number;
  items: string[];
  /** A single item larger than the capacity has a sprint of its own. */
  overCapacity: boolean;
}

export interface Backlog {
  counts: { total: number; byOrigin: Record<BacklogEntry['origin'], number>; byType: Record<GapType, number>; bySeverity: Record<GapSeverity, number> };
  items: RankedItem[];
  /** Each cycle of blockers, as the ids in it (sorted). */
  cycles: string[][];
  sprints: Sprint[];
}

const severityOrder = (s: GapSeverity) => gapSeverities.length - gapSeverities.indexOf(s);

/**
 * The backlog at `now`: scores, the ranking (rank score, that is the highest score among an
 * item and what it blocks; then its own score, severity, the older first, id; an item comes after
 * every open item that blocks it; a cycle is cut at its best-ranked member), counts, cycles and sprints of `capacity` points filled first-fit in rank order, an
 * item never in a sprint before one of its blockers.
 */
export function buildBacklog(entries: readonly BacklogEntry[], options: { now: Date; capacity: number }): Backlog {
  const byId = new Map<string, BacklogEntry>();
  for (const e of entries) {
    byId.set(e.id, e);
  }
  const list = [...byId.values()];
  const scored = new Map(
    list.map((e) => {
      const computed = scoreOf(e, options.now);
      const score = e.override === null ? computed.score : overrideScore(e.override.priority);
      return [e.id, { entry: e, computed, score }] as const;
    }),
  );
  // Edges among open entries only: a blocker that is closed or unknown holds nothing back.
  const blockers = new Map(list.map((e) => [e.id, [...new Set(e.blockedBy)].filter((b) => byId.has(b))]));
  const blocks = new Map<string, string[]>(list.map((e) => [e.id, []]));
  for (const [id, bs] of blockers) {
    for (const b of bs) {
      blocks.get(b)?.push(id);
    }
  }
  const rankScore = inheritedScores(
    list.map((e) => e.id).sort((a, b) => (scored.get(b)?.score ?? 0) - (scored.get(a)?.score ?? 0)),
    (id) => scored.get(id)?.score ?? 0,
    blockers,
  );
  const better = (a: string, b: string): number => {
    const x = scored.get(a);
    const y = scored.get(b);
    if (!x || !y) {
      return 0;
    }
    return (
      (rankScore.get(b) ?? 0) - (rankScore.get(a) ?? 0) ||
      y.score - x.score ||
      severityOrder(y.entry.severity) - severityOrder(x.entry.severity) ||
      Date.parse(x.entry.firstSeenAt) - Date.parse(y.entry.firstSeenAt) ||
      (a < b ? -1 : a > b ? 1 : 0)
    );
  };

  const cycles = cyclesOf(list.map((e) => e.id), blockers);
  const inCycle = new Set(cycles.flat());

  const order = rankWithBlockers(list.map((e) => e.id).sort(better), blockers, blocks, inCycle);

  // Sprints: first fit in rank order, never before a blocker's sprint.
  const sprints: Sprint[] = [];
  const sprintOf = new Map<string, number>();
  for (const id of order) {
    const e = byId.get(id);
    if (!e) {
      continue;
    }
    const earliest = Math.max(0, ...(blockers.get(id) ?? []).map((b) => sprintOf.get(b) ?? 0));
    let sprint = sprints.find((s) => s.number >= earliest && s.points + e.effort <= s.capacity);
    if (!sprint) {
      sprint = { number: sprints.length + 1, capacity: options.capacity, points: 0, items: [], overCapacity: e.effort > options.capacity };
      sprints.push(sprint);
    }
    sprint.points += e.effort;
    sprint.items.push(id);
    sprintOf.set(id, sprint.number);
  }

  const items: RankedItem[] = order.flatMap((id, i) => {
    const s = scored.get(id);
    if (!s) {
      return [];
    }
    const e = s.entry;
    return [
      {
        rank: i + 1,
        id,
        origin: e.origin,
        title: e.title,
        type: e.type,
        severity: e.severity,
        status: e.status,
        components: e.components,
        effort: e.effort,
        effortFrom: e.effortFrom,
        score: s.score,
        computedScore: s.computed.score,
        rankScore: rankScore.get(id) ?? s.score,
        parts: s.computed.parts,
        inputs: s.computed.inputs,
        override: e.override === null ? null : { ...e.override, score: overrideScore(e.override.priority) },
        blockedBy: [...new Set(e.blockedBy)].map((b) => ({ id: b, open: byId.has(b) })),
        blocks: [...(blocks.get(id) ?? [])].sort(better),
        inCycle: inCycle.has(id),
        sprint: sprintOf.get(id) ?? 0,
      },
    ];
  });

  const zeros = <K extends string>(keys: readonly K[]) => Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>;
  const counts: Backlog['counts'] = { total: list.length, byOrigin: { gap: 0, item: 0 }, byType: zeros(gapTypes), bySeverity: zeros(gapSeverities) };
  for (const e of list) {
    counts.byOrigin[e.origin] += 1;
    counts.byType[e.type] += 1;
    counts.bySeverity[e.severity] += 1;
  }
  return { counts, items, cycles, sprints };
}

/**
 * Each id's score raised to the highest score of what it blocks, directly or through others: a
 * blocker of an urgent item is as urgent. `byScore` is every id, highest score first, so the first
 * walk to reach an id gives its final value.
 */
function inheritedScores(byScore: readonly string[], score: (id: string) => number, blockers: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const start of byScore) {
    if (out.has(start)) {
      continue;
    }
    const value = score(start);
    const todo = [start];
    out.set(start, value);
    for (let id = todo.pop(); id !== undefined; id = todo.pop()) {
      for (const b of blockers.get(id) ?? []) {
        if (!out.has(b)) {
          out.set(b, Math.max(value, score(b)));
          todo.push(b);
        }
      }
    }
  }
  return out;
}

/**
 * The ids in `ranked` order, each after all its blockers: at each step the best-ranked entry whose
 * blockers are all placed. When none is (every remaining one waits on a cycle), the best-ranked
 * remaining member of a cycle goes next, its unplaced blockers ignored: the walk always ends.
 */
function rankWithBlockers(ranked: readonly string[], blockers: ReadonlyMap<string, readonly string[]>, blocks: ReadonlyMap<string, readonly string[]>, inCycle: ReadonlySet<string>): string[] {
  const waiting = new Map(ranked.map((id) => [id, blockers.get(id)?.length ?? 0]));
  const placed = new Set<string>();
  const order: string[] = [];
  while (order.length < ranked.length) {
    const next = ranked.find((id) => !placed.has(id) && waiting.get(id) === 0) ?? ranked.find((id) => !placed.has(id) && inCycle.has(id)) ?? ranked.find((id) => !placed.has(id));
    if (next === undefined) {
      break;
    }
    placed.add(next);
    order.push(next);
    for (const dependent of blocks.get(next) ?? []) {
      waiting.set(dependent, (waiting.get(dependent) ?? 1) - 1);
    }
  }
  return order;
}

/** Every cycle of blockers (strongly connected components with more than one member, or a member blocking itself), ids sorted. */
export function cyclesOf(ids: readonly string[], blockers: ReadonlyMap<string, readonly string[]>): string[][] {
  // Tarjan's algorithm, iterative: a long chain of blockers must not overflow the stack.
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  for (const root of ids) {
    if (index.has(root)) {
      continue;
    }
    const frames: { id: string; edge: number }[] = [{ id: root, edge: 0 }];
    index.set(root, next);
    low.set(root, next);
    next += 1;
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      if (!frame) {
        break;
      }
      const edges = blockers.get(frame.id) ?? [];
      if (frame.edge < edges.length) {
        const to = edges[frame.edge] ?? '';
        frame.edge += 1;
        if (!index.has(to)) {
          index.set(to, next);
          low.set(to, next);
          next += 1;
          stack.push(to);
          onStack.add(to);
          frames.push({ id: to, edge: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.id, Math.min(low.get(frame.id) ?? 0, index.get(to) ?? 0));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) {
        low.set(parent.id, Math.min(low.get(parent.id) ?? 0, low.get(frame.id) ?? 0));
      }
      if (low.get(frame.id) === index.get(frame.id)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop();
          if (member !== undefined) {
            onStack.delete(member);
            component.push(member);
          }
        } while (member !== undefined && member !== frame.id);
        if (component.length > 1 || edges.includes(frame.id)) {
          cycles.push(component.sort());
        }
      }
    }
  }
  return cycles.sort((a, b) => ((a[0] ?? '') < (b[0] ?? '') ? -1 : 1));
}
