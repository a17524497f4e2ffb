/** Facts read from Redis `INFO`. Absent fields were not reported by the server. */
export interface RedisFacts {
  maxmemoryPolicy?: string;
  maxmemoryBytes?: number;
  usedMemoryBytes?: number;
  aofEnabled?: boolean;
  /** `instantaneous_ops_per_sec`: commands per second, as Redis samples them. */
  opsPerSecond?: number;
  connectedClients?: number;
}

/** Parses the text of Redis `INFO` into the facts the audit needs. */
export function parseRedisInfo(info: string): RedisFacts {
  const fields = new Map<string, string>();
  for (const line of info.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) {
      fields.set(line.slice(0, i), line.slice(i + 1).trim());
    }
  }
  const num = (k: string) => (fields.has(k) ? Number(fields.get(k)) : undefined);
  return {
    maxmemoryPolicy: fields.get('maxmemory_policy'),
    maxmemoryBytes: num('maxmemory'),
    usedMemoryBytes: num('used_memory'),
    aofEnabled: fields.has('aof_enabled') ? fields.get('aof_enabled') === '1' : undefined,
    opsPerSecond: num('instantaneous_ops_per_sec'),
    connectedClients: num('connected_clients'),
  };
}

/**
 * The facts of a Redis Cluster from those of its masters: memory, commands and clients summed;
 * the memory limit summed when every master has one (0, no limit, when one has none); the eviction
 * policy every master shares, or else the first that is not `noeviction` (the one the audit must
 * see); AOF on only when it is on everywhere. One server's facts are returned as they are.
 */
export function combineRedisFacts(nodes: readonly RedisFacts[]): RedisFacts {
  if (nodes.length === 1) {
    return nodes[0] as RedisFacts;
  }
  const sum = (k: 'usedMemoryBytes' | 'opsPerSecond' | 'connectedClients') => (nodes.every((n) => n[k] !== undefined) ? nodes.reduce((a, n) => a + (n[k] ?? 0), 0) : undefined);
  const limits = nodes.map((n) => n.maxmemoryBytes);
  const policies = nodes.map((n) => n.maxmemoryPolicy);
  const aof = nodes.map((n) => n.aofEnabled);
  return {
    maxmemoryPolicy: policies.every((p) => p === policies[0]) ? policies[0] : policies.find((p) => p !== undefined && p !== 'noeviction'),
    maxmemoryBytes: limits.some((l) => l === undefined) ? undefined : limits.some((l) => l === 0) ? 0 : limits.reduce((a, l) => (a ?? 0) + (l ?? 0), 0),
    usedMemoryBytes: sum('usedMemoryBytes'),
    aofEnabled: aof.some((a) => a === undefined) ? undefined : aof.every(Boolean),
    opsPerSecond: sum('opsPerSecond'),
    connectedClients: sum('connectedClients'),
  };
}
