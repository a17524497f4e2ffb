/**
 * Runs a command with REDIS_URL pointing at a throwaway redis-server on a free port
 * (nothing written to disk), then stops the server. `npm test` and `npm run bench` use it,
 * so they never touch data in a Redis that is already running.
 */
import { spawn } from 'node:child_process';
import { freePort, NoRedisError, startRedisServer } from '../src/redis-server.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: with-redis <command> [args...]\n');
  process.exit(2);
}

let redis;
try {
  redis = await startRedisServer({ port: await freePort() });
} catch (err) {
  // The run always gets a Redis of its own (REDIS_URL is not used), so the binary is needed.
  process.stderr.write(`with-redis: this run starts a throwaway Redis, but ${err instanceof NoRedisError ? err.message : String(err)}\n`);
  process.exit(2);
}
process.stderr.write(`with-redis: throwaway redis-server at ${redis.url}\n`);
const child = spawn(command, args, { stdio: 'inherit', env: { ...process.env, REDIS_URL: redis.url }, shell: false });
const code = await new Promise<number>((done) => {
  child.on('exit', (c, signal) => done(c ?? (signal ? 1 : 0)));
});
await redis.stop();
process.exit(code);
