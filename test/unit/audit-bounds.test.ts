import { describe, expect, it } from 'vitest';
import { auditBounds, boundDetails } from '../../src/domain/audit-trail/bound.js';
import { canonicalJson, chainEvent, genesisHash, sha256, verifyChain } from '../../src/domain/audit-trail/chain.js';

describe('audit entries are bounded', () => {
  it('keeps long text as its size and SHA-256, short text as it is', () => {
    const long = 'x'.repeat(65_536);
    expect(boundDetails({ reason: 'short', context: { log: long } })).toEqual({ reason: 'short', context: { log: { omitted: 'text', size: 65_536, sha256: sha256(long) } } });
  });

  it('cuts long arrays and deep nesting, saying how much was left out', () => {
    const items = Array.from({ length: 250 }, (_, i) => i);
    const bounded = boundDetails({ items }) as { items: unknown[] };
    expect(bounded.items).toHaveLength(auditBounds.arrayItems + 1);
    expect(bounded.items.at(-1)).toEqual({ omitted: 'items', size: 150, sha256: sha256(canonicalJson(items.slice(100))) });

    let deep: unknown = 'bottom';
    for (let i = 0; i < 50; i++) {
      deep = { d: deep };
    }
    const json = canonicalJson(boundDetails({ deep }));
    expect(json).toContain('"omitted":"depth"');
    expect(json).not.toContain('bottom');
  });

  it('keeps a whole entry within a few KB however it is shaped, and the chain still verifies', () => {
    // Many values each under the text bound: only the bound on the whole catches them.
    const wide = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`k${i}`, 'y'.repeat(1_000)]));
    const entry = chainEvent({ actor: 'a'.repeat(5_000), action: 'http.request', target: `POST /${'p'.repeat(10_000)}`, details: { body: wide } }, { seq: 0, hash: genesisHash }, new Date());
    expect(entry.json.length).toBeLessThan(auditBounds.detailsChars + 4_096);
    expect(entry.event.details).toEqual({ omitted: 'details', size: canonicalJson({ body: wide }).length, sha256: sha256(canonicalJson({ body: wide })) });
    expect(entry.event.actor.length).toBeLessThan(400);
    expect(verifyChain([{ json: entry.json, hash: entry.hash }], { seq: 0, hash: genesisHash }).ok).toBe(true);
  });
});
