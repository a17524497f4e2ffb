import type { Redis } from 'ioredis';
import { canonicalJson, sha256, type AuditEvent } from '../../src/domain/audit-trail/chain.js';
import { createAuditTrailService, type AuditTrailService, type AuditTrailServiceDeps } from '../../src/domain/audit-trail/service.js';
import type { AuditTrail } from '../../src/domain/audit-trail/ports.js';
import { generateSigningKeyPem, parseSigningKey, type AuditSigner } from '../../src/domain/audit-trail/signing.js';
import { archiveDestinations } from '../../src/store/archive-sink.js';
import { createArchiveRegistry } from '../../src/store/audit-archive.store.js';
import { createAuditTrail } from '../../src/store/audit-trail.store.js';

export interface TrailFixture {
  trail: AuditTrail;
  service: AuditTrailService;
  signer: AuditSigner;
  streamKey: string;
  headKey: string;
}

/** An audit trail on `prefix`, with its service archiving to `dir` (destination `default`) and a fresh signing key. */
export function trailFixture(redis: Redis, prefix: string, dir: string, options: Partial<AuditTrailServiceDeps> & { clock?: () => Date } = {}): TrailFixture {
  const trail = createAuditTrail(redis, prefix, options.clock);
  const signer = options.signer ?? parseSigningKey(generateSigningKeyPem());
  const service = createAuditTrailService({
    trail,
    registry: createArchiveRegistry(redis, prefix),
    destinations: archiveDestinations([{ name: 'default', url: `file://${dir}` }]),
    signer,
    exclusive: (work) => work(),
    clock: () => new Date(),
    ...options,
  });
  return { trail, service, signer, streamKey: `${prefix}:audit-trail`, headKey: `${prefix}:audit-trail:head` };
}

/** A stream entry as Redis holds it. */
export interface RawEntry {
  id: string;
  json: string;
  hash: string;
}

export async function readStream(redis: Redis, key: string): Promise<RawEntry[]> {
  const raw = await redis.xrange(key, '-', '+');
  return raw.map(([id, fields]) => ({ id, json: fields[fields.indexOf('json') + 1] ?? '', hash: fields[fields.indexOf('hash') + 1] ?? '' }));
}

/**
 * Replaces the stream with `entries` (ids kept, so they must still increase): what someone with
 * write access to Redis can do, since a stream entry cannot be edited in place.
 */
export async function rewriteStream(redis: Redis, key: string, entries: RawEntry[]): Promise<void> {
  const multi = redis.multi().del(key);
  for (const e of entries) {
    multi.xadd(key, e.id, 'json', e.json, 'hash', e.hash);
  }
  await multi.exec();
}

export function eventOf(entry: RawEntry): AuditEvent {
  return JSON.parse(entry.json) as AuditEvent;
}

/** An entry with `event` as its content and the hash that goes with it. */
export function withEvent(entry: RawEntry, event: AuditEvent): RawEntry {
  const json = canonicalJson(event);
  return { ...entry, json, hash: sha256(json) };
}

/**
 * The chain recomputed from entry `from` (index) on, with fresh hashes all the way: the forgery a
 * hash chain alone cannot see. Returns the new entries and the new head.
 */
export function rechain(entries: RawEntry[], from: number, change: (event: AuditEvent) => AuditEvent): { entries: RawEntry[]; head: { seq: number; hash: string } } {
  const out = entries.slice(0, from);
  let prevHash = out.at(-1)?.hash;
  for (const [i, entry] of entries.entries()) {
    if (i < from) {
      continue;
    }
    let event = eventOf(entry);
    if (i === from) {
      event = change(event);
    }
    if (prevHash !== undefined) {
      event = { ...event, prevHash };
    }
    const next = withEvent(entry, event);
    out.push(next);
    prevHash = next.hash;
  }
  const last = out.at(-1);
  return { entries: out, head: { seq: last ? eventOf(last).seq : 0, hash: last?.hash ?? '' } };
}
