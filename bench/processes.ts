/**
 * What the benchmarks share about child processes: starting one (stdout and stderr to a log
 * file, killed when the bench exits, whatever the reason), waiting until it is ready, stopping it,
 * and what a process costs as Linux reports it (/proc: CPU time, resident memory), with Redis's
 * own CPU time from INFO.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from '../src/redis-server.js';

/** The repository: children run here. */
export const root = fileURLToPath(new URL('..', import.meta.url));
const readyTimeoutMs = 30_000;
const stopTimeoutMs = 15_000;

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** A positive number from the environment, or `fallback` when unset; anything else stops the bench. */
export function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    throw new Error(`${name} must be a positive number, got "${raw}"`);
  }
  return value;
}

/** Every child still running: killed when this process exits, whatever the reason. */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    child.kill('SIGKILL');
  }
});

/** Kills every child at once (Ctrl-C). */
export function killAll(): void {
  for (const child of live) {
    child.kill('SIGKILL');
  }
}

export async function tail(path: string, lines = 15): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** What a child gets from this environment: enough to run node, nothing that configures the service (or AWS). */
export function inheritedEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'LANG']) {
    const value = process.env[name];
    if (value !== undefined) {
      env[name] = value;
    }
  }
  return env;
}

export interface Child {
  name: string;
  pid: number;
  logPath: string;
  /** How it ended, once it has. */
  readonly exit: string | undefined;
  /** SIGTERM, then SIGKILL after {@link stopTimeoutMs}. Says how it ended. */
  stop(): Promise<string>;
}

/** Starts `node <args>` in the repository with `env` (over {@link inheritedEnv}), stdout and stderr to `logPath`. */
export function startChild(name: string, args: string[], env: Record<string, string>, logPath: string): Child {
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, args, { cwd: root, env: { ...inheritedEnv(), ...env }, stdio: ['ignore', log, log] });
  closeSync(log);
  live.add(child);
  let exit: string | undefined;
  const exited = new Promise<string>((done) => {
    child.once('exit', (code, signal) => {
      live.delete(child);
      exit = signal ? `killed by ${signal}` : `exit code ${code}`;
      done(exit);
    });
  });
  return {
    name,
    pid: child.pid ?? 0,
    logPath,
    get exit() {
      return exit;
    },
    async stop() {
      if (exit !== undefined) {
        return `had already ended (${exit})`;
      }
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      const how = await exited;
      clearTimeout(timer);
      return how;
    },
  };
}

/**
 * Polls `ready` every 100 ms until it says yes. Stops the child and throws, with the end of its
 * log, when it ends first or `timeoutMs` passes.
 */
export async function waitReady(child: Child, what: string, ready: () => Promise<boolean>, timeoutMs = readyTimeoutMs): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exit !== undefined) {
      throw new Error(`${child.name} ended (${child.exit}) before ${what}; the end of its log (${child.logPath}):\n${await tail(child.logPath)}`);
    }
    if (await ready().catch(() => false)) {
      return;
    }
    if (Date.now() > deadline) {
      await child.stop();
      throw new Error(`${child.name}: not ${what} within ${timeoutMs / 1000} s; the end of its log (${child.logPath}):\n${await tail(child.logPath)}`);
    }
    await sleep(100);
  }
}

export interface Server extends Child {
  base: string;
}

/**
 * Starts `node <args>` on a free port of 127.0.0.1 (PORT and HOST) and waits until GET /health
 * answers with one of `statuses` (default 200 or 503: the server is up either way).
 */
export async function startServer(name: string, args: string[], env: Record<string, string>, logPath: string, statuses: readonly number[] = [200, 503]): Promise<Server> {
  const port = await freePort();
  const child = startChild(name, args, { ...env, PORT: String(port), HOST: '127.0.0.1' }, logPath);
  const base = `http://127.0.0.1:${port}`;
  await waitReady(child, `it answered GET /health with ${statuses.join(' or ')}`, async () => {
    const res = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1_000) });
    await res.arrayBuffer();
    return statuses.includes(res.status);
  });
  return Object.assign(child, { base });
}

// ---------------------------------------------------------------------------------------------
// What processes cost (Linux /proc; undefined elsewhere)

const clockTicks = 100;

/** One /proc/<pid>/stat: the parent and the CPU times, in seconds. */
async function statOf(pid: number): Promise<{ ppid: number; own: number; reapedChildren: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // After "(comm) ": state, ppid, ...; utime, stime, cutime, cstime are the 12th to 15th (clock ticks).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
    const [ppid, utime, stime, cutime, cstime] = [fields[1], fields[11], fields[12], fields[13], fields[14]];
    if ([ppid, utime, stime, cutime, cstime].some((v) => v === undefined || !Number.isFinite(v))) {
      return undefined;
    }
    return { ppid: ppid ?? 0, own: ((utime ?? 0) + (stime ?? 0)) / clockTicks, reapedChildren: ((cutime ?? 0) + (cstime ?? 0)) / clockTicks };
  } catch {
    return undefined;
  }
}

/** `pid` and every live process below it. */
export async function processTree(pid: number): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [pid];
  }
  const parents = new Map<number, number>();
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const stat = await statOf(Number(e));
        if (stat) {
          parents.set(Number(e), stat.ppid);
        }
      }),
  );
  const tree = [pid];
  for (let i = 0; i < tree.length; i += 1) {
    for (const [child, parent] of parents) {
      if (parent === tree[i]) {
        tree.push(child);
      }
    }
  }
  return tree;
}

/**
 * CPU seconds (user + system) a process has used so far, with its children: the live ones' own
 * time and what finished children left in cutime/cstime.
 */
export async function processCpuSeconds(pid: number): Promise<number | undefined> {
  const stats = await Promise.all((await processTree(pid)).map(statOf));
  if (stats[0] === undefined) {
    return undefined;
  }
  return stats.reduce((sum, s) => sum + (s ? s.own + s.reapedChildren : 0), 0);
}

/** Resident memory (VmRSS) of a process and its live children, in bytes, and how many processes that is. */
export async function residentBytes(pid: number): Promise<{ bytes: number; processes: number } | undefined> {
  const tree = await processTree(pid);
  let bytes = 0;
  let processes = 0;
  for (const p of tree) {
    const status = await readFile(`/proc/${p}/status`, 'utf8').catch(() => '');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    if (kb !== undefined) {
      bytes += Number(kb) * 1024;
      processes += 1;
    }
  }
  return processes === 0 ? undefined : { bytes, processes };
}

/** CPU seconds the whole machine has spent busy so far (all cores, from /proc/stat). */
export async function machineBusySeconds(): Promise<number | undefined> {
  try {
    const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
    // cpu  user nice system idle iowait irq softirq steal ...
    const [user, nice, system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
    const busy = [user, nice, system, irq, softirq].reduce<number>((sum, t) => sum + (t ?? NaN), 0);
    return Number.isFinite(busy) ? busy / clockTicks : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds the Redis server has used so far (INFO cpu, used_cpu_user + used_cpu_sys). */
export async function redisCpuSeconds(redis: Redis): Promise<number | undefined> {
  const info = await redis.info('cpu').catch(() => '');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  const total = field('used_cpu_user') + field('used_cpu_sys');
  return Number.isFinite(total) ? total : undefined;
}

/** Deletes every key under `keyPrefix` (what a child left in a Redis that may not be a throwaway one). */
export async function deleteKeys(redis: Redis, keyPrefix: string): Promise<void> {
  const stream = redis.scanStream({ match: `${keyPrefix}*`, count: 500 });
  for await (const keys of stream) {
    const batch = keys as string[];
    if (batch.length > 0) {
      await redis.unlink(...batch);
    }
  }
}

/**
 * The servers one benchmark starts: stopped together (`stopAll`), and all killed on Ctrl-C or
 * SIGTERM until `release` (which stops what is left and lets the signals go).
 */
export function benchServers(label: string): { servers: Server[]; stopAll: () => Promise<void>; release: () => Promise<void> } {
  const servers: Server[] = [];
  const stopAll = async () => {
    for (const s of servers.splice(0)) {
      process.stderr.write(`${label}: ${s.name} stopped: ${await s.stop()}\n`);
    }
  };
  const interrupted = (signal: NodeJS.Signals) => {
    process.stderr.write(`${label}: ${signal}: stopping the processes\n`);
    killAll();
    process.exit(130);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  return {
    servers,
    stopAll,
    async release() {
      await stopAll();
      process.off('SIGINT', interrupted);
      process.off('SIGTERM', interrupted);
    },
  };
}

/** A connection that reads the Redis server's CPU time and deletes a benchmark's keys; a failed connect() or command says it. */
export function benchRedis(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true, retryStrategy: () => null });
  redis.on('error', () => undefined);
  return redis;
}
