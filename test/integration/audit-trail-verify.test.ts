import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, chainEvent, genesisHash, sha256 } from '../../src/domain/audit-trail/chain.js';
import { checkpointKey } from '../../src/domain/audit-trail/checkpoint.js';
import type { AuditTrail } from '../../src/domain/audit-trail/ports.js';
import { createAuditTrailService } from '../../src/domain/audit-trail/service.js';
import type { TrailVerificationReport } from '../../src/domain/audit-trail/service.js';
import { archiveDestinations } from '../../src/store/archive-sink.js';
import { createArchiveRegistry } from '../../src/store/audit-archive.store.js';
import { eventOf, readStream, rechain, rewriteStream, withEvent, type RawEntry } from '../helpers/audit-trail.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';

/**
 * Someone with write access to Redis changes the audit trail; the verification routes must catch
 * each change and name the first bad entry (or the checkpoint) it left.
 */
describe('audit-trail verification catches tampering in Redis', () => {
  let t: TestApp;
  let streamKey: string;
  let headKey: string;
  /** The entries as written: 20, checkpoint #1 (its own entry 21), 20 more, checkpoint #2 (entry 42). */
  let written: RawEntry[];

  const verify = async (path: 'verify' | 'gaps' | 'integrity') => {
    const r = await t.call('GET', `/admin/bedrock-support/audit-trail/${path}`, { role: 'viewer' });
    expect(r.status).toBe(200);
    return (await r.json()) as TrailVerificationReport;
  };

  beforeEach(async () => {
    t = await makeTestApp('trail-verify');
    streamKey = `${t.prefix}:audit-trail`;
    headKey = `${t.prefix}:audit-trail:head`;
    const service = t.adapters.auditTrailService;
    for (let i = 0; i < 40; i++) {
      await t.auditTrail.append({ actor: 'tester', action: 'test.entry', details: { i, nested: { list: [i, { deep: true }] } } });
      if (i === 19 || i === 39) {
        expect((await service.checkpoint('tester')).written).toBe(true);
      }
    }
    written = await readStream(t.client, streamKey);
    expect(written).toHaveLength(42);
  });

  afterEach(async () => {
    await t.close();
  });

  it('an untouched trail verifies, with the newest checkpoint agreeing, and says how long it took', async () => {
    const report = await verify('verify');
    expect(report).toMatchObject({ scope: 'all', ok: true, entries: 42, firstSeq: 1, lastSeq: 42, problemCount: 0, firstProblem: null, checkpointsChecked: 2 });
    expect(report.checkpoint).toMatchObject({ number: 2, seq: 42, agrees: true });
    expect(report.durationMs).toBeGreaterThan(0);
    expect(report.entriesPerSecond).toBeGreaterThan(0);
  });

  it('a nested field changed in one entry: the entry is named', async () => {
    const victim = written[5] as RawEntry;
    const event = eventOf(victim) as ReturnType<typeof eventOf> & { details: { nested: { list: [number, { deep: boolean }] } } };
    event.details.nested.list[1].deep = false;
    // The JSON changed, the stored hash kept.
    await rewriteStream(t.client, streamKey, written.map((e) => (e === victim ? { ...withEvent(e, event), hash: e.hash } : e)));
    const report = await verify('verify');
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ part: 'integrity', code: 'hash_mismatch', seq: 6, streamId: victim.id });
    expect(report.problemCount).toBe(1);
    expect((await verify('integrity')).firstProblem).toMatchObject({ code: 'hash_mismatch', seq: 6 });
    // Nothing is missing or out of order.
    expect(await verify('gaps')).toMatchObject({ ok: true, problemCount: 0 });
  });

  it('an entry deleted: the gap is named where it is, in both parts', async () => {
    const gone = written[9] as RawEntry;
    await t.client.xdel(streamKey, gone.id);
    const gaps = await verify('gaps');
    expect(gaps.firstProblem).toMatchObject({ part: 'completeness', code: 'missing_entries', seq: 11, streamId: written[10]?.id, detail: expect.stringContaining('seq 10 is not in the trail') as unknown });
    expect((await verify('integrity')).firstProblem).toMatchObject({ code: 'broken_link', seq: 11 });
    expect((await verify('verify')).firstProblem).toMatchObject({ code: 'missing_entries', seq: 11 });
  });

  it('two entries swapped: both are named', async () => {
    const [a, b] = [written[4] as RawEntry, written[5] as RawEntry];
    await rewriteStream(t.client, streamKey, written.map((e) => (e === a ? { ...b, id: a.id } : e === b ? { ...a, id: b.id } : e)));
    const gaps = await verify('gaps');
    expect(gaps.problems.slice(0, 2).map((p) => [p.code, p.seq, p.streamId])).toEqual([
      ['missing_entries', 6, a.id],
      ['out_of_order', 5, b.id],
    ]);
    expect((await verify('integrity')).firstProblem).toMatchObject({ code: 'broken_link', streamId: a.id });
  });

  it('the chain rewritten with fresh hashes from entry 25 on: only the checkpoint catches it, and narrows it down', async () => {
    const forged = rechain(written, 24, (e) => ({ ...e, actor: 'someone-else' }));
    await rewriteStream(t.client, streamKey, forged.entries);
    await t.client.hset(headKey, 'seq', forged.head.seq, 'hash', forged.head.hash);
    // Hashes and links are all consistent again…
    const integrity = await verify('integrity');
    expect(integrity.problems.map((p) => p.code)).toEqual(['checkpoint_mismatch']);
    // …but checkpoint #2 signed another hash for seq 42; #1 (seq 21) still agrees.
    expect(integrity.firstProblem).toMatchObject({
      code: 'checkpoint_mismatch',
      seq: 42,
      checkpoint: 2,
      streamId: written[41]?.id,
      detail: expect.stringContaining('rewritten at or before seq 42, after seq 21 (where checkpoint #1 agrees)') as unknown,
    });
    expect(integrity.checkpoint).toMatchObject({ number: 2, agrees: false });
    expect(await verify('gaps')).toMatchObject({ ok: true });
  });

  it('the newest entries dropped and the head moved back: the cut is named against the checkpoint', async () => {
    const kept = written.slice(0, 37);
    await t.client.xdel(streamKey, ...written.slice(37).map((e) => e.id));
    await t.client.hset(headKey, 'seq', 37, 'hash', kept.at(-1)?.hash ?? '');
    const gaps = await verify('gaps');
    expect(gaps.ok).toBe(false);
    expect(gaps.firstProblem).toMatchObject({ code: 'truncated', seq: 38, checkpoint: 2, streamId: null, detail: expect.stringContaining('entries 38-42 were cut off') as unknown });
    expect((await verify('verify')).firstProblem).toMatchObject({ code: 'truncated', seq: 38 });
  });

  it('the newest checkpoint file deleted: the missing checkpoint is named', async () => {
    await rm(join(t.archiveDir, checkpointKey(2)));
    const integrity = await verify('integrity');
    expect(integrity.ok).toBe(false);
    expect(integrity.firstProblem).toMatchObject({ code: 'checkpoint_missing', checkpoint: 2, seq: null, detail: expect.stringContaining("Redis counts 2 checkpoints, the archive's newest is #1") as unknown });
    // The next checkpoint goes on from #2 regardless: the hole stays visible.
    await t.auditTrail.append({ actor: 'tester', action: 'test.after' });
    await t.adapters.auditTrailService.checkpoint('tester');
    expect((await verify('integrity')).problems.map((p) => [p.code, p.checkpoint])).toEqual([['checkpoint_missing', 2]]);
  });

  it('a Redis that lost its checkpoint count goes on from the newest checkpoint in the archive, chained to it', async () => {
    await t.client.del(`${t.prefix}:audit-trail:checkpoint`);
    await t.auditTrail.append({ actor: 'tester', action: 'test.after' });
    const next = await t.adapters.auditTrailService.checkpoint('tester');
    expect(next.head).toMatchObject({ number: 3, seq: 44 });
    const cp3 = JSON.parse(await readFile(join(t.archiveDir, checkpointKey(3)), 'utf8')) as { previous: string };
    const cp2 = JSON.parse(await readFile(join(t.archiveDir, checkpointKey(2)), 'utf8')) as Record<string, unknown>;
    expect(cp3.previous).toBe(sha256(canonicalJson(cp2)));
    expect(await verify('verify')).toMatchObject({ ok: true, checkpoint: { number: 3, agrees: true } });
  });

  it('entries appended while a verification reads its pages are not a problem; an entry past a head that did not move is', async () => {
    // An append lands between the verification's read of the head and its read of the entries (the race of a busy trail).
    const trail = t.auditTrail;
    const racing: AuditTrail = {
      ...trail,
      head: async () => {
        const head = await trail.head();
        await trail.append({ actor: 'tester', action: 'test.racing' });
        return head;
      },
    };
    const service = createAuditTrailService({
      trail: racing,
      registry: createArchiveRegistry(t.client, t.prefix),
      destinations: archiveDestinations([{ name: 'default', url: `file://${t.archiveDir}` }]),
      signer: t.auditSigner,
      exclusive: (work) => work(),
      clock: () => new Date(),
    });
    expect(await service.verify('all')).toMatchObject({ ok: true, entries: 42, lastSeq: 42, problemCount: 0 });
    // The first verification read the head twice (once more for the entry past it): two appends, 43 and 44.
    expect(await service.verify('all')).toMatchObject({ ok: true, entries: 44, lastSeq: 44, problemCount: 0 });

    // An entry chained to the last one but written beside the append script: the head never moved.
    const entries = await readStream(t.client, streamKey);
    const last = entries.at(-1) as RawEntry;
    const forged = chainEvent({ actor: 'intruder', action: 'test.forged' }, { seq: eventOf(last).seq, hash: last.hash }, new Date());
    await t.client.xadd(streamKey, '*', 'json', forged.json, 'hash', forged.hash);
    const report = await verify('integrity');
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatchObject({ code: 'head_mismatch', seq: eventOf(last).seq + 1, detail: expect.stringContaining('lies past the head') as unknown });
  });

  it('a checkpoint file edited to match a forged head fails its signature', async () => {
    const path = join(t.archiveDir, checkpointKey(2));
    const cp = JSON.parse(await readFile(path, 'utf8')) as { seq: number };
    await writeFile(path, JSON.stringify({ ...cp, seq: 41 }));
    expect((await verify('integrity')).firstProblem).toMatchObject({ code: 'checkpoint_invalid', checkpoint: 2, detail: expect.stringContaining('does not verify') as unknown });
  });
});

describe('audit-trail verification streams', () => {
  let t: TestApp;

  beforeEach(async () => {
    t = await makeTestApp('trail-verify-big');
  });

  afterEach(async () => {
    await t.close();
  });

  it('20,000 entries verify in pages of 1,000, never holding more', async () => {
    const streamKey = `${t.prefix}:audit-trail`;
    let head = { seq: 0, hash: genesisHash };
    for (let batch = 0; batch < 20; batch++) {
      const multi = t.client.multi();
      for (let i = 0; i < 1_000; i++) {
        const c = chainEvent({ actor: 'bench', action: 'test.bulk', details: { i } }, head, new Date());
        multi.xadd(streamKey, '*', 'json', c.json, 'hash', c.hash);
        head = { seq: c.event.seq, hash: c.hash };
      }
      await multi.exec();
    }
    await t.client.hset(`${t.prefix}:audit-trail:head`, 'seq', head.seq, 'hash', head.hash);
    // The service over a trail that counts what each read returns.
    let largest = 0;
    let reads = 0;
    const counting: AuditTrail = {
      ...t.auditTrail,
      range: async (o) => {
        const page = await t.auditTrail.range(o);
        reads++;
        largest = Math.max(largest, page.length);
        return page;
      },
    };
    const service = createAuditTrailService({
      trail: counting,
      registry: createArchiveRegistry(t.client, t.prefix),
      destinations: archiveDestinations([{ name: 'default', url: `file://${t.archiveDir}` }]),
      signer: t.auditSigner,
      exclusive: (work) => work(),
      clock: () => new Date(),
    });
    const report = await service.verify('all');
    expect(report).toMatchObject({ ok: true, entries: 20_000, firstSeq: 1, lastSeq: 20_000 });
    expect(largest).toBe(1_000);
    expect(reads).toBe(21);
  });
});
