/** Alerts: `alerts` lists them, `alerts ack ID` acknowledges one. */
import { Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin } from './http.js';
import { table } from './output.js';

/** One alert as the API answers it. */
export interface AlertView {
  id: string;
  rule: string;
  subject: string;
  level: string;
  state: string;
  title: string;
  detail: string;
  firedAt: string;
  lastSeenAt: string;
  firings: number;
  acknowledged: { by: string; at: string; note: string | null } | null;
  resolvedAt: string | null;
}

export function registerAlerts(program: Command, ctx: Context, act: Act): void {
  const alerts = example(
    program
      .command('alerts')
      .description('the alerts the evaluation keeps, newest first (GET …/alerts); `alerts ack ID` acknowledges one')
      .addOption(new Option('--state <state>', 'only alerts in this state').choices(['firing', 'acknowledged', 'resolved']))
      .addOption(new Option('--level <level>', 'only alerts of this level').choices(['P0', 'P1', 'P2']))
      .action(
        act(async (o: { state?: string; level?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).get<{ alerts: AlertView[]; counts: { firing: number; acknowledged: number; resolved: number } }>(`${admin}/alerts`, { query: { state: o.state, level: o.level } });
          ctx.emit(cmd, body, () => {
            const head = `${body.counts.firing} firing, ${body.counts.acknowledged} acknowledged, ${body.counts.resolved} resolved\n`;
            return body.alerts.length === 0
              ? head
              : `${head}\n${table(['alert', 'level', 'state', 'fired', 'firings', 'title'], body.alerts.map((a) => [a.id, ctx.style.status(a.level), ctx.style.status(a.state), a.firedAt, a.firings, a.title]), ctx.style)}`;
          });
          return exitCodes.ok;
        }),
      ),
    'bsm alerts --state firing',
    'bsm alerts ack alert-3f2a9c0d1b7e4a55 --note "looking into it"',
  );

  example(
    alerts
      .command('ack')
      .description('acknowledge a firing alert: it stays open until its condition ends and is not escalated (POST …/alerts/{id}/ack)')
      .argument('<id>', 'the alert id (alert-…)')
      .option('--note <text>', 'a note (redacted before it is stored)')
      .action(
        act(async (id: string, o: { note?: string }, cmd: Command) => {
          const { body } = await (await ctx.client(cmd)).post<AlertView>(`${admin}/alerts/${encodeURIComponent(id)}/ack`, { body: o.note ? { note: o.note } : {} });
          ctx.emit(cmd, body, () => `${body.id} ${ctx.style.status(body.state)} by ${body.acknowledged?.by ?? '-'}: ${body.title}\n`);
          return exitCodes.ok;
        }),
      ),
    'bsm alerts ack alert-3f2a9c0d1b7e4a55 --note "looking into it"',
  );
}
