/**
 * `report daily|weekly`: the stored daily check and weekly review (`GET …/reports/{kind}/latest`,
 * `…/reports/{kind}/{id}`, `?format=json|markdown|html`); `--run` makes one first.
 */
import { writeFile } from 'node:fs/promises';
import { Argument, Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin, CliUsageError, CommandError } from './http.js';
import { follow, timeoutMs } from './wait.js';

export function registerReport(program: Command, ctx: Context, act: Act): void {
  example(
    program
      .command('report')
      .description('the stored daily check or weekly review: the latest, or one by id (GET …/reports/{kind}/latest, …/reports/{kind}/{id}); Markdown for people, JSON with --json')
      .addArgument(new Argument('<kind>', 'which report').choices(['daily', 'weekly']))
      .argument('[id]', 'a report id (default: the latest)')
      .addOption(new Option('--format <format>', 'the format to fetch (default: markdown, or json with --json)').choices(['json', 'markdown', 'html']))
      .option('--output <file>', 'write it to a file instead of stdout')
      .option('--run', 'run the check or review now (POST …/reports/{kind}), wait for it, then print it')
      .option('--timeout <seconds>', 'with --run: give up waiting after this long', '600')
      .action(
        act(async (kind: string, id: string | undefined, o: { format?: string; output?: string; run?: boolean; timeout: string }, cmd: Command) => {
          const format = o.format ?? (ctx.json(cmd) ? 'json' : 'markdown');
          const client = await ctx.client(cmd);
          let reportId = id;
          if (o.run === true) {
            if (id !== undefined) {
              throw new CliUsageError('--run makes a new report: give no id with it');
            }
            const limit = timeoutMs(o.timeout);
            const { body: queued } = await client.post<{ reportId: string }>(`${admin}/reports/${kind}`);
            // 202 while it is queued or running, 200 once it is stored.
            reportId = await follow(
              `${kind} report ${queued.reportId}`,
              ctx.io,
              async () => {
                const { status, body } = await client.get<{ state?: string; progress?: { percent: number } }>(`${admin}/reports/${kind}/${encodeURIComponent(queued.reportId)}`, { accept: [202] });
                return status === 200 ? { done: queued.reportId } : { percent: body.progress?.percent ?? 0, state: body.state ?? 'queued' };
              },
              { timeoutMs: limit },
            );
          }
          const path = `${admin}/reports/${kind}/${reportId === undefined ? 'latest' : encodeURIComponent(reportId)}`;
          const { body } = await client.text(path, { query: { format } });
          if (o.output === undefined) {
            ctx.print(body.endsWith('\n') ? body : `${body}\n`);
            return exitCodes.ok;
          }
          await writeFile(o.output, body).catch((err: NodeJS.ErrnoException) => {
            throw new CommandError(`cannot write ${o.output}: ${err.code ?? err.message}`);
          });
          ctx.print(`wrote the ${kind} report (${format}) to ${o.output}\n`);
          return exitCodes.ok;
        }),
      ),
    'bsm report weekly',
    'bsm report daily --run',
    'bsm report daily --format html --output daily.html',
  );
}
