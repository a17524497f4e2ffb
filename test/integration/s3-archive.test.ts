import { lookup } from 'node:dns';
import http from 'node:http';
import { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { ArchiveResult, CleanupResult } from '../../src/domain/audit-trail/archive.js';
import type { PublicKeyView, TrailVerificationReport } from '../../src/domain/audit-trail/service.js';
import { ArchiveObjectExistsError } from '../../src/domain/audit-trail/sink.js';
import { createS3ArchiveSink } from '../../src/providers/s3-archive.provider.js';
import { configuredArchiveDestinations, measureArchiveLocations } from '../../src/runtime/archive.js';
import type { Runner } from '../../src/workers/runner.js';
import { startS3Fake, type S3Fake } from '../fakes/s3-fake.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { stubAwsEnv } from '../helpers/aws.js';
import { spawnBsm, startTestRunner, waitForExit } from '../helpers/fleet.js';

const bucket = 'audit-archive';
const archiveUrl = `s3://${bucket}/bedrock-support`;

describe('the S3 archive sink against a fake S3 on loopback', () => {
  let fake: S3Fake;

  beforeAll(async () => {
    fake = await startS3Fake();
    fake.createBucket(bucket);
    stubAwsEnv();
    vi.stubEnv('AWS_REGION', 'eu-central-1');
    vi.stubEnv('AWS_ENDPOINT_URL_S3', fake.url);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await fake.close();
  });

  it('writes with If-None-Match and a SHA-256 checksum, never replaces an object (412), reads back, lists across pages', async () => {
    const sink = createS3ArchiveSink(`${archiveUrl}/`, { forcePathStyle: true });
    expect(sink.url).toBe(archiveUrl);
    expect(await sink.put('segments/a.jsonl.gz', Buffer.from('first'))).toBe(`${archiveUrl}/segments/a.jsonl.gz`);
    const put = fake.requests.find((r) => r.method === 'PUT' && r.key === 'bedrock-support/segments/a.jsonl.gz');
    expect(put).toMatchObject({ style: 'path', status: 200, headers: { 'if-none-match': '*', 'x-amz-checksum-sha256': expect.any(String) as unknown } });
    expect(fake.objects(bucket).get('bedrock-support/segments/a.jsonl.gz')?.checksums).toHaveProperty('sha256');

    await expect(sink.put('segments/a.jsonl.gz', Buffer.from('second'))).rejects.toBeInstanceOf(ArchiveObjectExistsError);
    expect(fake.requests.at(-1)).toMatchObject({ status: 412, error: 'PreconditionFailed' });
    expect(Buffer.from((await sink.get('segments/a.jsonl.gz')) ?? []).toString()).toBe('first');
    expect(await sink.get('segments/missing')).toBeNull();

    fake.pageSize = 2;
    for (const n of [1, 2, 3, 4, 5]) {
      await sink.put(`checkpoints/checkpoint-${n}.json`, Buffer.from(String(n)));
    }
    expect((await sink.list('checkpoints/')).sort()).toEqual([1, 2, 3, 4, 5].map((n) => `checkpoints/checkpoint-${n}.json`));
    expect(fake.requests.filter((r) => r.query['list-type'] === '2' && r.query['continuation-token'] !== undefined).length).toBe(2);
    fake.pageSize = 1000;
    expect(await sink.region?.()).toEqual({ region: 'eu-central-1', basis: expect.stringContaining('HeadBucket') as unknown });
    sink.close();
  });

  it('signs for the configured AWS_REGION when the environment names none, and measures the bucket region', async () => {
    // The service's AWS_REGION setting defaults to eu-central-1; the SDK's own chain would find no region here.
    vi.stubEnv('AWS_REGION', undefined);
    vi.stubEnv('AWS_DEFAULT_REGION', undefined);
    try {
      const destinations = configuredArchiveDestinations({
        BSM_ARCHIVE_URL: 'file:///tmp/unused-archive',
        BSM_ARCHIVE_DESTINATIONS: [{ name: 'offsite', url: archiveUrl }],
        BSM_ARCHIVE_S3_FORCE_PATH_STYLE: true,
        AWS_REGION: 'eu-central-1',
      });
      const [local, offsite] = await measureArchiveLocations(destinations);
      expect(local).toMatchObject({ name: 'default', kind: 'local' });
      expect(offsite).toMatchObject({ name: 'offsite', kind: 'remote', region: 'eu-central-1', basis: 'HeadBucket on audit-archive: x-amz-bucket-region' });
    } finally {
      vi.stubEnv('AWS_REGION', 'eu-central-1');
    }
  });

  it('takes virtual-host requests, and streamed bodies in aws-chunked encoding with a CRC32 trailer (checked: a wrong one is BadDigest)', async () => {
    // `audit-archive.localhost` resolved to loopback by the agent (not every resolver does it by itself).
    const agent = new http.Agent({ lookup: (_host, options, done) => lookup('127.0.0.1', options, done) });
    const client = new S3Client({ endpoint: fake.localhostUrl, forcePathStyle: false, requestHandler: { httpAgent: agent } });
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'vh/object', Body: 'virtual' }));
    expect(fake.requests.at(-1)).toMatchObject({ style: 'virtual-host', bucket, key: 'vh/object', status: 200 });
    client.destroy();
    agent.destroy();

    const path = new S3Client({ forcePathStyle: true });
    const body = Buffer.alloc(70_000, 'x');
    await path.send(new PutObjectCommand({ Bucket: bucket, Key: 'streamed', Body: Readable.from([body.subarray(0, 30_000), body.subarray(30_000)]), ContentLength: body.length, ChecksumAlgorithm: 'CRC32' }));
    const streamed = fake.requests.at(-1);
    expect(streamed?.headers['content-encoding']).toContain('aws-chunked');
    expect(streamed?.headers['x-amz-trailer']).toBe('x-amz-checksum-crc32');
    expect(fake.objects(bucket).get('streamed')?.body.equals(body)).toBe(true);
    expect(fake.objects(bucket).get('streamed')?.checksums).toHaveProperty('crc32');
    await expect(path.send(new PutObjectCommand({ Bucket: bucket, Key: 'bad-digest', Body: 'abc', ChecksumSHA256: Buffer.alloc(32).toString('base64') }))).rejects.toMatchObject({ name: 'BadDigest' });
    path.destroy();
  });
});

/**
 * The runbook's archive to `s3://audit-archive/bedrock-support` end to end: archive on a compliance
 * worker, clean up, verify across the boundary online and offline (`bsm trail verify --archive s3://…`);
 * with S3 down the archive job fails and cleanup removes nothing.
 */
describe('audit-trail archive to S3', () => {
  let fake: S3Fake;
  let t: TestApp;
  let runner: Runner;
  let scratch: string;
  const s3Env = () => ({ AWS_ACCESS_KEY_ID: 'AKIDFAKEFORTESTS', AWS_SECRET_ACCESS_KEY: 'fake-secret', AWS_REGION: 'eu-central-1', AWS_ENDPOINT_URL_S3: fake.url, AWS_EC2_METADATA_DISABLED: 'true' });

  const json = async <T>(r: Response | Promise<Response>, status: number): Promise<T> => {
    const res = await r;
    const body = (await res.json()) as T;
    expect(res.status, JSON.stringify(body)).toBe(status);
    return body;
  };
  const archive = async (body: unknown) => {
    const accepted = await json<{ archiveId: string; resultUrl: string }>(t.call('POST', '/admin/bedrock-support/audit-trail/archive', { role: 'operator', body }), 202);
    await vi.waitFor(async () => expect([200, 409]).toContain((await t.call('GET', accepted.resultUrl, { role: 'viewer' })).status), { timeout: 30_000, interval: 100 });
    return t.call('GET', accepted.resultUrl, { role: 'viewer' });
  };

  beforeAll(async () => {
    fake = await startS3Fake();
    fake.createBucket(bucket, 'eu-central-1');
    fake.createBucket('offsite-archive', 'us-east-1');
    stubAwsEnv();
    for (const [k, v] of Object.entries(s3Env())) {
      vi.stubEnv(k, v);
    }
    t = await makeTestApp('trail-s3', {
      env: { BSM_ARCHIVE_URL: archiveUrl, BSM_ARCHIVE_DESTINATIONS: 'offsite=s3://offsite-archive/bsm', BSM_ARCHIVE_S3_FORCE_PATH_STYLE: 'true', BSM_ATTEMPTS: '1' },
    });
    runner = startTestRunner(t, ['compliance']);
    scratch = await mkdtemp(join(tmpdir(), 'bsm-trail-s3-'));
  });

  afterAll(async () => {
    await runner.close();
    await t.close();
    await fake.close();
    await rm(scratch, { recursive: true, force: true });
    vi.unstubAllEnvs();
  });

  it('archives to the configured S3 URL, cleans up after reading back, verifies across the boundary online and offline from S3', async () => {
    for (let i = 0; i < 30; i++) {
      await t.auditTrail.append({ actor: 'tester', action: 'test.entry', details: { i } });
    }
    const realClock = t.adapters.jobDeps.clock;
    t.adapters.jobDeps.clock = () => new Date(realClock().getTime() + 2 * 86_400_000);

    // A URL that is not configured stays a 400 naming the field.
    const unknown = await json<{ error: { details: { field: string } } }>(
      t.call('POST', '/admin/bedrock-support/audit-trail/archive', { role: 'operator', body: { destination: 's3://another-bucket/x' } }),
      400,
    );
    expect(unknown.error.details.field).toBe('destination');

    // The runbook's request, by the configured URL.
    const first = await json<ArchiveResult>(archive({ older_than: '1d', destination: archiveUrl }), 200);
    expect(first).toMatchObject({ destination: 'default', fromSeq: 1, cleanup: null });
    expect(first.archived).toBeGreaterThanOrEqual(30);
    expect(first.segments[0]?.location).toMatch(/^s3:\/\/audit-archive\/bedrock-support\/segments\/audit-trail-000000000001-\d{12}\.jsonl\.gz$/);
    const keys = [...fake.objects(bucket).keys()];
    expect(keys.filter((k) => k.startsWith('bedrock-support/segments/'))).toHaveLength(2);
    expect(keys.some((k) => k.startsWith('bedrock-support/checkpoints/checkpoint-'))).toBe(true);
    expect(keys.some((k) => k.startsWith('bedrock-support/keys/') && k.endsWith('.pem'))).toBe(true);
    // Every object written conditionally, with its SHA-256.
    const puts = fake.requests.filter((r) => r.method === 'PUT' && r.bucket === bucket && r.status === 200);
    expect(puts.length).toBeGreaterThanOrEqual(4);
    expect(puts.every((r) => r.headers['if-none-match'] === '*' && r.headers['x-amz-checksum-sha256'] !== undefined)).toBe(true);

    // S3 down: the archive job fails, and cleanup removes nothing.
    for (let i = 0; i < 3; i++) {
      await t.auditTrail.append({ actor: 'tester', action: 'test.later', details: { i } });
    }
    const lengthBefore = await t.auditTrail.length();
    await fake.stop();
    const failed = await json<{ error: { message: string } }>(archive({ older_than: '1d' }), 409);
    expect(failed.error.message).toMatch(/failed/);
    const refused = await json<{ error: { message: string } }>(t.call('POST', '/admin/bedrock-support/audit-trail/cleanup'), 409);
    expect(refused.error.message).toContain('nothing removed');
    expect(await t.auditTrail.length()).toBeGreaterThanOrEqual(lengthBefore);
    expect((await t.auditTrail.range({ count: 1 }))[0]?.event?.seq).toBe(1);
    await fake.start();

    const cleaned = await json<CleanupResult>(t.call('POST', '/admin/bedrock-support/audit-trail/cleanup'), 200);
    expect(cleaned).toMatchObject({ removed: first.archived, stopped: null, anchor: { seq: first.toSeq } });
    expect(cleaned.archives[0]?.location).toBe(first.segments[0]?.location);
    expect((await t.auditTrail.range({ count: 1 }))[0]?.event?.seq).toBe((first.toSeq ?? 0) + 1);
    const verified = await json<TrailVerificationReport>(t.call('GET', '/admin/bedrock-support/audit-trail/verify', { role: 'viewer' }), 200);
    expect(verified).toMatchObject({ ok: true, problemCount: 0, anchor: { seq: first.toSeq } });

    // Offline, from S3, with the public key pinned.
    const key = await json<PublicKeyView>(t.call('GET', '/admin/bedrock-support/audit-trail/public-key', { role: 'viewer' }), 200);
    const keyFile = join(scratch, 'audit-public-key.pem');
    await writeFile(keyFile, key.pem);
    const child = spawnBsm(['trail', 'verify', '--archive', archiveUrl, '--public-key', keyFile], { ...s3Env(), BSM_ARCHIVE_S3_FORCE_PATH_STYLE: 'true' });
    expect(await waitForExit(child, 60_000), child.output()).toBe(0);
    expect(child.output()).toContain(`archive ${archiveUrl}`);
    expect(child.output()).toMatch(/OK: the archive verifies/);

    // A changed object in the bucket fails the offline check, naming it.
    const segmentKey = keys.find((k) => k.endsWith('.jsonl.gz')) ?? '';
    const stored = fake.objects(bucket).get(segmentKey);
    if (!stored) {
      throw new Error('no segment in the bucket');
    }
    const original = stored.body;
    stored.body = Buffer.from(original);
    stored.body[stored.body.length - 5] = (stored.body[stored.body.length - 5] ?? 0) ^ 0xff;
    stored.checksums = {};
    const tampered = spawnBsm(['trail', 'verify', '--archive', archiveUrl, '--public-key', keyFile], { ...s3Env(), BSM_ARCHIVE_S3_FORCE_PATH_STYLE: 'true' });
    expect(await waitForExit(tampered, 60_000)).toBe(1);
    expect(tampered.output()).toMatch(/FAIL: .*segments\/audit-trail-000000000001/);
    stored.body = original;
  }, 120_000);

  it('reports each bucket region as measured: the default in eu-central-1, the offsite one in us-east-1 a violation', async () => {
    const status = await json<{ status: string; checks: { id: string; ok: boolean; detail: string; measured: Record<string, unknown> }[] }>(
      t.call('GET', '/admin/bedrock-support/compliance/gdpr/status', { role: 'viewer' }),
      200,
    );
    const check = status.checks.find((c) => c.id === 'archive.location');
    expect(check).toMatchObject({ ok: false, measured: { kind: 'remote', where: archiveUrl, region: 'eu-central-1' } });
    expect(check?.detail).toContain('default: s3://audit-archive/bedrock-support is in eu-central-1, in the EU');
    expect(check?.detail).toContain('offsite: s3://offsite-archive/bsm is in us-east-1, outside the EU');
    const residency = await json<{ entries: { data: string; where: string; region: string | null; basis: string }[] }>(
      t.call('GET', '/admin/bedrock-support/compliance/gdpr/residency', { role: 'viewer' }),
      200,
    );
    expect(residency.entries).toContainEqual({ data: 'archived audit trail', where: archiveUrl, region: 'eu-central-1', basis: 'HeadBucket on audit-archive: x-amz-bucket-region' });
    expect(residency.entries).toContainEqual(expect.objectContaining({ data: 'archived audit trail (destination offsite)', region: 'us-east-1' }));

    // A bucket that does not answer has no region: EU residency cannot be established.
    await fake.stop();
    try {
      const down = await json<{ checks: { id: string; ok: boolean; detail: string }[] }>(t.call('GET', '/admin/bedrock-support/compliance/gdpr/status', { role: 'viewer' }), 200);
      expect(down.checks.find((c) => c.id === 'archive.location')?.detail).toMatch(/default: s3:\/\/audit-archive\/bedrock-support has no measured region \(the region could not be measured/);
    } finally {
      await fake.start();
    }
  }, 60_000);
});
