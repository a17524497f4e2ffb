import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import { gapSchema, gapSources, gapStatuses, type Gap, type GapSource, type GapStatus, type GapStore } from '../domain/gaps/gap.js';
import { distinctSightings, GapStoreBusyError, isOpenGap, observeRun, transitionGap, type GapChange } from '../domain/gaps/lifecycle.js';
import { parseStored, StoredDataError } from './parse.js';
import { bindManyKeyScript, type ManyKeyLuaScript } from './redis-scripts.js';

export { GapStoreBusyError } from '../domain/gaps/lifecycle.js';

/** Gaps `list` returns when the caller names no limit (or not a number), and at most; a limit below 1 counts as 1. */
export const gapListLimits = { default: 100, max: 1_000 } as const;

const maxAttempts = 50;
/** KEYS of the write script before the gaps' own. */
const fixedWriteKeys = 5 + gapStatuses.length;

/**
 * Writes changed gaps of one source if no writer changed a gap of that source since its revision
 * was read, keeping every index in step, and bumps the revision.
 * KEYS: revision, by-last-seen, the status sets (in `gapStatuses` order), source set, subject
 * index, open hash, then one key per changed gap.
 * ARGV: expected revision; a JSON array with, per gap in KEYS order, `[lastSeenAt ms, status
 * index before (0: new), status index after, open (1/0), id, subject]`; then each gap's JSON, in
 * KEYS order. cjson only decodes the index array (its encoder would turn an empty array into an
 * object: no gap JSON is made here). Two arguments and a key a gap keep a run of tens of
 * thousands of gaps within the limits on a call's arguments.
 */
const writeScript: ManyKeyLuaScript<0 | 1> = {
  name: 'bsmGapsWrite',
  reply: z.union([z.literal(0), z.literal(1)]),
  lua: `
local rev = tonumber(redis.call('GET', KEYS[1]) or '0')
if rev ~= tonumber(ARGV[1]) then return 0 end
local statuses = ${gapStatuses.length}
local sourceSet, subjects, open = KEYS[3 + statuses], KEYS[4 + statuses], KEYS[5 + statuses]
-- Gathered per key and sent in a few large calls: a thousand gaps cost a few calls, not thousands.
local values, seen, added, removed, members, opened, closed = {}, {}, {}, {}, {}, {}, {}
for s = 1, statuses do added[s] = {}; removed[s] = {} end
for i, change in ipairs(cjson.decode(ARGV[2])) do
  local score, before, after, isOpen, id, subject = unpack(change)
  values[#values + 1] = KEYS[${fixedWriteKeys} + i]; values[#values + 1] = ARGV[2 + i]
  seen[#seen + 1] = score; seen[#seen + 1] = id
  if before ~= 0 and before ~= after then removed[before][#removed[before] + 1] = id end
  local add = added[after]
  add[#add + 1] = score; add[#add + 1] = id
  if before == 0 then members[#members + 1] = '0'; members[#members + 1] = subject .. '\0' .. id end
  if isOpen == 1 then opened[#opened + 1] = id; opened[#opened + 1] = subject else closed[#closed + 1] = id end
end
local function call(command, key, list)
  for i = 1, #list, 1000 do
    local args = {}
    for j = i, math.min(i + 999, #list) do args[#args + 1] = list[j] end
    if key then redis.call(command, key, unpack(args)) else redis.call(command, unpack(args)) end
  end
end
call('MSET', nil, values)
call('ZADD', KEYS[2], seen)
call('ZADD', sourceSet, seen)
for s = 1, statuses do
  call('ZREM', KEYS[2 + s], removed[s])
  call('ZADD', KEYS[2 + s], added[s])
end
call('ZADD', subjects, members)
call('HSET', open, opened)
call('HDEL', open, closed)
redis.call('INCR', KEYS[1])
return 1
`,
};

/**
 * Ids from KEYS[1] (a sorted set by last sighting), newest first, that are in at least one of the
 * next ARGV[2] sets and in every set after those; at most ARGV[1] of them.
 */
const listScript: ManyKeyLuaScript<string[]> = {
  name: 'bsmGapsList',
  reply: z.array(z.string()),
  lua: `
local limit, anyOf = tonumber(ARGV[1]), tonumber(ARGV[2])
local out, start, batch = {}, 0, 500
while #out < limit do
  local ids = redis.call('ZREVRANGE', KEYS[1], start, start + batch - 1)
  if #ids == 0 then break end
  for _, id in ipairs(ids) do
    local ok = anyOf == 0
    for k = 2, 1 + anyOf do
      if redis.call('ZSCORE', KEYS[k], id) then ok = true; break end
    end
    if ok then
      for k = 2 + anyOf, #KEYS do
        if not redis.call('ZSCORE', KEYS[k], id) then ok = false; break end
      end
    end
    if ok then
      out[#out + 1] = id
      if #out >= limit then break end
    end
  end
  start = start + batch
end
return out
`,
};

const gapIdPattern = /^gap-[0-9a-f]{16}$/;

/**
 * Gaps of every source in Redis (`P` is the key prefix):
 * - `P:gaps:<id>`: the gap as JSON;
 * - `P:gaps:by-last-seen`, `P:gaps:status:<status>`, `P:gaps:source:<source>`: sorted sets of
 *   ids by `lastSeenAt` (ms), for `list`;
 * - `P:gaps:subjects:<source>`: `<subject>\0<id>` at score 0, read by lexical range for `list`
 *   by subject;
 * - `P:gaps:open:<source>`: hash of the source's open gaps (id → subject), the ones a run may
 *   resolve;
 * - `P:gaps:rev:<source>`: a counter bumped by every write to a gap of the source.
 *
 * Writes are optimistic: read the source's revision and the gaps, compute the change in the
 * domain, and write with a script that refuses if the revision moved; then read again and retry.
 */
export function createGapStore(redis: Redis, keyPrefix: string): GapStore {
  const base = `${keyPrefix}:gaps`;
  const gapKey = (id: string) => `${base}:${id}`;
  const byLastSeenKey = `${base}:by-last-seen`;
  const statusKey = (s: GapStatus) => `${base}:status:${s}`;
  const sourceKeys = (s: GapSource) => ({ set: `${base}:source:${s}`, subjects: `${base}:subjects:${s}`, open: `${base}:open:${s}`, rev: `${base}:rev:${s}` });
  const write = bindManyKeyScript(redis, writeScript);
  const listIds = bindManyKeyScript(redis, listScript);

  const parseGap = (id: string, raw: string): Gap => {
    const parsed = gapSchema.safeParse(parseStored(raw, `gap ${id}`));
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new StoredDataError(`gap ${id} does not match its schema at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? ''}`);
    }
    return parsed.data;
  };

  const load = async (ids: readonly string[]): Promise<Gap[]> => {
    if (ids.length === 0) {
      return [];
    }
    const raws = await redis.mget(ids.map(gapKey));
    return raws.flatMap((raw, i) => (raw === null ? [] : [parseGap(ids[i] ?? '', raw)]));
  };

  /** Writes `changes` (all of `source`) if its revision is still `rev`; false when it moved. */
  const writeChanges = async (source: GapSource, rev: number, changes: readonly GapChange[]): Promise<boolean> => {
    const k = sourceKeys(source);
    const statusIndex = (s: GapStatus) => gapStatuses.indexOf(s) + 1;
    const rows = changes.map(({ before, after }) => [
      String(Date.parse(after.lastSeenAt)),
      before === null ? 0 : statusIndex(before.status),
      statusIndex(after.status),
      isOpenGap(after.status) ? 1 : 0,
      after.id,
      after.subject,
    ]);
    const keys = [k.rev, byLastSeenKey, ...gapStatuses.map(statusKey), k.set, k.subjects, k.open, ...changes.map((c) => gapKey(c.after.id))];
    return (await write(keys, rev, JSON.stringify(rows), ...changes.map((c) => JSON.stringify(c.after)))) === 1;
  };

  const backOff = (attempt: number) => sleep(Math.floor(Math.random() * 5 * (attempt + 1)));

  return {
    async observe(run, sightings) {
      const foreign = sightings.find((s) => s.source !== run.source);
      if (foreign !== undefined) {
        throw new RangeError(`a run of ${run.source} reported a sighting of ${foreign.source} (${foreign.subject} / ${foreign.check})`);
      }
      const distinct = distinctSightings(sightings);
      const sightedIds = distinct.map((s) => s.id);
      const sighted = new Set(sightedIds);
      const scope = new Set(run.scope);
      const k = sourceKeys(run.source);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        // One connection answers in order: the revision is read before the gaps it covers.
        const [rev, known, open] = await Promise.all([redis.get(k.rev), load(sightedIds), redis.hgetall(k.open)]);
        const candidateIds = Object.entries(open)
          .filter(([id, subject]) => scope.has(subject) && !sighted.has(id))
          .map(([id]) => id);
        const candidates = await load(candidateIds);
        const { changes, observation } = observeRun(run, distinct, new Map(known.map((g) => [g.id, g])), candidates);
        if (changes.length === 0 || (await writeChanges(run.source, Number(rev ?? 0), changes))) {
          return observation;
        }
        await backOff(attempt);
      }
      throw new GapStoreBusyError(`gaps of ${run.source}: other writers kept changing them; ${maxAttempts} attempts to record run ${run.runId} failed`);
    },

    async get(id) {
      if (!gapIdPattern.test(id)) {
        return null;
      }
      const [gap] = await load([id]);
      return gap ?? null;
    },

    async list(filter = {}) {
      const asked = filter.limit !== undefined && Number.isFinite(filter.limit) ? Math.trunc(filter.limit) : gapListLimits.default;
      const limit = Math.min(Math.max(asked, 1), gapListLimits.max);
      const statuses = filter.status === undefined ? null : new Set(filter.status);
      if (statuses?.size === 0) {
        return [];
      }
      const matches = (g: Gap) => (statuses === null || statuses.has(g.status)) && (filter.source === undefined || g.source === filter.source) && (filter.subject === undefined || g.subject === filter.subject);

      if (filter.subject !== undefined) {
        // A subject has few gaps: take them all from the lexical index, then sort.
        const from = `[${filter.subject}\0`;
        const to = `(${filter.subject}\x01`;
        const members = await Promise.all((filter.source === undefined ? gapSources : [filter.source]).map((s) => redis.zrangebylex(sourceKeys(s).subjects, from, to)));
        const ids = members.flat().map((m) => m.slice(m.lastIndexOf('\0') + 1));
        return (await load(ids))
          .filter(matches)
          .sort((a, b) => Date.parse(b.lastSeenAt) - Date.parse(a.lastSeenAt) || (a.id < b.id ? 1 : -1))
          .slice(0, limit);
      }

      // Walk the narrowest sorted set, newest first, checking membership in the others in Redis.
      const statusKeys = statuses === null ? [] : [...statuses].map(statusKey);
      const sourceSet = filter.source === undefined ? null : sourceKeys(filter.source).set;
      const [onlyStatus] = statusKeys;
      const [primary, anyOf, allOf] =
        statusKeys.length === 1 && onlyStatus !== undefined
          ? [onlyStatus, [], sourceSet === null ? [] : [sourceSet]]
          : [sourceSet ?? byLastSeenKey, statusKeys, []];
      const ids = await listIds([primary, ...anyOf, ...allOf], limit, anyOf.length);
      // A gap changed between the two reads may no longer match: it is left out.
      return (await load(ids)).filter(matches);
    },

    async countByStatus() {
      const cards = await Promise.all(gapStatuses.map((s) => redis.zcard(statusKey(s))));
      return Object.fromEntries(gapStatuses.map((s, i) => [s, cards[i] ?? 0])) as Record<GapStatus, number>;
    },

    async transition(id, to, by, at, extra) {
      if (!gapIdPattern.test(id)) {
        return null;
      }
      const revKeys = gapSources.map((s) => sourceKeys(s).rev);
      for (let attempt = 0; attempt < maxAttempts; attempt++) {
        const [revs, raw] = await Promise.all([redis.mget(revKeys), redis.get(gapKey(id))]);
        if (raw === null) {
          return null;
        }
        const before = parseGap(id, raw);
        const after = transitionGap(before, to, by, at, extra);
        if (after === before) {
          return before;
        }
        const rev = Number(revs[gapSources.indexOf(before.source)] ?? 0);
        if (await writeChanges(before.source, rev, [{ before, after }])) {
          return after;
        }
        await backOff(attempt);
      }
      throw new GapStoreBusyError(`gap ${id}: other writers kept changing gaps of its source; ${maxAttempts} attempts to move it to ${to} failed`);
    },
  };
}
