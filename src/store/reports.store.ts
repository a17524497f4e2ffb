import type { Redis } from 'ioredis';

/** Kinds of stored results; each later capability adds its own. */
export type ReportKind = 'daily-check' | 'weekly-review' | 'audit' | 'execution-analysis' | 'compliance-check' | 'archive' | 'alert-evaluation' | 'canary';

export interface StoredReport<T = unknown> {
  id: string;
  kind: ReportKind;
  createdAt: string;
  body: T;
}

/** Results of jobs, kept so they can be fetched later (and bounded per kind). */
export interface ReportStore {
  save<T>(kind: ReportKind, id: string, body: T, at?: Date): Promise<StoredReport<T>>;
  get<T = unknown>(kind: ReportKind, id: string): Promise<StoredReport<T> | null>;
  latest<T = unknown>(kind: ReportKind): Promise<StoredReport<T> | null>;
  /** Newest first, created at or after `since`. */
  list<T = unknown>(kind: ReportKind, options?: { since?: Date; limit?: number }): Promise<StoredReport<T>[]>;
}

export function createReportStore(redis: Redis, keyPrefix: string, keepPerKind = 1_000): ReportStore {
  const indexKey = (kind: ReportKind) => `${keyPrefix}:reports:${kind}`;
  const itemKey = (kind: ReportKind, id: string) => `${keyPrefix}:reports:${kind}:${id}`;

  const get = async <T>(kind: ReportKind, id: string): Promise<StoredReport<T> | null> => {
    const raw = await redis.get(itemKey(kind, id));
    return raw === null ? null : (JSON.parse(raw) as StoredReport<T>);
  };

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
    async latest(kind) {
      const [id] = await redis.zrevrange(indexKey(kind), 0, 0);
      return id === undefined ? null : get(kind, id);
    },
    async list<T>(kind: ReportKind, options: { since?: Date; limit?: number } = {}) {
      const ids = await redis.zrevrangebyscore(indexKey(kind), '+inf', options.since ? options.since.getTime() : '-inf', 'LIMIT', 0, options.limit ?? 100);
      const reports = await Promise.all(ids.map((id) => get<T>(kind, id)));
      return reports.filter((r): r is StoredReport<T> => r !== null);
    },
  };
}
