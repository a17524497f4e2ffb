import type { Redis } from 'ioredis';
import type { PiiCounter } from '../domain/compliance/ports.js';

const dayTtlSeconds = 400 * 24 * 3600;

export function createPiiCounter(redis: Redis, keyPrefix: string): PiiCounter {
  const totalKey = `${keyPrefix}:pii:detections`;
  const dayKey = (day: string) => `${keyPrefix}:pii:detections:${day}`;
  const numbers = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]));
  return {
    async add(counts, at = new Date()) {
      const entries = Object.entries(counts).filter(([, n]) => n > 0);
      if (entries.length === 0) {
        return;
      }
      const day = at.toISOString().slice(0, 10);
      const m = redis.multi();
      for (const [type, n] of entries) {
        m.hincrby(totalKey, type, n).hincrby(dayKey(day), type, n);
      }
      m.expire(dayKey(day), dayTtlSeconds);
      await m.exec();
    },
    async read(options = {}) {
      const now = options.now ?? new Date();
      const days = Array.from({ length: options.days ?? 7 }, (_, i) => new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10));
      const [total, ...perDay] = await Promise.all([redis.hgetall(totalKey), ...days.map((d) => redis.hgetall(dayKey(d)))]);
      return { total: numbers(total), days: days.map((day, i) => ({ day, counts: numbers(perDay[i] ?? {}) })) };
    },
  };
}
