import type { Redis } from 'ioredis';
import { z } from 'zod';
import { fromNanoUsd, toNanoUsd } from '../domain/llm/money.js';
import type { BudgetAlert, CostStore, SpendTotals } from '../domain/llm/ports.js';
import { execAll, intText, jsonOrUndefined, parseFrom } from './llm-values.js';

// Keys: see llm.store.ts. A `:by` field is the JSON of [component, model, total].

export interface CostStoreOptions {
  /** TTL of per-day cost and alert keys. */
  dayTtlSeconds: number;
  /** TTL of per-month cost and alert keys. */
  monthTtlSeconds: number;
}

const totalsFields = ['nanoUsd', 'calls', 'inputTokens', 'outputTokens', 'unpricedCalls'] as const;
type TotalsField = (typeof totalsFields)[number];

const totalsHash = z
  .object({
    nanoUsd: intText.default(0),
    calls: intText.default(0),
    inputTokens: intText.default(0),
    outputTokens: intText.default(0),
    unpricedCalls: intText.default(0),
  })
  .transform(
    (h): SpendTotals => ({
      costUsd: fromNanoUsd(h.nanoUsd),
      calls: h.calls,
      inputTokens: h.inputTokens,
      outputTokens: h.outputTokens,
      unpricedCalls: h.unpricedCalls,
    }),
  );
const breakdownField = z.tuple([z.string(), z.string(), z.enum(totalsFields)]);
const counter = z.number().int();
const alertSchema = z.object({
  period: z.enum(['day', 'month']),
  periodId: z.string(),
  thresholdPct: z.number(),
  spentUsd: z.number(),
  budgetUsd: z.number(),
  at: z.number(),
});

/** Spend per day, month and day x component x model, and the budget alerts fired. */
export function createCostStore(redis: Redis, base: string, options: CostStoreOptions): CostStore {
  const keys = {
    day: (day: string) => `${base}:cost:day:${day}`,
    dayBy: (day: string) => `${base}:cost:day:${day}:by`,
    month: (month: string) => `${base}:cost:month:${month}`,
    alerts: (period: 'day' | 'month', id: string) => `${base}:budget:alerts:${period}:${id}`,
  };
  const nanoOf = (value: string | null, what: string) => fromNanoUsd(value === null ? 0 : parseFrom(intText, value, what));

  return {
    async addSpend(entry) {
      const nano = toNanoUsd(entry.costUsd);
      const increments: Record<TotalsField, number> = {
        nanoUsd: nano,
        calls: 1,
        inputTokens: entry.inputTokens,
        outputTokens: entry.outputTokens,
        unpricedCalls: entry.priceKnown ? 0 : 1,
      };
      const multi = redis.multi();
      for (const key of [keys.day(entry.day), keys.month(entry.month)]) {
        for (const field of totalsFields) {
          multi.hincrby(key, field, increments[field]);
        }
      }
      for (const field of totalsFields) {
        multi.hincrby(keys.dayBy(entry.day), JSON.stringify([entry.component, entry.model, field]), increments[field]);
      }
      multi
        .expire(keys.day(entry.day), options.dayTtlSeconds)
        .expire(keys.dayBy(entry.day), options.dayTtlSeconds)
        .expire(keys.month(entry.month), options.monthTtlSeconds);
      const replies = await execAll(multi);
      // The first reply of each key's block is its nanoUsd after the increment.
      return {
        dayUsd: fromNanoUsd(parseFrom(counter, replies[0], 'day spend')),
        monthUsd: fromNanoUsd(parseFrom(counter, replies[totalsFields.length], 'month spend')),
      };
    },
    async readSpend(day, month) {
      const [dayNano, monthNano] = await Promise.all([redis.hget(keys.day(day), 'nanoUsd'), redis.hget(keys.month(month), 'nanoUsd')]);
      return { dayUsd: nanoOf(dayNano, `spend of ${day}`), monthUsd: nanoOf(monthNano, `spend of ${month}`) };
    },
    async readDay(day) {
      const [totals, byFields] = await Promise.all([redis.hgetall(keys.day(day)), redis.hgetall(keys.dayBy(day))]);
      const rows = new Map<string, { component: string; model: string; fields: Partial<Record<TotalsField, string>> }>();
      for (const [field, value] of Object.entries(byFields)) {
        const parsed = breakdownField.safeParse(jsonOrUndefined(field));
        if (!parsed.success) {
          continue; // not a field this store writes
        }
        const [component, model, total] = parsed.data;
        const id = JSON.stringify([component, model]);
        const row = rows.get(id) ?? { component, model, fields: {} };
        row.fields[total] = value;
        rows.set(id, row);
      }
      return {
        day,
        totals: parseFrom(totalsHash, totals, `spend of ${day}`),
        rows: [...rows.values()]
          .map((row) => ({ component: row.component, model: row.model, ...parseFrom(totalsHash, row.fields, `spend of ${day} by ${row.component}`) }))
          .sort((a, b) => b.costUsd - a.costUsd || a.component.localeCompare(b.component) || a.model.localeCompare(b.model)),
      };
    },
    async readMonth(month) {
      return parseFrom(totalsHash, await redis.hgetall(keys.month(month)), `spend of ${month}`);
    },
    async markAlert(alert) {
      const key = keys.alerts(alert.period, alert.periodId);
      const replies = await execAll(
        redis
          .multi()
          .hsetnx(key, String(alert.thresholdPct), JSON.stringify(alert))
          .expire(key, alert.period === 'day' ? options.dayTtlSeconds : options.monthTtlSeconds),
      );
      return replies[0] === 1;
    },
    async listAlerts(period, periodId) {
      const h = await redis.hgetall(keys.alerts(period, periodId));
      const alerts: BudgetAlert[] = [];
      for (const value of Object.values(h)) {
        const parsed = alertSchema.safeParse(jsonOrUndefined(value));
        if (parsed.success) {
          alerts.push(parsed.data);
        }
      }
      return alerts.sort((a, b) => a.thresholdPct - b.thresholdPct);
    },
  };
}
