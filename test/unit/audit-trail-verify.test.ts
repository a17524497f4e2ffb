import { describe, expect, it } from 'vitest';
import { canonicalJson, chainEvent, genesisHash, sha256, type AuditEvent } from '../../src/domain/audit-trail/chain.js';
import { checkpointDigest, signatureProblem, signCheckpoint } from '../../src/domain/audit-trail/checkpoint.js';
import { generateSigningKeyPem, keyLookup, parsePublicKey, parseSigningKey, SigningKeyError } from '../../src/domain/audit-trail/signing.js';
import { TrailVerifier, type VerifiableEntry } from '../../src/domain/audit-trail/verify.js';

/** `n` chained entries, a millisecond apart, with stream ids like Redis's. */
function chain(n: number): VerifiableEntry[] {
  const out: VerifiableEntry[] = [];
  let head = { seq: 0, hash: genesisHash };
  for (let i = 0; i < n; i++) {
    const c = chainEvent({ actor: 'tester', action: 'test.unit', details: { i, nested: { list: [i, { deep: true }] } } }, head, new Date(Date.UTC(2026, 0, 1, 0, 0, 0, i)));
    out.push({ id: `${1_767_225_600_000 + i}-0`, json: c.json, hash: c.hash });
    head = { seq: c.event.seq, hash: c.hash };
  }
  return out;
}

const eventOf = (e: VerifiableEntry) => JSON.parse(e.json) as AuditEvent & { details: { nested: { list: [number, { deep: boolean }] } } };
const withEvent = (e: VerifiableEntry, event: AuditEvent): VerifiableEntry => ({ ...e, json: canonicalJson(event), hash: sha256(canonicalJson(event)) });
const headOf = (entries: VerifiableEntry[]) => ({ seq: entries.length === 0 ? 0 : eventOf(entries.at(-1) as VerifiableEntry).seq, hash: entries.at(-1)?.hash ?? genesisHash });

function run(entries: VerifiableEntry[], head = headOf(entries), checkpoints: { number: number; seq: number; hash: string; at: string }[] = []) {
  const v = new TrailVerifier({ seq: 0, hash: genesisHash }, checkpoints);
  for (const e of entries) {
    v.add(e);
  }
  const r = v.finish(head);
  return { ...r, all: [...r.problems.completeness, ...r.problems.integrity] };
}

describe('the streaming verifier', () => {
  it('passes an intact chain and counts it', () => {
    const r = run(chain(50));
    expect(r).toMatchObject({ entries: 50, firstSeq: 1, lastSeq: 50, counts: { completeness: 0, integrity: 0 } });
  });

  it('names the entry whose nested field was changed', () => {
    const entries = chain(20);
    const victim = entries[6] as VerifiableEntry;
    const event = eventOf(victim);
    event.details.nested.list[1].deep = false;
    entries[6] = { ...victim, json: canonicalJson(event) };
    expect(run(entries).all).toEqual([{ part: 'integrity', code: 'hash_mismatch', seq: 7, streamId: victim.id, checkpoint: null, detail: expect.any(String) as unknown }]);
  });

  it('names the gap where an entry was deleted, in both parts', () => {
    const entries = chain(20);
    entries.splice(9, 1);
    expect(run(entries).all.map((p) => [p.part, p.code, p.seq])).toEqual([
      ['completeness', 'missing_entries', 11],
      ['integrity', 'broken_link', 11],
    ]);
  });

  it('names both entries of a swapped pair', () => {
    const entries = chain(20);
    const [a, b] = [entries[4] as VerifiableEntry, entries[5] as VerifiableEntry];
    // The stream ids stay in order (Redis insists); the contents change places.
    entries[4] = { ...b, id: a.id };
    entries[5] = { ...a, id: b.id };
    const r = run(entries);
    expect(r.problems.completeness.map((p) => [p.code, p.seq, p.streamId])).toEqual([
      ['missing_entries', 6, a.id],
      ['out_of_order', 5, b.id],
      ['time_backwards', 5, b.id],
    ]);
    expect(r.problems.integrity.map((p) => [p.code, p.seq])).toEqual([
      ['broken_link', 6],
      ['broken_link', 5],
      ['broken_link', 7],
    ]);
  });

  it('catches a rewritten chain only through a checkpoint, naming where it stops agreeing', () => {
    const entries = chain(30);
    const cp10 = { number: 1, seq: 10, hash: (entries[9] as VerifiableEntry).hash, at: '2026-01-01T00:00:00.010Z' };
    const cp25 = { number: 2, seq: 25, hash: (entries[24] as VerifiableEntry).hash, at: '2026-01-01T00:00:00.025Z' };
    // Entry 15 changed, and every hash after it recomputed: the chain alone is intact.
    let prev = (entries[13] as VerifiableEntry).hash;
    for (let i = 14; i < entries.length; i++) {
      const event = { ...eventOf(entries[i] as VerifiableEntry), prevHash: prev };
      if (i === 14) {
        event.actor = 'someone-else';
      }
      entries[i] = withEvent(entries[i] as VerifiableEntry, event);
      prev = (entries[i] as VerifiableEntry).hash;
    }
    expect(run(entries).all).toEqual([]);
    const r = run(entries, headOf(entries), [cp10, cp25]);
    expect(r.all).toEqual([
      { part: 'integrity', code: 'checkpoint_mismatch', seq: 25, streamId: (entries[24] as VerifiableEntry).id, checkpoint: 2, detail: expect.stringContaining('rewritten at or before seq 25, after seq 10 (where checkpoint #1 agrees)') as unknown },
    ]);
    expect(r.lastAgreeingCheckpoint).toBe(1);
  });

  it('catches a cut-off tail against the head and against a checkpoint', () => {
    const entries = chain(30);
    const cp = { number: 3, seq: 30, hash: (entries[29] as VerifiableEntry).hash, at: '2026-01-01T00:00:00.030Z' };
    const cut = entries.slice(0, 26);
    // The head moved back with them: only the checkpoint shows what is gone.
    expect(run(cut, headOf(cut), [cp]).all).toEqual([
      { part: 'completeness', code: 'truncated', seq: 27, streamId: null, checkpoint: 3, detail: expect.stringContaining('entries 27-30 were cut off') as unknown },
    ]);
    // The head left as it was says so too.
    expect(run(cut, headOf(entries)).all.map((p) => [p.code, p.seq])).toEqual([['truncated', 27]]);
  });

  it('keeps at most 100 problems of each part while counting all of them', () => {
    const entries = chain(400).map((e) => ({ ...e, hash: sha256(`x${e.hash}`) }));
    const r = run(entries, headOf(entries));
    // Every stored hash differs from its content, and every link after the first from the hash before it.
    expect(r.counts.integrity).toBe(400 + 399);
    expect(r.problems.integrity).toHaveLength(100);
  });
});

describe('checkpoint signatures', () => {
  const signer = parseSigningKey(generateSigningKeyPem());
  const body = { version: 1 as const, number: 1, seq: 42, hash: 'a'.repeat(64), at: '2026-01-01T00:00:00.000Z', previous: null, key: signer.fingerprint };

  it('verify with the public key alone, and not once a field is changed', () => {
    const cp = signCheckpoint(body, signer);
    const keys = keyLookup([parsePublicKey(signer.pem)]);
    expect(signatureProblem(cp, keys)).toBeNull();
    expect(signatureProblem({ ...cp, seq: 41 }, keys)).toMatch(/does not verify/);
    expect(signatureProblem(cp, keyLookup([parseSigningKey(generateSigningKeyPem())]))).toMatch(/not a trusted key/);
    expect(checkpointDigest(cp)).toMatch(/^[0-9a-f]{64}$/);
  });

  it('keys load from PEM and from one line of base64 PKCS#8, and anything else is refused', () => {
    const pem = generateSigningKeyPem();
    const base64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    expect(parseSigningKey(base64).fingerprint).toBe(parseSigningKey(pem).fingerprint);
    expect(() => parseSigningKey('not a key')).toThrow(SigningKeyError);
  });
});
