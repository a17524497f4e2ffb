import type { Redis } from 'ioredis';
import { z } from 'zod';
import { chainEvent, genesisHash, parseAuditEvent, type AuditEventInput } from '../domain/audit-trail/chain.js';
import type { AuditTrail } from '../domain/audit-trail/ports.js';
import { bindScript, luaScript } from './redis-scripts.js';

export type { AuditTrail, StoredAuditEntry } from '../domain/audit-trail/ports.js';

/**
 * Appends only when the head is still what we read; otherwise nothing changes and we retry.
 * KEYS: head, stream. ARGV: expected seq, new seq, new hash, json.
 */
const appendScript = luaScript({
  name: 'bsmAuditTrailAppend',
  keys: ['head', 'stream'],
  reply: z.union([z.literal(0), z.literal(1)]),
  lua: `
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if seq ~= tonumber(ARGV[1]) then return 0 end
redis.call('XADD', KEYS[2], '*', 'json', ARGV[4], 'hash', ARGV[3])
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'hash', ARGV[3])
return 1
`,
});

/**
 * KEYS: anchor, stream. ARGV: anchor seq, anchor hash, ids to delete...
 * The anchor only moves forward, so overlapping archive runs cannot set it back.
 */
const dropScript = luaScript({
  name: 'bsmAuditTrailDrop',
  keys: ['anchor', 'stream'],
  reply: z.number().int(),
  lua: `
local cur = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
if tonumber(ARGV[1]) > cur then redis.call('HSET', KEYS[1], 'seq', ARGV[1], 'hash', ARGV[2]) end
for i = 3, #ARGV do redis.call('XDEL', KEYS[2], ARGV[i]) end
return #ARGV - 2
`,
});

const streamEntries = z.array(z.tuple([z.string(), z.array(z.string())]));
const hash = z.record(z.string(), z.string());
const tailReply = z.tuple([streamEntries, hash, hash]);

export function createAuditTrail(redis: Redis, keyPrefix: string, clock: () => Date = () => new Date()): AuditTrail {
  const streamKey = `${keyPrefix}:audit-trail`;
  const headKey = `${keyPrefix}:audit-trail:head`;
  const anchorKey = `${keyPrefix}:audit-trail:anchor`;
  const appendIfHead = bindScript(redis, appendScript);
  const drop = bindScript(redis, dropScript);
  // Appends from one process go one at a time: fewer optimistic-lock retries.
  let tail: Promise<unknown> = Promise.resolve();

  const headOf = (h: Record<string, string>) => ({ seq: Number(h.seq ?? 0), hash: h.hash ?? genesisHash });
  const readHead = async (key: string) => headOf(await redis.hgetall(key));
  const entryOf = ([id, fields]: [string, string[]]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) {
      f[fields[i] as string] = fields[i + 1] as string;
    }
    const json = f.json ?? '';
    return { id, json, hash: f.hash ?? '', event: parseAuditEvent(json) };
  };

  // The head this process last wrote: with one writer the append needs a single round trip;
  // when another process wrote in between, the compare-and-set fails and we read the head.
  let knownHead: { seq: number; hash: string } | null = null;
  const appendOnce = async (input: AuditEventInput) => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const head = knownHead ?? (await readHead(headKey));
      const chained = chainEvent(input, head, clock());
      const ok = await appendIfHead({ head: headKey, stream: streamKey }, head.seq, chained.event.seq, chained.hash, chained.json);
      if (ok === 1) {
        knownHead = { seq: chained.event.seq, hash: chained.hash };
        return { ...chained.event, hash: chained.hash };
      }
      knownHead = null;
    }
    throw new Error('audit trail: could not append after 100 attempts (heavy contention)');
  };

  return {
    append(input) {
      const result = tail.then(() => appendOnce(input));
      tail = result.catch(() => undefined);
      return result;
    },
    head: () => readHead(headKey),
    anchor: () => readHead(anchorKey),
    async range(options = {}) {
      const raw =
        options.count === undefined
          ? await redis.xrange(streamKey, options.start ?? '-', options.end ?? '+')
          : await redis.xrange(streamKey, options.start ?? '-', options.end ?? '+', 'COUNT', options.count);
      return raw.map(entryOf);
    },
    length: () => redis.xlen(streamKey),
    async tail(count) {
      // One MULTI: an append between the reads would look like a head that runs ahead of the entries.
      const replies = (await redis.multi().xrevrange(streamKey, '+', '-', 'COUNT', count + 1).hgetall(headKey).hgetall(anchorKey).exec()) ?? [];
      const failed = replies.find(([err]) => err !== null);
      if (failed?.[0]) {
        throw failed[0];
      }
      const [entries, head, anchor] = tailReply.parse(replies.map(([, value]) => value));
      return { entries: entries.map(entryOf).reverse(), head: headOf(head), anchor: headOf(anchor) };
    },
    async dropArchived(entries) {
      const last = entries.at(-1);
      if (!last?.event) {
        return;
      }
      await drop({ anchor: anchorKey, stream: streamKey }, last.event.seq, last.hash, ...entries.map((e) => e.id));
    },
  };
}
