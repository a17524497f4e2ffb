import { costDayRetentionDays, type BudgetAlert, type CostStore, type DaySpend, type SpendTotals } from './ports.js';
import type { LlmPath, TokenUsage } from './types.js';

export type { BudgetAlert } from './ports.js';

/** Price of a model in USD per 1 000 tokens. */
export interface ModelPrice {
  inputPer1k: number;
  outputPer1k: number;
}

/** Known prices, by model id as the provider reports it. */
export const defaultPriceTable: Readonly<Record<string, ModelPrice>> = Object.freeze({
  'anthropic.claude-3-sonnet-20240229-v1:0': { inputPer1k: 0.003, outputPer1k: 0.015 },
});

/** The cost of one call. `priceKnown` is false when the model was not in the price table. */
export interface PricedCall {
  costUsd: number;
  priceKnown: boolean;
}

export interface PricingSettings {
  prices: Readonly<Record<string, ModelPrice>>;
  /** Price charged for a `direct` call to a model missing from the table. */
  unknownModelPrice: ModelPrice;
}

// Bedrock cross-region inference profiles prefix the model id (`eu.anthropic...`): same price.
const inferenceProfilePrefix = /^(?:eu|us|us-gov|apac|global)\./;

/** The table's price of `model` (an inference-profile prefix such as `eu.` is ignored); undefined when unknown. */
export function priceOf(model: string, prices: Readonly<Record<string, ModelPrice>>): ModelPrice | undefined {
  return prices[model] ?? prices[model.replace(inferenceProfilePrefix, '')];
}

/**
 * Whether calls on `path` to `model` are spend this budget pays for, and so stop when it is used
 * up: `direct` always (we pay Bedrock); `mcp` when its model has a price in the table.
 */
export function isPaidPath(path: LlmPath, model: string, pricing: PricingSettings): boolean {
  switch (path) {
    case 'local':
      return false;
    case 'direct':
      return true;
    case 'mcp':
      return priceOf(model, pricing.prices) !== undefined;
  }
}

/**
 * Prices one call from its token usage.
 * - `local` is free.
 * - A model in the table is priced from it (an inference-profile prefix such as `eu.` is ignored).
 * - An unknown `direct` model is charged `unknownModelPrice` (we pay Bedrock, so never count it as free).
 * - An unknown `mcp` model costs 0: the MCP server is operator-run and bills elsewhere, so we do not guess.
 * Both unknown cases return `priceKnown: false`.
 */
export function priceCall(path: LlmPath, model: string, usage: TokenUsage, pricing: PricingSettings): PricedCall {
  if (path === 'local') {
    return { costUsd: 0, priceKnown: true };
  }
  const price = priceOf(model, pricing.prices);
  if (price) {
    return { costUsd: costOf(usage, price), priceKnown: true };
  }
  switch (path) {
    case 'direct':
      return { costUsd: costOf(usage, pricing.unknownModelPrice), priceKnown: false };
    case 'mcp':
      return { costUsd: 0, priceKnown: false };
  }
}

function costOf(usage: TokenUsage, price: ModelPrice): number {
  return (usage.inputTokens / 1000) * price.inputPer1k + (usage.outputTokens / 1000) * price.outputPer1k;
}

/** `YYYY-MM-DD` of an instant, in UTC. */
export function utcDay(at: number): string {
  return new Date(at).toISOString().slice(0, 10);
}

/** `YYYY-MM` of an instant, in UTC. */
export function utcMonth(at: number): string {
  return new Date(at).toISOString().slice(0, 7);
}

export interface BudgetSettings {
  /** Daily budget in USD (UTC day); 0 or undefined = unlimited. */
  dailyUsd?: number;
  /** Monthly budget in USD (UTC month); 0 or undefined = unlimited. */
  monthlyUsd?: number;
  /** Percentages of a budget whose crossing records an alert. Default 50, 75, 90, 100. */
  alertThresholdsPct?: readonly number[];
  /** Price table; default {@link defaultPriceTable}. */
  prices?: Readonly<Record<string, ModelPrice>>;
  /** Price of an unknown `direct` model; default the Claude 3 Sonnet price. */
  unknownModelPrice?: ModelPrice;
}

/** Spend against one budget. */
export interface PeriodStatus {
  period: 'day' | 'month';
  /** `YYYY-MM-DD` or `YYYY-MM`, UTC. */
  id: string;
  spentUsd: number;
  /** null = unlimited. */
  budgetUsd: number | null;
  /** Spent as a percentage of the budget; null when unlimited. */
  usedPct: number | null;
  exhausted: boolean;
}

export interface BudgetStatus {
  /** ISO 8601, UTC. */
  at: string;
  day: PeriodStatus;
  month: PeriodStatus;
  /** True when a budget is used up: the paid paths are refused (see {@link isPaidPath}). */
  exhausted: boolean;
  /** Why the paid path is refused, as a sentence; null when it is not. */
  reason: string | null;
}

/** One remote call to account for. */
export interface SpendInput {
  component: string;
  path: LlmPath;
  model: string;
  usage: TokenUsage;
  costUsd: number;
  priceKnown: boolean;
}

/** What `/admin/bedrock-support/costs` shows. */
export interface CostReport {
  /** ISO 8601, UTC. */
  generatedAt: string;
  status: BudgetStatus;
  /** The current month's totals. */
  month: SpendTotals & { month: string };
  /** The last `days` UTC days, newest first, each with its component x model rows. */
  days: DaySpend[];
  /** Alerts recorded for the current day and month. */
  /** Thresholds crossed this day and month; `at` in ISO 8601. */
  alerts: (Omit<BudgetAlert, 'at'> & { at: string })[];
  prices: Readonly<Record<string, ModelPrice>>;
  unknownModelPrice: ModelPrice;
}

export interface Budget {
  readonly pricing: PricingSettings;
  price(path: LlmPath, model: string, usage: TokenUsage): PricedCall;
  /** Current spend against the daily and monthly budgets. */
  status(): Promise<BudgetStatus>;
  /** Adds a call's spend (remote paths only; `local` is free and not recorded) and returns alerts new in this call. */
  record(spend: SpendInput): Promise<BudgetAlert[]>;
  report(options?: { days?: number }): Promise<CostReport>;
}

export interface BudgetOptions {
  store: CostStore;
  settings?: BudgetSettings;
  /** Epoch milliseconds; default `Date.now`. */
  clock?: () => number;
  /** Called once for each newly crossed threshold (hand it to the alerting component). */
  onAlert?: (alert: BudgetAlert) => void;
}

const DAY_MS = 86_400_000;

function limit(value: number | undefined): number | null {
  return value !== undefined && value > 0 ? value : null;
}

function periodStatus(period: 'day' | 'month', id: string, spentUsd: number, budgetUsd: number | null): PeriodStatus {
  return {
    period,
    id,
    spentUsd,
    budgetUsd,
    usedPct: budgetUsd === null ? null : (spentUsd / budgetUsd) * 100,
    exhausted: budgetUsd !== null && spentUsd >= budgetUsd,
  };
}

function usd(value: number): string {
  return `$${value.toFixed(4)}`;
}

export function createBudget(options: BudgetOptions): Budget {
  const settings = options.settings ?? {};
  const clock = options.clock ?? Date.now;
  const { store, onAlert } = options;
  const dailyUsd = limit(settings.dailyUsd);
  const monthlyUsd = limit(settings.monthlyUsd);
  const thresholds = [...(settings.alertThresholdsPct ?? [50, 75, 90, 100])].sort((a, b) => a - b);
  const pricing: PricingSettings = {
    prices: settings.prices ?? defaultPriceTable,
    unknownModelPrice: settings.unknownModelPrice ?? { inputPer1k: 0.003, outputPer1k: 0.015 },
  };

  function statusOf(at: number, dayUsd: number, monthUsd: number): BudgetStatus {
    const day = periodStatus('day', utcDay(at), dayUsd, dailyUsd);
    const month = periodStatus('month', utcMonth(at), monthUsd, monthlyUsd);
    const reasons: string[] = [];
    for (const p of [day, month]) {
      if (p.exhausted && p.budgetUsd !== null) {
        reasons.push(
          `the ${p.period === 'day' ? 'daily' : 'monthly'} LLM budget is exhausted ` +
            `(${usd(p.spentUsd)} spent of ${usd(p.budgetUsd)} for ${p.id} UTC)`,
        );
      }
    }
    return { at: new Date(at).toISOString(), day, month, exhausted: reasons.length > 0, reason: reasons.length > 0 ? reasons.join('; ') : null };
  }

  async function status(): Promise<BudgetStatus> {
    const at = clock();
    const spend = await store.readSpend(utcDay(at), utcMonth(at));
    return statusOf(at, spend.dayUsd, spend.monthUsd);
  }

  return {
    pricing,
    price(path, model, usage) {
      return priceCall(path, model, usage, pricing);
    },
    status,
    async record(spend) {
      if (spend.path === 'local') {
        return [];
      }
      const at = clock();
      const day = utcDay(at);
      const month = utcMonth(at);
      const totals = await store.addSpend({
        day,
        month,
        component: spend.component,
        model: spend.model,
        path: spend.path,
        costUsd: spend.costUsd,
        priceKnown: spend.priceKnown,
        inputTokens: spend.usage.inputTokens,
        outputTokens: spend.usage.outputTokens,
      });
      const candidates: BudgetAlert[] = [];
      for (const [period, periodId, spentUsd, budgetUsd] of [
        ['day', day, totals.dayUsd, dailyUsd],
        ['month', month, totals.monthUsd, monthlyUsd],
      ] as const) {
        if (budgetUsd === null) {
          continue;
        }
        for (const thresholdPct of thresholds) {
          // Every crossed threshold is offered; the store keeps only the first per period.
          // The epsilon keeps float rounding (90 * 0.1 = 9.000000000000002) from hiding a crossing.
          if (spentUsd * 100 >= thresholdPct * budgetUsd - 1e-9) {
            candidates.push({ period, periodId, thresholdPct, spentUsd, budgetUsd, at });
          }
        }
      }
      const fresh: BudgetAlert[] = [];
      const marked = await Promise.all(candidates.map((alert) => store.markAlert(alert)));
      candidates.forEach((alert, i) => {
        if (marked[i] === true) {
          fresh.push(alert);
          onAlert?.(alert);
        }
      });
      return fresh;
    },
    async report(reportOptions = {}) {
      const days = Math.max(1, Math.min(reportOptions.days ?? 7, costDayRetentionDays));
      const at = clock();
      const month = utcMonth(at);
      const [current, monthTotals, dayList, dayAlerts, monthAlerts] = await Promise.all([
        status(),
        store.readMonth(month),
        Promise.all(Array.from({ length: days }, (_, i) => store.readDay(utcDay(at - i * DAY_MS)))),
        store.listAlerts('day', utcDay(at)),
        store.listAlerts('month', month),
      ]);
      return {
        generatedAt: new Date(at).toISOString(),
        status: current,
        month: { month, ...monthTotals },
        days: dayList,
        alerts: [...dayAlerts, ...monthAlerts].map((a) => ({ ...a, at: new Date(a.at).toISOString() })),
        prices: pricing.prices,
        unknownModelPrice: pricing.unknownModelPrice,
      };
    },
  };
}
