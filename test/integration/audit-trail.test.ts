import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { ArchiveRefusedError, readSegment } from '../../src/domain/audit-trail/archive.js';
import { canonicalJson, genesisHash, sha256, verifyChain, verifyTail } from '../../src/domain/audit-trail/chain.js';
import { createAuditTrail } from '../../src/store/audit-trail.store.js';
import { trailFixture } from '../helpers/audit-trail.js';
import { deleteKeys, testRedis, uniquePrefix } from '../helpers/redis.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { eventually } from '../helpers/fleet.js';
import { afterEach, beforeEach } from 'vitest';

describe('audit trail', () => {
  let prefix: string;
  let a: Redis;
  let b: Redis;
  let dir: string;

  beforeAll(async () => {
    a = testRedis();
    b = testRedis();
    dir = await mkdtemp(join(tmpdir(), 'bsm-archive-'));
  });

  // Each test writes a trail of its own.
  beforeEach(() => {
    prefix = `{${uniquePrefix('audit-trail')}}`;
  });

  afterEach(async () => {
    await deleteKeys(a, prefix);
  });

  afterAll(async () => {
    await Promise.all([a.quit(), b.quit()]);
    await rm(dir, { recursive: true, force: true });
  });

  /** 40 entries appended at once from two connections, with nested details. */
  const appendForty = async () => {
    const one = createAuditTrail(a, prefix);
    const two = createAuditTrail(b, prefix);
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? one : two).append({ actor: `tester-${i % 2}`, action: 'test.append', details: { i, nested: { list: [i, { deep: true }] } } })),
    );
    return one;
  };

  it('chains entries from two connections appending at once, without gaps or forks', async () => {
    const one = await appendForty();
    const entries = await one.range();
    expect(entries).toHaveLength(40);
    expect(entries.map((e) => e.event?.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(entries[0]?.event?.prevHash).toBe(genesisHash);
    for (let i = 1; i < entries.length; i++) {
      expect(entries[i]?.event?.prevHash).toBe(sha256(entries[i - 1]?.json ?? ''));
    }
    expect(verifyChain(entries, await one.anchor())).toEqual({ ok: true, checked: 40, breaks: [] });
    expect(await one.head()).toEqual({ seq: 40, hash: entries.at(-1)?.hash });
  });

  it('verification finds an entry changed in Redis, even in a nested field', async () => {
    const trail = await appendForty();
    const entries = await trail.range();
    const victim = entries[5];
    if (!victim) {
      throw new Error('no entry');
    }
    const tampered = JSON.parse(victim.json) as { details: { nested: { list: [number, { deep: boolean }] } } };
    tampered.details.nested.list[1].deep = false;
    const forged = entries.map((e) => (e === victim ? { ...e, json: canonicalJson(tampered) } : e));
    const result = verifyChain(forged, await trail.anchor());
    expect(result.ok).toBe(false);
    expect(result.breaks).toEqual([{ seq: 6, problem: 'hash_mismatch', detail: 'content does not match its hash' }]);

    const rehashed = forged.map((e) => (e === forged[5] ? { ...e, hash: sha256(e.json) } : e));
    expect(verifyChain(rehashed, await trail.anchor()).breaks.map((x) => x.problem)).toEqual(['broken_link']);
  });

  it('the bounded check of the newest entries: intact, an entry changed in Redis, the newest one removed', async () => {
    const trail = await appendForty();
    expect(verifyTail(await trail.tail(10), 10)).toEqual({ ok: true, checked: 10, breaks: [] });
    // More asked than stored: all of them, from the anchor.
    expect(verifyTail(await trail.tail(1_000), 1_000)).toEqual({ ok: true, checked: 40, breaks: [] });
    const key = `${prefix}:audit-trail`;
    // Streams cannot be edited in place: the stream is rewritten with one entry's content changed (seq 38).
    const all = await a.xrange(key, '-', '+');
    const victim = all[37]?.[0];
    await a.del(key);
    for (const [entryId, f] of all) {
      const json = entryId === victim ? (f[1] ?? '').replace('"test.append"', '"test.forged"') : (f[1] ?? '');
      await a.xadd(key, entryId, 'json', json, 'hash', f[3] ?? '');
    }
    const changed = verifyTail(await trail.tail(10), 10);
    expect(changed).toMatchObject({ ok: false, checked: 10, breaks: [{ seq: 38, problem: 'hash_mismatch' }] });
    // Outside the checked tail the change goes unseen by this check (the full verification finds it).
    expect(verifyTail(await trail.tail(2), 2).ok).toBe(true);
    await a.del(key);
    for (const [entryId, f] of all.slice(0, -1)) {
      await a.xadd(key, entryId, ...f);
    }
    expect(verifyTail(await trail.tail(10), 10).breaks).toEqual([{ seq: 40, problem: 'head_mismatch', detail: 'the head names seq 40, the newest stored entry is seq 39' }]);
  });

  it('archives entries older than the cutoff to segments, cleans them up, and the rest still verifies across the boundary', async () => {
    const archive = await mkdtemp(join(dir, 'segments-'));
    const { trail, service } = trailFixture(a, prefix, archive, { segmentEntries: 15 });
    await appendForty();
    // The cutoff is just after the last of the 40 (stream ids start with Redis' clock, in ms);
    // one more entry is appended once Redis' clock has passed it.
    const lastId = (await trail.range()).at(-1)?.id ?? '0-0';
    const cutoff = Number(lastId.split('-')[0]) + 1;
    await eventually(async () => {
      const [seconds, micros] = await a.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) >= cutoff;
    });
    await trail.append({ actor: 'tester', action: 'test.after-cutoff' });

    const fortieth = (await trail.range()).find((e) => e.event?.seq === 40);
    const result = await service.archive({ actor: 'tester', cutoff: new Date(cutoff), destination: 'default', cleanup: false });
    expect(result).toMatchObject({ archived: 40, fromSeq: 1, toSeq: 40, cleanup: null });
    expect(result.segments.map((x) => [x.firstSeq, x.lastSeq])).toEqual([
      [1, 15],
      [16, 30],
      [31, 40],
    ]);
    const files = (await readdir(join(archive, 'segments'))).sort();
    expect(files).toEqual([
      'audit-trail-000000000001-000000000015.jsonl.gz',
      'audit-trail-000000000001-000000000015.manifest.json',
      'audit-trail-000000000016-000000000030.jsonl.gz',
      'audit-trail-000000000016-000000000030.manifest.json',
      'audit-trail-000000000031-000000000040.jsonl.gz',
      'audit-trail-000000000031-000000000040.manifest.json',
    ]);
    const lines = readSegment(await readFile(join(archive, 'segments', files[0] ?? '')));
    if (typeof lines === 'string') {
      throw new Error(lines);
    }
    expect(lines).toHaveLength(15);
    expect(sha256(lines[0]?.json ?? '')).toBe(lines[0]?.hash);
    // Archived, not removed: cleanup is a step of its own.
    expect(await trail.length()).toBe(42);

    const cleaned = await service.cleanup({ actor: 'tester' });
    expect(cleaned).toMatchObject({ removed: 40, stopped: null, pending: 0, anchor: { seq: 40 } });
    const rest = await trail.range();
    expect(rest.map((e) => e.event?.action)).toEqual(['test.after-cutoff', 'audit-trail.archive', 'audit-trail.cleanup', 'audit-trail.cleanup', 'audit-trail.cleanup']);
    const anchor = await trail.anchor();
    expect(anchor).toEqual({ seq: 40, hash: fortieth?.hash });
    expect(verifyChain(rest, anchor).ok).toBe(true);
    expect(await service.verify('all')).toMatchObject({ ok: true, anchor: { seq: 40 }, firstSeq: 41, problemCount: 0 });
  });

  it('refuses to archive past an entry that is not an audit event, and verification reports that entry', async () => {
    const archive = await mkdtemp(join(dir, 'corrupt-'));
    const { trail, service } = trailFixture(a, `${prefix}:corrupt`, archive);
    await trail.append({ actor: 'tester', action: 'test.one' });
    await a.xadd(`${prefix}:corrupt:audit-trail`, '*', 'json', '{"not":"an event"}', 'hash', sha256('{"not":"an event"}'));
    const entries = await trail.range();
    expect(entries.map((e) => e.event?.action ?? null)).toEqual(['test.one', null]);
    expect(verifyChain(entries, await trail.anchor()).ok).toBe(false);
    await expect(service.archive({ actor: 'tester', cutoff: new Date(Date.now() + 60_000), destination: 'default', cleanup: true })).rejects.toThrow(ArchiveRefusedError);
    await expect(service.archive({ actor: 'tester', cutoff: new Date(Date.now() + 60_000), destination: 'default', cleanup: true })).rejects.toThrow(/is not an audit event/);
    // Nothing left Redis: the two entries and the two refused runs' records.
    expect(await trail.length()).toBe(4);
    expect((await service.verify('integrity')).firstProblem).toMatchObject({ code: 'unparseable', seq: 2, streamId: entries[1]?.id });
  });
});

describe('audit trail of admin requests', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await makeTestApp('audit-redaction');
  });

  afterAll(async () => {
    await t.close();
  });

  it('stores a mutating request with the e-mail, phone number and IBAN of its body redacted', async () => {
    const reason = 'Asked by jane.doe@example.com (call +49 30 1234567), refund to DE89370400440532013000';
    const r = await t.call('POST', '/admin/bedrock-support/enable', { body: { active: false, reason } });
    expect(r.status).toBe(200);

    // What Redis holds for the request, read straight from the stream: the JSON that was hashed.
    const raw = await t.client.xrange(`${t.prefix}:audit-trail`, '-', '+');
    const stored = raw.map(([, fields]) => fields[fields.indexOf('json') + 1] ?? '').find((json) => json.includes('"action":"http.request"')) ?? '';
    for (const value of ['jane.doe@example.com', '+49 30 1234567', '30 1234567', 'DE89370400440532013000']) {
      expect(stored, value).not.toContain(value);
    }
    const request = JSON.parse(stored) as { target: string; details: { body: unknown } };
    expect(request.target).toBe('POST /admin/bedrock-support/enable');
    expect(request.details.body).toEqual({ active: false, reason: 'Asked by [EMAIL_1] (call [PHONE_1]), refund to [IBAN_1]' });
  });
});
