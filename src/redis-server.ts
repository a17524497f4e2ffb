import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { resolve } from 'node:path';
import { clusterUrlFromNode, clusterUrlOf, isClusterUrl, parseClusterUrl, serverIsClusterNode } from './redis.js';

/** Thrown when no Redis answers and none can be started. The message says how to get one. */
export class NoRedisError extends Error {
  override readonly name = 'NoRedisError';
}

export const howToGetRedis = 'install one (Debian/Ubuntu: apt install redis-server; macOS: brew install redis; Docker: docker compose up -d redis)';

/** Whether something answers PING on host:port within `timeoutMs`. */
export function redisAnswers(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((done) => {
    const socket = new Socket();
    const finish = (ok: boolean) => {
      socket.destroy();
      done(ok);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('error', () => finish(false));
    socket.connect(port, host, () => socket.write('PING\r\n'));
    socket.once('data', (data) => finish(/^(\+PONG|-NOAUTH|-ERR)/.test(data.toString())));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

export interface OwnRedis {
  url: string;
  port: number;
  /** Where it keeps its data (AOF), when it keeps any. */
  dataDir?: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts `redis-server` from the PATH on 127.0.0.1:`port`.
 * With `dataDir`, data persists there with AOF on; without, nothing is written to disk.
 * With `ownProcessGroup`, a Ctrl-C in the terminal reaches only us, not the server: it must outlive
 * our graceful shutdown (running jobs are handed back to waiting through it), and we stop it last.
 */
export async function startRedisServer(options: { port: number; dataDir?: string; timeoutMs?: number; ownProcessGroup?: boolean }): Promise<OwnRedis> {
  const args = ['--port', String(options.port), '--bind', '127.0.0.1', '--maxmemory-policy', 'noeviction', '--protected-mode', 'yes'];
  let madeDir: string | undefined;
  if (options.dataDir) {
    const dir = resolve(options.dataDir);
    madeDir = await mkdir(dir, { recursive: true });
    args.push('--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '');
  } else {
    args.push('--save', '', '--appendonly', 'no');
  }
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup === true });
  // Redis logs to stdout; keep the tail so a server that will not come up can say why.
  let log = '';
  const keepTail = (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4096);
  };
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);
  const spawned = await new Promise<Error | null>((done) => {
    child.once('spawn', () => done(null));
    child.once('error', (err) => done(err));
  });
  if (spawned) {
    if (madeDir !== undefined) {
      await rm(madeDir, { recursive: true, force: true }); // leave nothing behind for a server that never ran
    }
    throw new NoRedisError(
      (spawned as NodeJS.ErrnoException).code === 'ENOENT' ? `redis-server is not on the PATH: ${howToGetRedis}` : `could not start redis-server: ${spawned.message}`,
    );
  }
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  // Ready means it logged so and answers: a PING alone could come from another server that
  // already holds the port while ours fails to bind it.
  const ready = async () => log.includes('Ready to accept connections') && child.exitCode === null && (await redisAnswers('127.0.0.1', options.port, 200));
  while (!(await ready())) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      if (madeDir !== undefined) {
        await rm(madeDir, { recursive: true, force: true });
      }
      if (child.exitCode === null) {
        throw new NoRedisError(`redis-server started but did not answer PING on 127.0.0.1:${options.port} within ${(options.timeoutMs ?? 10_000) / 1000} s`);
      }
      // Its last line says why it gave up, e.g. "Failed listening on port 6379 (tcp), aborting."
      const why = log
        .split('\n')
        .map((line) => line.replace(/^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [*#.-] /, '').trim())
        .filter(Boolean)
        .at(-1);
      throw new NoRedisError(`redis-server exited without serving port ${options.port}${why ? `: ${why}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Once it is up, stop listening: nothing more is kept, and a full pipe must never block it.
  child.stdout?.off('data', keepTail).resume();
  child.stderr?.off('data', keepTail).resume();
  return {
    url: `redis://127.0.0.1:${options.port}`,
    port: options.port,
    dataDir: options.dataDir ? resolve(options.dataDir) : undefined,
    process: child,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) {
          done();
          return;
        }
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * `redisUrl` when set; else the Redis on 127.0.0.1:`port` if it answers; else a
 * redis-server of our own on that port with its data (AOF on) in `dataDir`.
 */
export async function resolveRedis(options: { redisUrl?: string; clusterNodes?: string; dataDir: string; port?: number; mayStartOwn: boolean }): Promise<{ url: string; own?: OwnRedis; cluster?: boolean }> {
  const port = options.port ?? 6379;
  if (options.clusterNodes) {
    return { url: clusterUrlOf(options.clusterNodes, options.redisUrl), cluster: true };
  }
  if (options.redisUrl) {
    if (isClusterUrl(options.redisUrl)) {
      return { url: options.redisUrl, cluster: true };
    }
    // One node of a cluster: its seed, instead of a single-server connection that dies on the first MOVED.
    if (await serverIsClusterNode(options.redisUrl)) {
      return { url: clusterUrlFromNode(options.redisUrl), cluster: true };
    }
    return { url: options.redisUrl };
  }
  if (await redisAnswers('127.0.0.1', port)) {
    return { url: `redis://127.0.0.1:${port}` };
  }
  if (!options.mayStartOwn) {
    // A worker, api or scheduler on a private, empty Redis would look healthy and do nothing useful.
    throw new NoRedisError(`REDIS_URL is not set and no Redis answers on 127.0.0.1:${port}: set REDIS_URL to the fleet's Redis (only \`bsm all\` starts a redis-server of its own)`);
  }
  let own: OwnRedis;
  try {
    own = await startRedisServer({ port, dataDir: options.dataDir, ownProcessGroup: true });
  } catch (err) {
    if (err instanceof NoRedisError) {
      throw new NoRedisError(`no Redis answers on 127.0.0.1:${port} and ${err.message}, or set REDIS_URL`);
    }
    throw err;
  }
  // Outside the terminal's process group it would outlive an abrupt exit: stop it then too
  // (SIGTERM lets it write its AOF).
  const stopOnExit = () => own.process.kill('SIGTERM');
  process.once('exit', stopOnExit);
  own.process.once('exit', () => process.removeListener('exit', stopOnExit));
  return { url: own.url, own };
}

/** Where a Redis URL points, for the log: host, port and db (a cluster: its seed nodes), the password masked. */
export function describeRedisUrl(url: string): { host: string; port: number; db: number; password: boolean; tls: boolean } | { cluster: string[]; password: boolean; tls: boolean } | { unparsable: true } {
  if (isClusterUrl(url)) {
    try {
      const c = parseClusterUrl(url);
      return { cluster: c.nodes.map((n) => `${n.host}:${n.port}`), password: c.password !== undefined, tls: c.tls };
    } catch {
      return { unparsable: true };
    }
  }
  try {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 6379), db: Number(u.pathname.slice(1) || 0), password: u.password !== '', tls: u.protocol === 'rediss:' };
  } catch {
    return { unparsable: true };
  }
}
