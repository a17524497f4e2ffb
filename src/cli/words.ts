/**
 * The first words of the operator CLI, apart from the program: main.ts reads them to decide, before
 * it imports anything else, whether `bsm <argv>` is an operator command (`cli/program.ts`).
 */

/** The first words `bsm` hands to this CLI (another helper's `mcp` joins the roles' side, not this list). */
export const cliCommands = [
  'status',
  'health',
  'enable',
  'activate',
  'deactivate',
  'shutdown',
  'flags',
  'audit',
  'analyze',
  'insights',
  'recommendations',
  'optimize',
  'gaps',
  'remediate',
  'approve',
  'reject',
  'backlog',
  'compliance',
  'trail',
  'alerts',
  'daily-check',
  'report',
  'help',
] as const;

/** Whether `bsm <argv>` is an operator command: its first word after the global options (`--url U`, `--token T`, `--json`) is one. */
export function isCliInvocation(argv: readonly string[]): boolean {
  let i = 0;
  while (i < argv.length) {
    const arg = argv[i] ?? '';
    if (arg === '--url' || arg === '--token') {
      i += 2;
    } else if (arg === '--json' || arg.startsWith('--url=') || arg.startsWith('--token=')) {
      i += 1;
    } else {
      break;
    }
  }
  const word = argv[i];
  return word !== undefined && (cliCommands as readonly string[]).includes(word);
}
