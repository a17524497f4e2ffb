import type { Redis } from 'ioredis';
import { z } from 'zod';
import { routeOverrideSchema, type RoutingOverrides, type RoutingOverrideStore } from '../domain/llm/routing-overrides.js';
import { operationTypes, type OperationType } from '../domain/llm/types.js';
import { parseStored } from './parse.js';

/** An override as stored: the route, who set it, with which action, and when. */
const storedSchema = z.object({ route: routeOverrideSchema, by: z.string(), action: z.string(), at: z.string() });

const parse = (raw: string, operation: string) => storedSchema.parse(parseStored(raw, `routing override of ${operation}`)).route;

const isOperation = (value: string): value is OperationType => (operationTypes as readonly string[]).includes(value);

/**
 * The LLM routing overrides: `<prefix>:llm:routing-overrides` (a hash, operation → override JSON)
 * and `<prefix>:llm:routing-overrides:version` (bumped with every change, in the same MULTI).
 * A stored value that does not parse is an error, not a silent fall-back to the matrix.
 */
export function createRoutingOverrideStore(redis: Redis, keyPrefix: string, clock: () => Date = () => new Date()): RoutingOverrideStore {
  const key = `${keyPrefix}:llm:routing-overrides`;
  const versionKey = `${keyPrefix}:llm:routing-overrides:version`;
  return {
    async read() {
      const replies = await redis.multi().get(versionKey).hgetall(key).exec();
      const [versionReply, routesReply] = replies ?? [];
      if (!versionReply || !routesReply || versionReply[0] || routesReply[0]) {
        throw versionReply?.[0] ?? routesReply?.[0] ?? new Error('routing overrides: the read was aborted');
      }
      const version = Number(z.string().nullable().parse(versionReply[1]) ?? 0);
      const routes: RoutingOverrides['routes'] = {};
      for (const [operation, raw] of Object.entries(z.record(z.string(), z.string()).parse(routesReply[1]))) {
        // A field of an operation type this version no longer has is left alone.
        if (isOperation(operation)) {
          routes[operation] = parse(raw, operation);
        }
      }
      return { version, routes };
    },
    async get(operation) {
      const raw = await redis.hget(key, operation);
      return raw === null ? null : parse(raw, operation);
    },
    async put(operation, route, meta) {
      const checked = route === null ? null : routeOverrideSchema.parse(route);
      const tx = redis.multi().incr(versionKey);
      const replies = await (checked === null ? tx.hdel(key, operation) : tx.hset(key, operation, JSON.stringify({ route: checked, by: meta.by, action: meta.action, at: clock().toISOString() }))).exec();
      const failed = replies?.find(([err]) => err !== null)?.[0];
      if (!replies || failed) {
        throw failed ?? new Error('routing overrides: the change was aborted');
      }
      return z.int().parse(replies[0]?.[1]);
    },
  };
}
