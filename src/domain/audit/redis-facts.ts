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
