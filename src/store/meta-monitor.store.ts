import type { Redis } from 'ioredis';
import { z } from 'zod';
import { defaultMetaMonitorSettings, metaMonitorSettingsSchema, type MetaMonitorConfigStore } from '../domain/meta-monitor/config.js';
import { optimizationSchema, type OptimizationStore } from '../domain/meta-monitor/optimizations.js';
import { parseStored, StoredDataError } from './parse.js';
import { createVersionedDocument } from './versioned-document.js';

const storedConfigSchema = z.object({ settings: metaMonitorSettingsSchema, setBy: z.string(), setAt: z.string() });

/**
 * The meta-monitor's settings, versioned like the inventory (`<prefix>:meta-monitor:config:*`,
 * the last 10 versions kept). Before anyone sets them, the defaults are in force as version 0.
 */
export function createMetaMonitorConfigStore(redis: Redis, keyPrefix: string, clock: () => Date = () => new Date()): MetaMonitorConfigStore {
  const document = createVersionedDocument(redis, `${keyPrefix}:meta-monitor:config`, storedConfigSchema, { kept: 10, what: 'meta-monitor config' });
  return {
    async current() {
      return (await document.current()) ?? { version: 0, settings: defaultMetaMonitorSettings, setBy: 'default', setAt: null };
    },
    replace: (settings, by, expectedVersion) => document.write({ settings, setBy: by, setAt: clock().toISOString() }, expectedVersion),
  };
}

/** Applied optimizations by recommendation id, in one hash (`<prefix>:meta-monitor:optimizations`). */
export function createOptimizationStore(redis: Redis, keyPrefix: string): OptimizationStore {
  const key = `${keyPrefix}:meta-monitor:optimizations`;
  const parse = (id: string, raw: string) => {
    const parsed = optimizationSchema.safeParse(parseStored(raw, `optimization ${id}`));
    if (!parsed.success) {
      throw new StoredDataError(`optimization ${id} does not match its schema: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    }
    return parsed.data;
  };
  return {
    async get(id) {
      const raw = await redis.hget(key, id);
      return raw === null ? null : parse(id, raw);
    },
    async put(optimization) {
      await redis.hset(key, optimization.id, JSON.stringify(optimizationSchema.parse(optimization)));
    },
    async list() {
      const all = await redis.hgetall(key);
      return Object.entries(all)
        .map(([id, raw]) => parse(id, raw))
        .sort((a, b) => b.appliedAt.localeCompare(a.appliedAt));
    },
  };
}
