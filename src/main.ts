#!/usr/bin/env node
/**
 * `bsm`: the one program. It reads the first words, then imports only what that command needs:
 * the operator CLI (`cli/program.ts`, HTTP only), `bsm mcp` (`runtime/mcp-cli.ts`), the offline
 * `bsm trail verify --archive` (`runtime/trail-cli.ts`), `bsm cloudwatch dashboards`
 * (`runtime/cloudwatch.ts`), or the roles `api`, `worker`, `scheduler`, `all` (default;
 * `runtime/serve.ts`, the composition root with `runtime/compose.ts`). Nothing heavy is imported
 * here: a CLI call does not load Redis, BullMQ, Hono or the AWS SDKs.
 */
import { isCliInvocation } from './cli/words.js';
import { parseInvocation, parseMcpInvocation, parseTrailInvocation, usage, UsageError } from './runtime/invocation.js';

/** A known problem: its one line and exit code (runtime/problems.ts); anything else is rethrown with its stack. */
async function exitOnProblem(err: unknown): Promise<never> {
  const code = err instanceof UsageError ? 2 : (await import('./runtime/problems.js')).problemExitCode(err);
  if (code === null) {
    throw err;
  }
  process.stderr.write(`bsm: ${(err as Error).message}\n`);
  process.exit(code);
}

try {
  const argv = process.argv.slice(2);
  if (isCliInvocation(argv)) {
    // The operator CLI (src/cli/): HTTP to a running service, no settings read. `trail verify
    // --archive DIR` stays offline: no Redis, no settings; the archive and the public keys alone.
    const offlineTrailVerify = async (args: string[]) => {
      const trail = parseTrailInvocation(args);
      if (trail === null) {
        return 0;
      }
      const { runTrailVerify } = await import('./runtime/trail-cli.js');
      return runTrailVerify(trail, (text) => process.stdout.write(text));
    };
    const { runCli } = await import('./cli/program.js');
    process.exit(await runCli(argv, { io: { stdout: process.stdout, stderr: process.stderr, env: process.env }, offlineTrailVerify }));
  }
  if (argv[0] === 'mcp') {
    // Standard output is the protocol: help goes to stderr, and nothing else is written but MCP.
    if (!parseMcpInvocation(argv.slice(1))) {
      process.stderr.write(usage);
      process.exit(0);
    }
    const [{ runMcpStdio }, { loadConfig }] = await Promise.all([import('./runtime/mcp-cli.js'), import('./config.js')]);
    await runMcpStdio(loadConfig());
    process.exit(0);
  }
  const invocation = parseInvocation(argv);
  if (invocation === null) {
    process.stdout.write(usage);
    process.exit(0);
  }
  if ('command' in invocation) {
    const [{ dashboardsCommand }, { loadConfig }, { createLogger }] = await Promise.all([import('./runtime/cloudwatch.js'), import('./config.js'), import('./observability/logger.js')]);
    const config = loadConfig();
    await dashboardsCommand(config, createLogger(config.LOG_LEVEL, { role: 'cli' }), (text) => process.stdout.write(text));
  } else {
    const { serve } = await import('./runtime/serve.js');
    await serve(invocation);
  }
} catch (err) {
  await exitOnProblem(err);
}
