import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort, redisAnswers } from '../../src/redis-server.js';

const run = promisify(execFile);

/** One redis-server of the test cluster. */
export interface ClusterNodeProcess {
  port: number;
  url: string;
  process: ChildProcess;
  /** The node's id in the cluster (CLUSTER MYID). */
  id: string;
}

export interface LocalCluster {
  /** Three masters (each a third of the slots) and, when asked for, one replica. */
  nodes: ClusterNodeProcess[];
  masters(): Promise<{ port: number; id: string; slots: [number, number][] }[]>;
  /** The port of the node that owns the slot of `key` now. */
  ownerOf(key: string): Promise<number>;
  /** Keys on the node at `port` (DBSIZE). */
  keysOn(port: number): Promise<number>;
  /** A connection to one node (not a cluster client). */
  node(port: number): Redis;
  stop(): Promise<void>;
}

async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run('redis-cli', args, { timeout: 60_000 });
  return stdout;
}

async function startNode(port: number, dir: string): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`,
      // A short node timeout: a dead master is noticed (and its replica promoted) within seconds.
      '--cluster-node-timeout', '2000', '--dir', dir, '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction',
    ],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10_000;
  while (!(await redisAnswers('127.0.0.1', port, 200))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server in cluster mode did not come up on port ${port}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/** Polls `check` until it is true (or throws after `timeoutMs`, naming `what`). */
export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * A Redis Cluster on loopback, on free ports, in a temporary directory: three masters made with
 * `redis-cli --cluster create`, then (given `replicaFor`) a replica of the master that owns that
 * key's slot, added with `redis-cli --cluster add-node --cluster-slave`. Resolves once every node reports
 * `cluster_state:ok` and the replica's link to its master is up.
 */
export async function startLocalCluster(options: { replicaFor?: string }): Promise<LocalCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'bsm-cluster-'));
  const ports: number[] = [];
  while (ports.length < (options.replicaFor === undefined ? 3 : 4)) {
    const p = await freePort();
    if (!ports.includes(p)) {
      ports.push(p);
    }
  }
  const processes: ChildProcess[] = [];
  const connections: Redis[] = [];
  const node = (port: number) => {
    const r = new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
    r.on('error', () => undefined);
    connections.push(r);
    return r;
  };
  const stop = async () => {
    for (const c of connections) {
      c.disconnect();
    }
    await Promise.all(
      processes.map(
        (p) =>
          new Promise<void>((done) => {
            if (p.exitCode !== null || p.signalCode !== null) {
              done();
              return;
            }
            p.once('exit', () => done());
            p.kill('SIGKILL');
          }),
      ),
    );
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) {
      processes.push(await startNode(port, dir));
    }
    const [a, b, c, r] = ports as [number, number, number, number | undefined];
    await cli('--cluster', 'create', `127.0.0.1:${a}`, `127.0.0.1:${b}`, `127.0.0.1:${c}`, '--cluster-replicas', '0', '--cluster-yes');
    const seed = node(a);
    await until('three masters agree on the slots', async () => (await seed.cluster('INFO')).includes('cluster_state:ok'));
    if (options.replicaFor !== undefined && r !== undefined) {
      const slot = Number(await seed.cluster('KEYSLOT', options.replicaFor));
      const owner = await ownerPort(seed, slot);
      const masterId = String(await node(owner).cluster('MYID'));
      await cli('--cluster', 'add-node', `127.0.0.1:${r}`, `127.0.0.1:${owner}`, '--cluster-slave', '--cluster-master-id', masterId);
      const replica = node(r);
      await until('the replica is linked to its master', async () => /master_link_status:up/.test(await replica.info('replication')));
    }
    for (const port of ports) {
      const n = node(port);
      await until(`node ${port} sees the cluster ok`, async () => (await n.cluster('INFO')).includes('cluster_state:ok'));
    }
    const ids = await Promise.all(ports.map(async (port) => String(await node(port).cluster('MYID'))));
    const nodes = ports.map((port, i) => ({ port, url: `redis://127.0.0.1:${port}`, process: processes[i] as ChildProcess, id: ids[i] as string }));
    return {
      nodes,
      node,
      async masters() {
        const live = nodes.filter((n) => n.process.exitCode === null && n.process.signalCode === null);
        const slots = await node(live[0]?.port ?? a).cluster('SLOTS');
        const byPort = new Map<number, [number, number][]>();
        for (const [from, to, master] of slots) {
          const port = master?.[1] ?? 0;
          byPort.set(port, [...(byPort.get(port) ?? []), [from, to]]);
        }
        return [...byPort].map(([port, s]) => ({ port, id: nodes.find((n) => n.port === port)?.id ?? '', slots: s }));
      },
      async ownerOf(key) {
        const live = nodes.find((n) => n.process.exitCode === null && n.process.signalCode === null) as ClusterNodeProcess;
        const n = node(live.port);
        return ownerPort(n, Number(await n.cluster('KEYSLOT', key)));
      },
      async keysOn(port) {
        return node(port).dbsize();
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function ownerPort(redis: Redis, slot: number): Promise<number> {
  const slots = await redis.cluster('SLOTS');
  const master = slots.find(([from, to]) => slot >= from && slot <= to)?.[2];
  if (!master) {
    throw new Error(`no node owns slot ${slot}`);
  }
  return master[1];
}
