import { describe, expect, it } from 'vitest';
import { combineRedisFacts } from '../../src/domain/audit/redis-facts.js';
import { executionShards, keyLayout } from '../../src/key-layout.js';
import { clusterUrlFromNode, clusterUrlOf, firstNodeUrl, isClusterUrl, isRedisUnreachable, parseClusterUrl } from '../../src/redis.js';
import { describeRedisUrl } from '../../src/redis-server.js';
import { withoutPassword } from '../../src/runtime/invocation.js';
import { shardIndex } from '../../src/store/executions.store.js';

describe('key layout', () => {
  it('keeps every key of a single-server install under its one tag, as before', () => {
    const l = keyLayout('bsm', 'single');
    expect(l.tag('audit-trail')).toBe('{bsm}');
    expect(l.queuePrefix('compliance')).toBe('{bsm}');
    expect(l.executionTags()).toEqual(['{bsm}']);
  });

  it('gives each store, each queue and each execution shard its own tag on a cluster', () => {
    const l = keyLayout('bsm', 'spread');
    expect(l.tag('audit-trail')).toBe('{bsm:audit-trail}');
    expect(l.queuePrefix('compliance')).toBe('{bsm:queue:compliance}');
    const shards = l.executionTags();
    expect(shards).toHaveLength(executionShards);
    expect(new Set(shards).size).toBe(executionShards);
    expect(shards[3]).toBe('{bsm:executions:3}');
  });

  it('spreads execution ids evenly over the shards, the same way every time', () => {
    const counts = new Array<number>(16).fill(0);
    for (let i = 0; i < 16_000; i++) {
      counts[shardIndex(`exec-${i}`, 16)] = (counts[shardIndex(`exec-${i}`, 16)] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
    expect(shardIndex('abc', 16)).toBe(shardIndex('abc', 16));
  });
});

describe('cluster URLs', () => {
  it('reads seed nodes, credentials and TLS', () => {
    expect(parseClusterUrl('redis+cluster://10.0.0.1:7000,10.0.0.2:7001')).toEqual({ nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 7001 }], username: undefined, password: undefined, tls: false });
    expect(parseClusterUrl('rediss+cluster://app:s%40cret@cfg.example.cache.amazonaws.com:6379')).toEqual({
      nodes: [{ host: 'cfg.example.cache.amazonaws.com', port: 6379 }],
      username: 'app',
      password: 's@cret',
      tls: true,
    });
    expect(() => parseClusterUrl('redis+cluster://a:b:c')).toThrow('not host:port');
  });

  it('builds one from REDIS_CLUSTER_NODES (with REDIS_URL\'s credentials) or from one node', () => {
    expect(clusterUrlOf('a:1, b:2')).toBe('redis+cluster://a:1,b:2');
    expect(clusterUrlOf('a:1,b:2', 'rediss://:pw@ignored:6379')).toBe('rediss+cluster://:pw@a:1,b:2');
    expect(clusterUrlFromNode('redis://127.0.0.1:7001')).toBe('redis+cluster://127.0.0.1:7001');
    expect(isClusterUrl('redis://x:1')).toBe(false);
    expect(firstNodeUrl('rediss+cluster://u:pw@cfg.example.cache.amazonaws.com:6379,b:2')).toBe('rediss://cfg.example.cache.amazonaws.com:6379');
    expect(firstNodeUrl('redis://:pw@one:6379')).toBe('redis://:pw@one:6379');
  });

  it('masks the password in messages and logs', () => {
    expect(withoutPassword('redis+cluster://u:secret@a:1,b:2')).toBe('redis+cluster://u:***@a:1,b:2');
    expect(describeRedisUrl('rediss+cluster://u:secret@a:1,b:2')).toEqual({ cluster: ['a:1', 'b:2'], password: true, tls: true });
  });
});

describe('a cluster in transit', () => {
  const reply = (message: string) => Object.assign(new Error(message), { name: 'ReplyError' });
  it('counts MOVED, CLUSTERDOWN and TRYAGAIN as an outage, other replies as answers', () => {
    expect(isRedisUnreachable(reply('MOVED 5386 127.0.0.1:7101'), [])).toBe(true);
    expect(isRedisUnreachable(reply('CLUSTERDOWN The cluster is down'), [])).toBe(true);
    expect(isRedisUnreachable(reply('UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)'), [])).toBe(true);
    expect(isRedisUnreachable(reply('TRYAGAIN Multiple keys request during rehashing of slot'), [])).toBe(true);
    expect(isRedisUnreachable(reply('CROSSSLOT Keys in request don\'t hash to the same slot'), [])).toBe(false);
    expect(isRedisUnreachable(reply('WRONGTYPE Operation against a key holding the wrong kind of value'), [])).toBe(false);
    expect(isRedisUnreachable(Object.assign(new Error('Failed to refresh slots cache.'), { name: 'ClusterAllFailedError' }), [])).toBe(true);
  });
});

describe('the facts of a cluster', () => {
  it('sums memory, commands and clients; keeps a policy that is not noeviction in view; AOF only when on everywhere', () => {
    const node = { maxmemoryPolicy: 'noeviction', maxmemoryBytes: 100, usedMemoryBytes: 10, aofEnabled: true, opsPerSecond: 5, connectedClients: 3 };
    expect(combineRedisFacts([node, node, node])).toEqual({ maxmemoryPolicy: 'noeviction', maxmemoryBytes: 300, usedMemoryBytes: 30, aofEnabled: true, opsPerSecond: 15, connectedClients: 9 });
    expect(combineRedisFacts([node, { ...node, maxmemoryPolicy: 'allkeys-lru', maxmemoryBytes: 0, aofEnabled: false }])).toMatchObject({ maxmemoryPolicy: 'allkeys-lru', maxmemoryBytes: 0, aofEnabled: false });
    expect(combineRedisFacts([node])).toBe(node);
  });
});
