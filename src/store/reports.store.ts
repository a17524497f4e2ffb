import type { Redis } from 'ioredis';
import type { z } from 'zod';
import type { ReportStore, StoredReport } from '../domain/reports.js';
import { parseStored, StoredDataError } from './parse.js';

/**
 * Job results under `<prefix>:reports:<kind>` (a sorted set of ids by creation time) and
 * `<prefix>:reports:<kind>:<id>` (the JSON). At most `keepPerKind` are kept per kind.
 */
export function createReportStore(redis: Redis, keyPrefix: string, keepPerKind = 1_000): ReportStore {
  const indexKey = (kind: string) => `${keyPrefix}:reports:${kind}`;
  const itemKey = (kind: string, id: string) => `${keyPrefix}:reports:${kind}:${id}`;

  const parse = <S extends z.ZodType>(kind: string, id: string, raw: string, schema: S): StoredReport<z.output<S>> => {
    const stored = parseStored(raw, `report ${kind}/${id}`);
    if (typeof stored !== 'object' || stored === null || !('body' in stored) || !('createdAt' in stored) || typeof stored.createdAt !== 'string') {
      throw new StoredDataError(`report ${kind}/${id}: not a stored report`);
    }
    const body = schema.safeParse(stored.body);
    if (!body.success) {
      throw new StoredDataError(`report ${kind}/${id} does not match its schema: ${body.error.issues[0]?.path.join('.') ?? ''} ${body.error.issues[0]?.message ?? ''}`);
    }
    return { id, kind, createdAt: stored.createdAt, body: body.data };
  };

  const get = async <S extends z.ZodType>(kind: string, id: string, schema: S): Promise<StoredReport<z.output<S>> | null> => {
    const raw = await redis.get(itemKey(kind, id));
    return raw === null ? null : parse(kind, id, raw, schema);
  };

  const ids = (kind: string, options: { since?: Date; limit?: number }) =>
    redis.zrevrangebyscore(indexKey(kind), '+inf', options.since ? options.since.getTime() : '-inf', 'LIMIT', 0, options.limit ?? 100);

  return {
    async save(kind, id, body, at = new Date()) {
      const report = { id, kind, createdAt: at.toISOString(), body };
      await redis.multi().set(itemKey(kind, id), JSON.stringify(report)).zadd(indexKey(kind), at.getTime(), id).exec();
      const excess = await redis.zrange(indexKey(kind), '0', String(-(keepPerKind + 1)));
      if (excess.length > 0) {
        await redis
          .multi()
          .zrem(indexKey(kind), ...excess)
          .del(...excess.map((x) => itemKey(kind, x)))
          .exec();
      }
      return report;
    },
    get,
    async latest(kind, schema) {
      const [id] = await redis.zrevrange(indexKey(kind), 0, 0);
      return id === undefined ? null : get(kind, id, schema);
    },
    async list(kind, schema, options = {}) {
      const reports = await Promise.all((await ids(kind, options)).map((id) => get(kind, id, schema)));
      return reports.filter((r) => r !== null);
    },
    async listMatching(kind, schema, options = {}) {
      const read = await Promise.all(
        (await ids(kind, options)).map((id) =>
          get(kind, id, schema).catch((err: unknown) => {
            if (err instanceof StoredDataError) {
              return undefined;
            }
            throw err;
          }),
        ),
      );
      const reports = read.filter((r) => r !== null && r !== undefined);
      return { reports, unreadable: read.filter((r) => r === undefined).length };
    },
  };
}
