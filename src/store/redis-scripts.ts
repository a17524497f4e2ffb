import type { Redis } from 'ioredis';
import type { z } from 'zod';
import { StoredDataError } from './parse.js';

/**
 * A Lua script with named keys and a parsed reply. Bound to a connection with {@link bindScript},
 * it runs through ioredis `defineCommand`: EVALSHA, and EVAL when Redis answers NOSCRIPT (the
 * script's first use on a connection, or a server restarted or SCRIPT FLUSHed since).
 */
export interface LuaScript<K extends string, R> {
  /** Command name ioredis defines on the connection: one per script, not an existing command. */
  readonly name: string;
  /** The names of KEYS[1], KEYS[2], …, in that order. */
  readonly keys: readonly K[];
  readonly lua: string;
  /** The reply as the caller gets it; a reply this does not accept is a {@link StoredDataError}. */
  readonly reply: z.ZodType<R>;
}

/** A script bound to one connection: its keys by name, then its ARGV. */
export type ScriptCommand<K extends string, R> = (keys: Readonly<Record<K, string>>, ...args: (string | number)[]) => Promise<R>;

/** Declares a script; `keys` fixes its number of keys and the names the caller passes them by. */
export function luaScript<const K extends string, R>(script: LuaScript<K, R>): LuaScript<K, R> {
  return script;
}

/** Defines `script` on `redis` and returns the typed call. */
export function bindScript<K extends string, R>(redis: Redis, script: LuaScript<K, R>): ScriptCommand<K, R> {
  redis.defineCommand(script.name, { numberOfKeys: script.keys.length, lua: script.lua });
  const command: unknown = Reflect.get(redis, script.name);
  if (typeof command !== 'function') {
    throw new Error(`ioredis did not define the script command ${script.name}`);
  }
  return async (keys, ...args) => {
    const reply: unknown = await Reflect.apply(command, redis, [...script.keys.map((k) => keys[k]), ...args]);
    const parsed = script.reply.safeParse(reply);
    if (!parsed.success) {
      throw new StoredDataError(`script ${script.name} replied ${JSON.stringify(reply)}: ${parsed.error.issues[0]?.message ?? 'not the expected reply'}`);
    }
    return parsed.data;
  };
}
