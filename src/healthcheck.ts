#!/usr/bin/env node
/**
 * `node dist/healthcheck.js`: the container healthcheck of every role. The api role is healthy
 * when `GET /health` answers below 500 (a degraded fleet is still a live API); a worker or a
 * scheduler when the Redis it works against answers PING within 2 s. Exit 0 healthy, 1 not.
 */
import { Redis } from 'ioredis';
import { clusterUrlOf, isClusterUrl, parseClusterUrl } from './redis.js';

const role = process.argv[2] ?? 'all';
const timeoutMs = 2_000;

async function apiHealthy(): Promise<boolean> {
  const port = process.env.PORT ?? '3000';
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
  return response.status < 500;
}

/** The server to PING: REDIS_URL, or of a cluster (REDIS_CLUSTER_NODES, a redis+cluster:// URL) its first seed node. */
function pingTarget(): { url?: string; host?: string; port?: number; username?: string; password?: string; tls?: object } {
  const url = process.env.REDIS_CLUSTER_NODES ? clusterUrlOf(process.env.REDIS_CLUSTER_NODES, process.env.REDIS_URL) : (process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  if (!isClusterUrl(url)) {
    return { url };
  }
  const c = parseClusterUrl(url);
  return { ...c.nodes[0], username: c.username, password: c.password, ...(c.tls ? { tls: {} } : {}) };
}

async function redisHealthy(): Promise<boolean> {
  const { url, ...node } = pingTarget();
  const options = { ...node, lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null };
  const redis = url ? new Redis(url, options) : new Redis(options);
  try {
    await redis.connect();
    return (await redis.ping()) === 'PONG';
  } finally {
    redis.disconnect();
  }
}

const healthy = await (role === 'api' || role === 'all' ? apiHealthy() : redisHealthy()).catch(() => false);
process.exit(healthy ? 0 : 1);
