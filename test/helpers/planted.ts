/**
 * Real servers a test plants problems in: certificates from a private CA made with the openssl
 * CLI, servers on loopback, a second redis-server configured unlike the fleet's.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Server as NetServer } from 'node:net';
import { join } from 'node:path';
import { freePort, redisAnswers } from '../../src/redis-server.js';

const openssl = '/usr/bin/openssl';

function sh(dir: string, args: string[]): void {
  const r = spawnSync(openssl, args, { cwd: dir, encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
  }
}

/** In `dir`: a private CA (`ca.crt`, `ca.key`) and a leaf for `localhost` it signed (`leaf.crt`, `leaf.key`) that expires in `days` days. */
export async function makeCertificates(dir: string, days = 3): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  sh(dir, ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=Probe Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  sh(dir, ['req', '-new', ...ec, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost']);
  await writeFile(join(dir, 'leaf.ext'), 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n');
  sh(dir, ['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.crt', '-days', String(days), '-extfile', 'leaf.ext']);
}

/** Listens on a free loopback port; resolves with it. */
export function listen(server: HttpServer | HttpsServer | NetServer): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : 0);
    });
  });
}

export function close(server: HttpServer | HttpsServer | NetServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A redis-server of the test's own on a free port, started with `args`; `stop()` waits for it to exit. */
export async function startRedisServer(args: string[]): Promise<{ port: number; process: ChildProcess; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers('127.0.0.1', port, 200))) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error('the test redis-server did not start');
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    process: child,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}
