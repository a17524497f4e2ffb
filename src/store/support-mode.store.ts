import type { Redis } from 'ioredis';
import { initialState, type SupportModeState } from '../domain/support-mode/state.js';

/** KEYS: state. ARGV: expected version, new JSON. Writes only if the stored version is the expected one. */
const casScript = `
local cur = redis.call('GET', KEYS[1])
local version = 0
if cur then version = cjson.decode(cur)['version'] end
if tonumber(version) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
`;

export interface SupportModeStore {
  read(): Promise<SupportModeState>;
  /** Reads, applies `change`, and writes only if nobody else wrote in between (retrying). */
  update(change: (state: SupportModeState) => SupportModeState): Promise<{ before: SupportModeState; after: SupportModeState }>;
}

export function createSupportModeStore(redis: Redis, keyPrefix: string): SupportModeStore {
  const key = `${keyPrefix}:support-mode`;
  const read = async () => {
    const raw = await redis.get(key);
    return raw === null ? initialState() : (JSON.parse(raw) as SupportModeState);
  };
  return {
    read,
    async update(change) {
      for (let attempt = 0; attempt < 50; attempt++) {
        const before = await read();
        const after = change(before);
        if ((await redis.eval(casScript, 1, key, before.version, JSON.stringify(after))) === 1) {
          return { before, after };
        }
      }
      throw new Error('support mode: concurrent updates did not settle after 50 attempts');
    },
  };
}
