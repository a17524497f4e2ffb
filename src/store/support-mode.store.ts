import type { Redis } from 'ioredis';
import { z } from 'zod';
import { componentNames, initialState, SupportModeBusyError, type SupportModeState } from '../domain/support-mode/state.js';
import { parseStored, StoredDataError } from './parse.js';
import { redisLock } from './lock.js';
import { bindScript, luaScript } from './redis-scripts.js';

export { SupportModeBusyError } from '../domain/support-mode/state.js';

const at = z.string().nullable();
const emergencyRecord = z.object({ at: z.string(), reason: z.string(), initiatedBy: z.string(), requestedBy: z.string(), immediate: z.boolean() });
const component = z.object({ active: z.boolean(), since: at, by: at });

/**
 * The state as stored. Fields added since a state was written may be missing: they take their
 * initial values.
 */
const storedStateSchema = z.object({
  flag: z.object({ enabled: z.boolean(), updatedAt: at, updatedBy: at, reason: at }).optional(),
  components: z.object(Object.fromEntries(componentNames.map((c) => [c, component.optional()])) as Record<(typeof componentNames)[number], z.ZodOptional<typeof component>>).optional(),
  emergency: emergencyRecord.nullable().optional(),
  lastEmergency: emergencyRecord.extend({ recoveredAt: z.string(), recoveredBy: z.string(), reactivatedAt: at.optional() }).nullable().optional(),
  lastTransition: z.object({ at: z.string(), action: z.string(), by: z.string(), reason: at }).nullable().optional(),
  version: z.number().int().nonnegative().optional(),
});

/** Parses the stored JSON through its schema; a value that does not fit is a {@link StoredDataError}. */
function parseState(raw: string): SupportModeState {
  const parsed = storedStateSchema.safeParse(parseStored(raw, 'support-mode state'));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new StoredDataError(`support-mode state does not match its schema at ${issue?.path.join('.') ?? '(root)'}: ${issue?.message ?? ''}`);
  }
  const initial = initialState();
  const s = parsed.data;
  const components = { ...initial.components };
  for (const c of componentNames) {
    components[c] = s.components?.[c] ?? initial.components[c];
  }
  const last = s.lastEmergency ?? null;
  return {
    flag: s.flag ?? initial.flag,
    components,
    emergency: s.emergency ?? null,
    // A `lastEmergency` from before `reactivatedAt` existed counts as reactivated at its recovery:
    // nothing then tracked the gradual step, and reading it as still recovering would refuse
    // `activate all` for good.
    lastEmergency: last === null ? null : { ...last, reactivatedAt: last.reactivatedAt === undefined ? last.recoveredAt : last.reactivatedAt },
    lastTransition: s.lastTransition ?? null,
    version: s.version ?? 0,
  };
}

/** KEYS: state. ARGV: expected version, new JSON. Writes only if the stored version is the expected one. */
const casScript = luaScript({
  name: 'bsmSupportModeCas',
  keys: ['state'],
  reply: z.union([z.literal(0), z.literal(1)]),
  lua: `
local cur = redis.call('GET', KEYS[1])
local version = 0
if cur then version = cjson.decode(cur)['version'] end
if tonumber(version) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`,
});

export interface SupportModeStore {
  read(): Promise<SupportModeState>;
  /**
   * Runs `work` holding the fleet-wide support-mode lock, so a transition and the queue
   * changes it makes are not interleaved with another process's.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** Reads, applies `change`, and writes only if nobody else wrote in between (retrying). */
  update(change: (state: SupportModeState) => SupportModeState): Promise<{ before: SupportModeState; after: SupportModeState }>;
}

export function createSupportModeStore(redis: Redis, keyPrefix: string, options: { lockTtlMs?: number; waitMs?: number } = {}): SupportModeStore {
  const key = `${keyPrefix}:support-mode`;
  const lockKey = `${keyPrefix}:support-mode:lock`;
  const lockTtlMs = options.lockTtlMs ?? 30_000;
  const waitMs = options.waitMs ?? 10_000;
  const compareAndSet = bindScript(redis, casScript);
  const read = async () => {
    const raw = await redis.get(key);
    return raw === null ? initialState() : parseState(raw);
  };
  return {
    read,
    exclusive: redisLock(redis, lockKey, {
      ttlMs: lockTtlMs,
      waitMs,
      busy: () => new SupportModeBusyError(`another support-mode transition has held the lock for over ${waitMs} ms; try again`),
    }),
    async update(change) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const before = await read();
        const after = change(before);
        if (after === before) {
          return { before, after }; // nothing to write
        }
        if ((await compareAndSet({ state: key }, before.version, JSON.stringify(after))) === 1) {
          return { before, after };
        }
      }
      throw new Error('support mode: concurrent updates did not settle after 50 attempts');
    },
  };
}
