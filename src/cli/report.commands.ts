/**
 * `report daily|weekly`: the stored daily check and weekly review, as the issue names their routes
 * (`GET …/reports/{daily|weekly}/latest`, `…/reports/{kind}/{id}`, `?format=json|markdown|html`).
 * Those routes come with the reports work; until a service has them, this command prints the
 * service's 404.
 */
import { writeFile } from 'node:fs/promises';
import { Argument, Option, type Command } from 'commander';
import { example, exitCodes, type Act, type Context } from './context.js';
import { admin, CommandError } from './http.js';

export function registerReport(program: Command, ctx: Context, act: Act): void {
  example(
    program
      .command('report')
      .description('the stored daily check or weekly review: the latest, or one by id (GET …/reports/{kind}/latest, …/reports/{kind}/{id}); Markdown for people, JSON with --json')
      .addArgument(new Argument('<kind>', 'which report').choices(['daily', 'weekly']))
      .argument('[id]', 'a report id (default: the latest)')
      .addOption(new Option('--format <format>', 'the format to fetch (default: markdown, or json with --json)').choices(['json', 'markdown', 'html']))
      .option('--output <file>', 'write it to a file instead of stdout')
      .action(
        act(async (kind: string, id: string | undefined, o: { format?: string; output?: string }, cmd: Command) => {
          const format = o.format ?? (ctx.json(cmd) ? 'json' : 'markdown');
          const path = `${admin}/reports/${kind}/${id === undefined ? 'latest' : encodeURIComponent(id)}`;
          const { body } = await (await ctx.client(cmd)).text(path, { query: { format } });
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
    'bsm report daily --format html --output daily.html',
  );
}
