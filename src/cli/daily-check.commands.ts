/** `daily-check`: the runbook's morning check in one command, with a pass/fail verdict. */
import type { Command } from 'commander';
import type { AlertView } from './alerts.commands.js';
import { example, exitCodes, type Act, type Context } from './context.js';
import { judgeDaily, defaultThresholds, type ActivitiesAnswer, type AuditsAnswer, type DailyResult, type PerformanceAnswer, type Read, type RoutingAnswer } from './daily-check.js';
import { admin, CliUsageError, ServiceError, type Client } from './http.js';
import type { InsightsAnswer } from './meta-monitor.commands.js';
import { table, type Style } from './output.js';
import type { HealthAnswer, StatusAnswer } from './support-mode.commands.js';

/** One read; a refusal of the service becomes the check's reason, an unreachable service stops the command. */
async function read<T>(client: Client, path: string, options: Parameters<Client['get']>[1] = {}): Promise<Read<T>> {
  try {
    return { ok: true, body: (await client.get<T>(path, options)).body };
  } catch (err) {
    if (err instanceof ServiceError) {
      return { ok: false, error: err.message, status: err.status };
    }
    throw err;
  }
}

const steps = { 1: 'support mode health', 2: 'overnight activity', 3: 'performance' } as const;

function render(r: DailyResult, style: Style): string {
  const verdict = r.verdict === 'pass' ? style.paint('PASS', 'green') : style.paint('FAIL', 'red');
  let text = `Morning support mode check, ${r.checkedAt}\n\n`;
  text += table(
    ['step', 'check', 'verdict', 'detail'],
    r.checks.map((c) => [`${c.step} ${steps[c.step]}`, c.id, style.status(c.verdict), c.detail]),
    style,
  );
  text += `\n${verdict}: ${r.checks.filter((c) => c.verdict === 'pass').length} passed, ${r.warnings.length} warning(s), ${r.reasons.length} failed\n`;
  for (const reason of r.reasons) {
    text += `  - ${reason}\n`;
  }
  return text;
}

function percentOption(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 100) {
    throw new CliUsageError(`${name} must be a percent 0-100, got "${raw}"`);
  }
  return n;
}

export function registerDailyCheck(program: Command, ctx: Context, act: Act): void {
  example(
    program
      .command('daily-check')
      .description(
        "the runbook's Morning Support Mode Check (08:15 UTC) in one command: support-mode status and component health; the last 24 h's audits, meta-monitor insights and implementation activities; operation error rates and latencies, routing efficiency and firing alerts against their thresholds. Prints a pass/fail summary with the reasons; exit 1 on fail (warnings do not fail)",
      )
      .option('--routing-fail <percent>', 'routing efficiency below this fails (runbook P1)', String(defaultThresholds.routingFailPct))
      .option('--routing-warn <percent>', 'routing efficiency below this warns (runbook P2)', String(defaultThresholds.routingWarnPct))
      .option('--max-error-rate <percent>', "an operation's 24 h error rate above this fails", String(defaultThresholds.errorRatePct))
      .option('--max-p95 <ms>', "an operation's 24 h p95 latency above this fails (default: not judged)")
      .action(
        act(async (o: { routingFail: string; routingWarn: string; maxErrorRate: string; maxP95?: string }, cmd: Command) => {
          const maxP95 = o.maxP95 === undefined ? null : Number(o.maxP95);
          if (maxP95 !== null && (!Number.isFinite(maxP95) || maxP95 <= 0)) {
            throw new CliUsageError(`--max-p95 must be a number of milliseconds, got "${o.maxP95}"`);
          }
          const thresholds = { routingFailPct: percentOption('--routing-fail', o.routingFail), routingWarnPct: percentOption('--routing-warn', o.routingWarn), errorRatePct: percentOption('--max-error-rate', o.maxErrorRate), maxP95Ms: maxP95 };
          const client = await ctx.client(cmd);
          const [status, health, audits, insights, activities, performance, routing, alerts] = await Promise.all([
            read<StatusAnswer>(client, `${admin}/status`),
            read<HealthAnswer>(client, '/health/bedrock-support/detailed', { accept: [503] }),
            read<AuditsAnswer>(client, `${admin}/audits/last-24h`),
            read<InsightsAnswer>(client, `${admin}/meta-monitor/insights`),
            read<ActivitiesAnswer>(client, `${admin}/implementation/activities`, { query: { since: '24h' } }),
            read<PerformanceAnswer>(client, `${admin}/metrics/performance`, { query: { window: '24h' } }),
            read<RoutingAnswer>(client, `${admin}/routing/efficiency`, { query: { window: '24h' } }),
            read<{ alerts: AlertView[] }>(client, `${admin}/alerts`, { query: { state: 'firing' } }),
          ]);
          const result = judgeDaily({ now: new Date(), status, health, audits, insights, activities, performance, routing, alerts }, thresholds);
          ctx.emit(cmd, result, () => render(result, ctx.style));
          return result.verdict === 'pass' ? exitCodes.ok : exitCodes.failed;
        }),
      ),
    'bsm daily-check',
    'bsm daily-check --max-p95 5000 --json | jq -r ".reasons[]"',
  );
}
