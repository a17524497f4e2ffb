import type { Redis } from 'ioredis';
import { z } from 'zod';
import { alertSchema, alertTransitionSchema, AlertsBusyError, isOpenAlert, type Alert, type AlertTransition } from '../domain/alerts/alert.js';
import type { AlertStore } from '../domain/alerts/ports.js';
import { execAll, jsonOrUndefined, parseFrom } from './llm-values.js';
import { redisLock } from './lock.js';

export { AlertsBusyError } from '../domain/alerts/alert.js';

/** How much of the alerts is kept: transitions in the history, and how long a resolved alert stays. */
export const alertRetention = { historyEntries: 1_000, resolvedDays: 30 } as const;

const ids = z.array(z.string());

/**
 * Alerts in Redis, under `<prefix>:alerts:`:
 * - `item:<id>`: the alert's JSON;
 * - `open`: a set of the ids of open alerts (firing or acknowledged);
 * - `resolved`: a sorted set of resolved ids by resolution time (ms), trimmed past the retention
 *   (their `item` keys deleted with them);
 * - `history`: a list of transitions, newest first, the last {@link alertRetention}.historyEntries;
 * - `lock`: the fleet-wide lock of alert writes.
 */
export function createAlertStore(redis: Redis, keyPrefix: string, options: { lockWaitMs?: number } = {}): AlertStore {
  const base = `${keyPrefix}:alerts`;
  const keys = { item: (id: string) => `${base}:item:${id}`, open: `${base}:open`, resolved: `${base}:resolved`, history: `${base}:history`, lock: `${base}:lock` };
  const retentionMs = alertRetention.resolvedDays * 86_400_000;
  const waitMs = options.lockWaitMs ?? 10_000;

  const parseAlert = (raw: string, id: string): Alert => parseFrom(alertSchema, jsonOrUndefined(raw), `alert ${id}`);

  const getMany = async (wanted: readonly string[]): Promise<Alert[]> => {
    const distinct = [...new Set(wanted)];
    if (distinct.length === 0) {
      return [];
    }
    const raw = await redis.mget(distinct.map(keys.item));
    return distinct.flatMap((id, i) => {
      const value = raw[i];
      return value === null || value === undefined ? [] : [parseAlert(value, id)];
    });
  };

  return {
    async get(id) {
      const raw = await redis.get(keys.item(id));
      return raw === null ? null : parseAlert(raw, id);
    },
    getMany,
    async open() {
      return getMany(parseFrom(ids, await redis.smembers(keys.open), 'open alerts'));
    },
    async list() {
      const [open, resolved] = await Promise.all([redis.smembers(keys.open), redis.zrangebyscore(keys.resolved, Date.now() - retentionMs, '+inf')]);
      return getMany([...parseFrom(ids, open, 'open alerts'), ...parseFrom(ids, resolved, 'resolved alerts')]);
    },
    async resolvedSince(since) {
      return getMany(parseFrom(ids, await redis.zrangebyscore(keys.resolved, since.getTime(), '+inf'), 'resolved alerts'));
    },
    async save(changes, at) {
      const multi = redis.multi();
      for (const alert of changes.alerts) {
        multi.set(keys.item(alert.id), JSON.stringify(alert));
        if (isOpenAlert(alert)) {
          multi.sadd(keys.open, alert.id).zrem(keys.resolved, alert.id);
        } else {
          multi.srem(keys.open, alert.id).zadd(keys.resolved, Date.parse(alert.resolvedAt ?? at.toISOString()), alert.id);
        }
      }
      if (changes.transitions.length > 0) {
        // Pushed oldest first, so the head of the list is the newest.
        multi.lpush(keys.history, ...changes.transitions.map((t) => JSON.stringify(t))).ltrim(keys.history, 0, alertRetention.historyEntries - 1);
      }
      await execAll(multi);
      const expired = parseFrom(ids, await redis.zrangebyscore(keys.resolved, '-inf', `(${at.getTime() - retentionMs}`), 'expired alerts');
      if (expired.length > 0) {
        await execAll(
          redis
            .multi()
            .del(...expired.map(keys.item))
            .zrem(keys.resolved, ...expired),
        );
      }
    },
    async history({ alertId, limit = alertRetention.historyEntries } = {}) {
      const raw = await redis.lrange(keys.history, 0, alertRetention.historyEntries - 1);
      const all = raw.map((r, i): AlertTransition => parseFrom(alertTransitionSchema, jsonOrUndefined(r), `alert history entry ${i}`));
      return (alertId === undefined ? all : all.filter((t) => t.alertId === alertId)).slice(0, Math.max(0, limit));
    },
    exclusive: redisLock(redis, keys.lock, {
      ttlMs: 30_000,
      waitMs,
      busy: () => new AlertsBusyError(`another change of the alerts has held their lock for over ${waitMs} ms; try again`),
    }),
  };
}
