import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchiveResult, CleanupResult } from '../../src/domain/audit-trail/archive.js';
import { checkpointKey } from '../../src/domain/audit-trail/checkpoint.js';
import type { PublicKeyView, TrailVerificationReport } from '../../src/domain/audit-trail/service.js';
import { generateSigningKeyPem, parseSigningKey } from '../../src/domain/audit-trail/signing.js';
import type { Runner } from '../../src/workers/runner.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { spawnBsm, startTestRunner, waitForExit } from '../helpers/fleet.js';

/**
 * The runbook's audit-trail maintenance end to end: archive through the API on a compliance
 * worker, clean up, verify across the archive boundary online, then offline with `bsm trail verify`.
 */
describe('audit-trail archive, cleanup and offline verification', () => {
  let t: TestApp;
  let runner: Runner;
  let scratch: string;
  let keyFile: string;

  const json = async <T>(r: Response | Promise<Response>, status: number): Promise<T> => {
    const res = await r;
    const body = (await res.json()) as T;
    expect(res.status, JSON.stringify(body)).toBe(status);
    return body;
  };

  /** An archive run through the API, waited for and read by its id. */
  const archive = async (body: unknown) => {
    const accepted = await json<{ archiveId: string; resultUrl: string }>(t.call('POST', '/admin/bedrock-support/audit-trail/archive', { role: 'operator', body }), 202);
    await vi.waitFor(async () => expect((await t.call('GET', accepted.resultUrl, { role: 'viewer' })).status).toBe(200), { timeout: 20_000, interval: 100 });
    return json<ArchiveResult>(t.call('GET', accepted.resultUrl, { role: 'viewer' }), 200);
  };

  const cli = async (...args: string[]) => {
    const child = spawnBsm(['trail', 'verify', ...args], {});
    const code = await waitForExit(child, 60_000);
    return { code, output: child.output() };
  };

  beforeAll(async () => {
    t = await makeTestApp('trail-archive');
    runner = startTestRunner(t, ['compliance']);
    scratch = await mkdtemp(join(tmpdir(), 'bsm-trail-cli-'));
    keyFile = join(scratch, 'audit-public-key.pem');
  });

  afterAll(async () => {
    await runner.close();
    await t.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it('archives in two runs, refuses to clean up an archive that does not read back, cleans up, and the chain verifies across the boundary online and offline', async () => {
    for (let i = 0; i < 30; i++) {
      await t.auditTrail.append({ actor: 'tester', action: 'test.entry', details: { i } });
      if (i === 9) {
        await t.adapters.auditTrailService.checkpoint('tester');
      }
    }
    // Two days on for the workers: everything recorded so far is older than a day.
    const realClock = t.adapters.jobDeps.clock;
    t.adapters.jobDeps.clock = () => new Date(realClock().getTime() + 2 * 86_400_000);

    const unknown = await json<{ error: { message: string; details: { field: string } } }>(
      t.call('POST', '/admin/bedrock-support/audit-trail/archive', { role: 'operator', body: { older_than: '1d', destination: 's3://audit-archive/bedrock-support' } }),
      400,
    );
    expect(unknown.error).toMatchObject({ details: { field: 'destination' }, message: expect.stringMatching(/^destination: .* is not a configured archive destination; configured: default \(file:\/\//) as unknown });

    /** The seq of the n-th entry recorded as `audit-trail.archive` (a run announcing itself). */
    const runSeq = async (n: number) => (await t.auditTrail.range()).filter((e) => e.event?.action === 'audit-trail.archive')[n]?.event?.seq ?? -1;
    const first = await archive({ older_than: '1d', destination: 'default' });
    // Everything up to the head before the run announced itself: the 30 entries, checkpoint #1's own, the request's.
    const a1 = await runSeq(0);
    expect(a1).toBeGreaterThanOrEqual(33);
    expect(first).toMatchObject({ archived: a1 - 1, fromSeq: 1, toSeq: a1 - 1, destination: 'default', checkpoint: { number: 2 }, cleanup: null });
    expect(first.checkpoint?.seq).toBeGreaterThanOrEqual(a1);
    for (let i = 0; i < 5; i++) {
      await t.auditTrail.append({ actor: 'tester', action: 'test.later', details: { i } });
    }
    // By URL: the configured URL of a destination names it too.
    const second = await archive({ older_than: '24h', destination: t.adapters.auditTrailService.destinationUrl('default') });
    const a2 = await runSeq(1);
    expect(second).toMatchObject({ fromSeq: a1, toSeq: a2 - 1, archived: a2 - a1, checkpoint: { number: 3 } });
    const pad = (n: number) => String(n).padStart(12, '0');
    const names = [`audit-trail-${pad(1)}-${pad(a1 - 1)}`, `audit-trail-${pad(a1)}-${pad(a2 - 1)}`];
    expect((await readdir(join(t.archiveDir, 'segments'))).sort()).toEqual(names.flatMap((n) => [`${n}.jsonl.gz`, `${n}.manifest.json`]));
    const manifest = JSON.parse(await readFile(join(t.archiveDir, 'segments', `${names[1]}.manifest.json`), 'utf8')) as Record<string, unknown>;
    expect(manifest).toMatchObject({ firstSeq: a1, lastSeq: a2 - 1, entries: a2 - a1, sha256: second.segments[0]?.sha256, chain: { before: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown }, checkpoint: { number: 3 }, key: t.auditSigner.fingerprint });
    // Archived is not removed: every entry is still in Redis.
    const lengthBefore = await t.auditTrail.length();
    expect(lengthBefore).toBeGreaterThanOrEqual(41);

    // An archive that no longer reads back as written keeps its entries in Redis.
    const segment = join(t.archiveDir, 'segments', `${names[0]}.jsonl.gz`);
    const original = await readFile(segment);
    const damaged = Buffer.from(original);
    damaged[damaged.length - 5] = (damaged[damaged.length - 5] ?? 0) ^ 0xff;
    await writeFile(segment, damaged);
    const refused = await json<{ error: { code: string; message: string; details: { archive: string } } }>(t.call('POST', '/admin/bedrock-support/audit-trail/cleanup'), 409);
    expect(refused.error.message).toMatch(/reads back with SHA-256 [0-9a-f]{64}, not the/);
    expect(refused.error.details.archive).toBe(`file://${segment}`);
    expect(await t.auditTrail.length()).toBe(lengthBefore);
    await writeFile(segment, original);

    // Administer only.
    await json(t.call('POST', '/admin/bedrock-support/audit-trail/cleanup', { role: 'operator' }), 403);
    const cleaned = await json<CleanupResult>(t.call('POST', '/admin/bedrock-support/audit-trail/cleanup', { body: { reason: 'quarterly archive' } }), 200);
    expect(cleaned).toMatchObject({ removed: a2 - 1, stopped: null, pending: 0, anchor: { seq: a2 - 1 } });
    expect(cleaned.archives.map((a) => [a.firstSeq, a.lastSeq, a.location])).toEqual([
      [1, a1 - 1, `file://${segment}`],
      [a1, a2 - 1, `file://${join(t.archiveDir, 'segments', `${names[1]}.jsonl.gz`)}`],
    ]);
    const rest = await t.auditTrail.range();
    expect(rest[0]?.event?.seq).toBe(a2);
    expect(rest.filter((e) => e.event?.action === 'audit-trail.cleanup').map((e) => e.event?.details)).toEqual([
      expect.objectContaining({ firstSeq: 1, lastSeq: a1 - 1, reason: 'quarterly archive' }),
      expect.objectContaining({ firstSeq: a1, lastSeq: a2 - 1 }),
    ]);
    // Cleaned up once: nothing left to remove.
    expect(await json<CleanupResult>(t.call('POST', '/admin/bedrock-support/audit-trail/cleanup'), 200)).toMatchObject({ removed: 0, archives: [], anchor: { seq: a2 - 1 } });

    // Online: the first entry left in Redis links to the last archived one, as its signed manifest records it.
    const online = await json<TrailVerificationReport>(t.call('GET', '/admin/bedrock-support/audit-trail/verify', { role: 'viewer' }), 200);
    expect(online).toMatchObject({ ok: true, anchor: { seq: a2 - 1, hash: (manifest.chain as { after: string }).after }, firstSeq: a2, checkpoint: { number: 3, agrees: true } });

    // Offline, with the public key the API serves.
    const key = await json<PublicKeyView>(t.call('GET', '/admin/bedrock-support/audit-trail/public-key', { role: 'viewer' }), 200);
    expect(key).toMatchObject({ algorithm: 'Ed25519', fingerprint: t.auditSigner.fingerprint, source: 'signing-key' });
    await writeFile(keyFile, key.pem);
    const ok = await cli('--archive', t.archiveDir, '--public-key', keyFile);
    expect(ok.output).toContain('OK: the archive verifies');
    expect(ok.output).toContain(`segments     2, ${a2 - 1} entries, seq 1-${a2 - 1}`);
    // Checkpoint #3 signs the head with the second run's own entry, which is still in Redis.
    expect(ok.output).toContain(`checkpoints  3 (newest #3, seq ${a2}, `);
    expect(ok.output).toContain('2 compared with the archived entry they sign, 1 sign entries not archived yet (still in Redis)');
    expect(ok.code).toBe(0);
  });

  it('offline verification fails naming the first problem: a changed segment, a deleted checkpoint, an untrusted key', async () => {
    // Works on a copy, so each problem stands alone.
    const copy = async (name: string) => {
      const dir = join(scratch, name);
      await cp(t.archiveDir, dir, { recursive: true });
      return dir;
    };

    const changed = await copy('changed');
    const second = (await readdir(join(changed, 'segments'))).sort()[2] ?? '';
    const segment = join(changed, 'segments', second);
    const bytes = await readFile(segment);
    bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
    await writeFile(segment, bytes);
    const a = await cli('--archive', changed, '--public-key', keyFile);
    expect(a.code).toBe(1);
    expect(a.output).toMatch(new RegExp(`FAIL: \\d+ problem\\(s\\); the first: file://.*${second.replaceAll('.', '\\.')} \\(seq \\d+, stream id [\\d-]+\\): segment_mismatch: SHA-256 [0-9a-f]{64}, the signed manifest says`));

    const dropped = await copy('dropped');
    await rm(join(dropped, checkpointKey(3)));
    const b = await cli('--archive', dropped, '--public-key', keyFile);
    expect(b.code).toBe(1);
    expect(b.output).toMatch(/the first: file:\/\/.*\.manifest\.json \(seq \d+, checkpoint #3\): checkpoint_missing: it carries checkpoint #3, which is not in/);

    const stranger = join(scratch, 'stranger.pem');
    await writeFile(stranger, parseSigningKey(generateSigningKeyPem()).pem);
    const c = await cli('--archive', await copy('stranger'), '--public-key', stranger);
    expect(c.code).toBe(1);
    expect(c.output).toMatch(/manifest_invalid: signed by key [0-9a-f]{16}…, which is not a trusted key/);

    // Without --public-key the archive's own keys/ are used, and the summary says they are not pinned.
    const unpinned = await cli('--archive', t.archiveDir);
    expect(unpinned.code).toBe(0);
    expect(unpinned.output).toContain("(read from the archive's keys/: pin them with --public-key)");

    const usage = await cli('--public-key', keyFile);
    expect(usage.code).toBe(2);
    expect(usage.output).toContain('bsm: bsm trail verify needs --archive DIR');
  });
});
