import type { Command } from 'commander';
import { createClient, resolveConnection, type Client } from './http.js';
import { colourOn, styleFor, type Io, type Style } from './output.js';

/** Exit codes a script can rely on. */
export const exitCodes = {
  ok: 0,
  /** The check failed, or the service refused the command (a 4xx or 5xx answer). */
  failed: 1,
  usage: 2,
  unreachable: 3,
} as const;

/** The options every command takes (declared on the program). */
export interface GlobalOptions {
  url?: string;
  token?: string;
  json?: boolean;
}

/** What a command's action gets: the client for the service, output helpers, its exit code. */
export interface Context {
  readonly io: Io;
  readonly style: Style;
  /** Whether `--json` was given (on the program or the command). */
  json(cmd: Command): boolean;
  client(cmd: Command): Promise<Client>;
  /** Writes to stdout. */
  print(text: string): void;
  /** `--json`: the value as JSON; else the human text. */
  emit(cmd: Command, value: unknown, human: () => string): void;
}

/** Wraps a command's action so the exit code it resolves to reaches `runCli`. */
export type Act = <A extends unknown[]>(fn: (...args: A) => Promise<number>) => (...args: A) => Promise<void>;

export function createContext(io: Io): Context {
  const style = styleFor(colourOn(io.stdout, io.env));
  const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
  const ctx: Context = {
    io,
    style,
    json: (cmd) => globals(cmd).json === true,
    async client(cmd) {
      const o = globals(cmd);
      return createClient(await resolveConnection({ url: o.url, token: o.token }, io.env));
    },
    print: (text) => {
      io.stdout.write(text);
    },
    emit(cmd, value, human) {
      io.stdout.write(ctx.json(cmd) ? `${JSON.stringify(value, null, 2)}\n` : human());
    },
  };
  return ctx;
}

/** Adds an example (or several) to a command's `--help`. */
export function example<C extends Command>(cmd: C, ...lines: string[]): C {
  return cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
}
