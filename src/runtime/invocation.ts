import { parseArgs } from 'node:util';
import { isQueueName, queueNames, type QueueName } from '../domain/queue-names.js';

export const roles = ['api', 'worker', 'scheduler', 'all'] as const;
export type Role = (typeof roles)[number];

/** A problem with how the program was called or configured: printed as one line, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface Invocation {
  role: Role;
  queues: QueueName[];
}

/** A one-off command instead of a role: `bsm cloudwatch dashboards`. */
export interface CommandInvocation {
  command: 'cloudwatch-dashboards';
}

/** `bsm trail verify`: an archive verified offline, with the public keys given (or those it publishes). */
export interface TrailVerifyInvocation {
  command: 'trail-verify';
  /** The archive: a directory (a path, or a file:// URL), or s3://bucket/prefix. */
  archive: string;
  /** PEM files of the public keys to trust; none: the keys the archive publishes. */
  publicKeys: string[];
}

/** `bsm trail verify --archive DIR [--public-key FILE]…`; `null` when help was asked for. */
export function parseTrailInvocation(argv: string[]): TrailVerifyInvocation | null {
  const { positionals, values } = usageOf(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { archive: { type: 'string' }, 'public-key': { type: 'string', multiple: true }, help: { type: 'boolean', short: 'h' } },
    }),
  );
  if (values.help) {
    return null;
  }
  if (positionals[0] !== 'verify' || positionals.length > 1) {
    throw new UsageError(`unknown trail command "${positionals.join(' ')}": expected \`bsm trail verify --archive DIR [--public-key FILE]\``);
  }
  if (values.archive === undefined || values.archive.trim() === '') {
    throw new UsageError('bsm trail verify needs --archive DIR: the archive directory (BSM_ARCHIVE_URL\'s path)');
  }
  return { command: 'trail-verify', archive: values.archive, publicKeys: values['public-key'] ?? [] };
}

/** `bsm mcp`: no arguments (BSM_URL and BSM_TOKEN say where and as whom); false when help was asked for. */
export function parseMcpInvocation(argv: string[]): boolean {
  const { positionals, values } = usageOf(() => parseArgs({ args: argv, allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } }));
  if (values.help) {
    return false;
  }
  if (positionals.length > 0) {
    throw new UsageError(`bsm mcp takes no arguments, got "${positionals.join(' ')}": BSM_URL and BSM_TOKEN say which service and which key`);
  }
  return true;
}

export const usage =
  'usage: bsm [api|worker|scheduler|all] [--queues q1,q2]\n       bsm cloudwatch dashboards   create or update the two CloudWatch dashboards, then exit\n       bsm trail verify --archive DIR [--public-key FILE ...]\n       bsm mcp                     the MCP tools over stdio, proxied to the service at BSM_URL with BSM_TOKEN\n' +
  '       bsm <command> [options]     operator commands against a running service (status, activate, audit trigger --wait, daily-check, …): `bsm help`\n';

/** `bsm <role> [--queues …]` or `bsm cloudwatch dashboards`; `null` when help was asked for. */
export function parseInvocation(argv: string[]): Invocation | CommandInvocation | null {
  const { positionals, values } = usageOf(() =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { queues: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }),
  );
  if (values.help) {
    return null;
  }
  if (positionals[0] === 'cloudwatch') {
    if (positionals[1] !== 'dashboards' || positionals.length > 2 || values.queues !== undefined) {
      throw new UsageError(`unknown command "bsm ${argv.join(' ')}": the cloudwatch command is \`bsm cloudwatch dashboards\``);
    }
    return { command: 'cloudwatch-dashboards' };
  }
  const role = (positionals[0] ?? 'all') as Role;
  if (!roles.includes(role)) {
    throw new UsageError(`unknown role "${positionals[0]}": expected one of ${roles.join(', ')}, the command \`cloudwatch dashboards\`, or an operator command (\`bsm help\` lists them)`);
  }
  let queues: QueueName[] = [...queueNames];
  if (values.queues !== undefined) {
    const names = values.queues
      .split(',')
      .map((q) => q.trim())
      .filter(Boolean);
    const unknown = names.filter((q) => !isQueueName(q));
    if (unknown.length > 0 || names.length === 0) {
      throw new UsageError(`--queues must name queues among ${queueNames.join(', ')}, got "${values.queues}"`);
    }
    queues = names as QueueName[];
  }
  return { role, queues };
}

/** `parseArgs`, with an unknown option or a missing value as a UsageError (one line, exit 2) instead of a stack. */
function usageOf<R>(parse: () => R): R {
  try {
    return parse();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS_')) {
      throw new UsageError((err as Error).message);
    }
    throw err;
  }
}

/** Whether a process of `role` runs `part`. */
export function runs(role: Role, part: Exclude<Role, 'all'>): boolean {
  return role === part || role === 'all';
}

/** Why the API could not listen, as the one line to print. */
export function listenProblem(err: NodeJS.ErrnoException, host: string, port: number): string {
  switch (err.code ?? '') {
    case 'EADDRINUSE':
      return `PORT ${port} is already in use on ${host}: stop what listens there or set PORT`;
    case 'EACCES':
      return `PORT ${port} on ${host} needs privileges: use a port above 1023`;
    case 'EADDRNOTAVAIL':
      return `HOST ${host} is not an address of this machine`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `HOST ${host} does not resolve`;
    default:
      return `cannot listen on ${host}:${port}: ${err.message}`;
  }
}

/** `url` with any password replaced, for messages. */
export function withoutPassword(url: string): string {
  if (/^rediss?\+cluster:\/\//.test(url)) {
    return url.replace(/^(rediss?\+cluster:\/\/[^:@/]*:)[^@]*@/, '$1***@');
  }
  try {
    const u = new URL(url);
    if (u.password) {
      u.password = '***';
    }
    return u.toString();
  } catch {
    return '(unparsable REDIS_URL)';
  }
}
