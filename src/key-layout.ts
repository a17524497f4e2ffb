/**
 * Where an install's keys live: which hash tag each store and queue writes under.
 *
 * Redis Cluster puts a key in the slot of its hash tag (the part between `{` and `}`); keys of
 * one tag share a slot, and only keys of one slot may meet in one MULTI, Lua script or
 * multi-key command. So a store whose operations touch several keys keeps them under one tag of
 * its own, and the tags differ from store to store, so the stores spread over the shards.
 *
 * - `single` (one Redis server): every key under the install's one tag, `{bsm}`, as every
 *   version before the cluster layout wrote them. An install that stays on one server keeps
 *   its keys where they are: nothing to migrate.
 * - `spread` (Redis Cluster): a tag per part, `{bsm:<part>}`: each BullMQ queue its own (the
 *   prefix BullMQ's cluster guide asks for: every key of one queue in one slot), each store its
 *   own, and the execution store {@link executionShards} tags, `{bsm:executions:<n>}`, so ingest
 *   and analysis use every shard.
 *
 * A new store takes `layout.tag('<its part>')` as its key prefix (its keys then read
 * `<tag>:<part>:…`, exactly as under the single layout's `{bsm}`); its part name is its own
 * first key segment. Parts whose keys meet in one script or transaction take the same tag.
 */
export type KeyLayoutMode = 'single' | 'spread';

/** Tags the execution store spreads over under the `spread` layout (a cluster has far fewer masters). */
export const executionShards = 16;

export interface KeyLayout {
  readonly mode: KeyLayoutMode;
  /** The install's name (`BSM_PREFIX`). */
  readonly install: string;
  /** The prefix of one store's keys (a hash tag): `{bsm}` under `single`, `{bsm:<part>}` under `spread`. */
  tag(this: void, part: string): string;
  /** The BullMQ prefix of one queue (a hash tag): `{bsm}` under `single`, `{bsm:<queue>}` under `spread`. */
  queuePrefix(this: void, queue: string): string;
  /** The key prefixes the execution store spreads over: one (`{bsm}`) under `single`, {@link executionShards} under `spread`. */
  executionTags(this: void): string[];
}

/** The key layout of `install` (`BSM_PREFIX`) in `mode`. */
export function keyLayout(install: string, mode: KeyLayoutMode): KeyLayout {
  const one = `{${install}}`;
  const tag = (part: string) => (mode === 'single' ? one : `{${install}:${part}}`);
  return {
    mode,
    install,
    tag,
    queuePrefix: (queue) => tag(`queue:${queue}`),
    executionTags: () => (mode === 'single' ? [one] : Array.from({ length: executionShards }, (_, i) => tag(`executions:${i}`))),
  };
}
