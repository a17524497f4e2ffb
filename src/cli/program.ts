/**
 * The operator CLI: `bsm <command>` against a running service over HTTP (the control API).
 * main.ts sends here every first word in `cliCommands` (`cli/words.ts`); roles and the offline commands stay
 * with `runtime/invocation.ts`.
 */
import { Command, CommanderError, Option } from 'commander';
import { registerAlerts } from './alerts.commands.js';
import { registerAudit } from './audit.commands.js';
import { registerCompliance, type OfflineTrailVerify } from './compliance.commands.js';
import { createContext, exitCodes, type Act, type Context } from './context.js';
import { registerDailyCheck } from './daily-check.commands.js';
import { CliUsageError, CommandError, ServiceError, UnreachableError } from './http.js';
import { registerImplementation } from './implementation.commands.js';
import { registerMetaMonitor } from './meta-monitor.commands.js';
import { registerReport } from './report.commands.js';
import type { Io } from './output.js';
import { registerSupportMode } from './support-mode.commands.js';
import { WaitTimeoutError } from './wait.js';

export { cliCommands, isCliInvocation } from './words.js';

export interface CliDeps {
  io: Io;
  /** `bsm trail verify --archive DIR`: the offline verification, given the raw arguments after `trail`. */
  offlineTrailVerify: OfflineTrailVerify;
}

function buildProgram(ctx: Context, act: Act, deps: CliDeps): Command {
  const program = new Command('bsm');
  program
    .description('Bedrock Support Mode: operator commands against a running service. The roles that run one (api, worker, scheduler, all) and `bsm cloudwatch dashboards`: `bsm --help`')
    .addOption(new Option('--url <url>', 'the service (default http://127.0.0.1:3000)').env('BSM_URL'))
    .addOption(new Option('--token <token>', "an API key's bearer token (default: the admin token file of a local service, BSM_DATA_DIR/admin-token)").env('BSM_TOKEN'))
    .option('--json', 'print the answer as JSON, for scripts')
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => deps.io.stdout.write(text),
      writeErr: (text) => deps.io.stderr.write(text),
      outputError: (text, write) => write(text.startsWith('error: ') ? `bsm: ${text.slice('error: '.length)}` : text),
    })
    .addHelpText(
      'after',
      `
Exit codes: 0 ok; 1 the check failed or the service refused the command (its error.message is printed); 2 usage; 3 the service cannot be reached.

Examples:
  $ bsm status
  $ bsm activate infrastructure-auditor --reason "Initial activation"
  $ bsm audit trigger --wait
  $ bsm daily-check --json | jq .verdict
`,
    );
  registerSupportMode(program, ctx, act);
  registerAudit(program, ctx, act);
  registerMetaMonitor(program, ctx, act);
  registerImplementation(program, ctx, act);
  registerCompliance(program, ctx, act, deps.offlineTrailVerify);
  registerAlerts(program, ctx, act);
  registerDailyCheck(program, ctx, act);
  registerReport(program, ctx, act);
  return program;
}

/** Runs `bsm <command> …` (argv without the node and script paths); resolves to the exit code. */
export async function runCli(argv: string[], deps: CliDeps): Promise<number> {
  const ctx = createContext(deps.io);
  let code: number = exitCodes.ok;
  const act: Act =
    (fn) =>
    async (...args) => {
      code = await fn(...args);
    };
  const program = buildProgram(ctx, act, deps);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    const fail = (message: string, exit: number) => {
      deps.io.stderr.write(`bsm: ${message}\n`);
      return exit;
    };
    if (err instanceof CommanderError) {
      // Help and version are answers (`bsm help` too: commander.help with exit code 0); every other
      // parse error, and the help shown for a command group called without its subcommand, is a usage error.
      const answered = err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || (err.code === 'commander.help' && err.exitCode === 0);
      return answered ? exitCodes.ok : exitCodes.usage;
    }
    if (err instanceof CliUsageError) {
      return fail(err.message, exitCodes.usage);
    }
    if (err instanceof UnreachableError) {
      return fail(err.message, exitCodes.unreachable);
    }
    if (err instanceof ServiceError) {
      return fail(`${err.message} (${err.status} ${err.code})`, exitCodes.failed);
    }
    if (err instanceof WaitTimeoutError || err instanceof CommandError) {
      return fail(err.message, exitCodes.failed);
    }
    throw err;
  }
}
