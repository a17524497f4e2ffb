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

/**
 * A Lua script that takes any number of keys (KEYS[1..n], all of them named by the caller), with a
 * parsed reply. Bound with {@link bindManyKeyScript}.
 */
export interface ManyKeyLuaScript<R> {
  readonly name: string;
  readonly lua: string;
  readonly reply: z.ZodType<R>;
}

/** Defines `script` on `redis` and returns the typed call. */
export function bindScript<K extends string, R>(redis: Redis, script: LuaScript<K, R>): ScriptCommand<K, R> {
  const run = define(redis, script.name, script.lua, script.keys.length, script.reply);
  return (keys, ...args) => run([...script.keys.map((k) => keys[k]), ...args]);
}

/** Defines `script` on `redis` and returns the call: its keys, then its ARGV. */
export function bindManyKeyScript<R>(redis: Redis, script: ManyKeyLuaScript<R>): (keys: readonly string[], ...args: (string | number)[]) => Promise<R> {
  const run = define(redis, script.name, script.lua, undefined, script.reply);
  return (keys, ...args) => run([keys.length, ...keys, ...args]);
}

/** `numberOfKeys` undefined: the caller passes the count first, as EVAL takes it. */
function define<R>(redis: Redis, name: string, lua: string, numberOfKeys: number | undefined, reply: z.ZodType<R>): (args: (string | number)[]) => Promise<R> {
  redis.defineCommand(name, numberOfKeys === undefined ? { lua } : { lua, numberOfKeys });
  const command: unknown = Reflect.get(redis, name);
  if (typeof command !== 'function') {
    throw new Error(`ioredis did not define the script command ${name}`);
  }
  return async (args) => {
    const raw: unknown = await Reflect.apply(command, redis, args);
    const parsed = reply.safeParse(raw);
    if (!parsed.success) {
      throw new StoredDataError(`script ${name} replied ${JSON.stringify(raw)}: ${parsed.error.issues[0]?.message ?? 'not the expected reply'}`);
    }
    return parsed.data;
  };
}
