import type { z } from 'zod';

/** A job result kept for later, read back through its job's result schema. */
export interface StoredReport<T = unknown> {
  id: string;
  /** The name of the job that made it. */
  kind: string;
  createdAt: string;
  body: T;
}

/**
 * Results of jobs, kept so they can be fetched later (bounded per kind). A report's kind is
 * the name of the job that made it; reading one parses it through that job's result schema,
 * so what comes back from Redis is checked, not cast.
 */
export interface ReportStore {
  save<T>(kind: string, id: string, body: T, at?: Date): Promise<StoredReport<T>>;
  get<S extends z.ZodType>(kind: string, id: string, schema: S): Promise<StoredReport<z.output<S>> | null>;
  latest<S extends z.ZodType>(kind: string, schema: S): Promise<StoredReport<z.output<S>> | null>;
  /** Newest first, created at or after `since`. */
  list<S extends z.ZodType>(kind: string, schema: S, options?: { since?: Date; limit?: number }): Promise<StoredReport<z.output<S>>[]>;
  /**
   * As `list`, leaving out the reports that do not match `schema` (a kind whose result changed
   * shape across versions keeps its older reports) and counting them, so the caller can say so.
   */
  listMatching<S extends z.ZodType>(kind: string, schema: S, options?: { since?: Date; limit?: number }): Promise<{ reports: StoredReport<z.output<S>>[]; unreadable: number }>;
}
