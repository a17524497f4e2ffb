/**
 * The audit trail's archive in an S3 bucket (`s3://bucket/prefix`) through `@aws-sdk/client-s3`.
 *
 * Configuration is the standard AWS one: credentials from the SDK's default chain (the environment,
 * profiles, instance roles), the region the service is configured with (`AWS_REGION`, default
 * eu-central-1, as for Bedrock and CloudWatch; a bucket in another region is followed there), the endpoint from
 * `AWS_ENDPOINT_URL_S3` for an S3-compatible store. Objects are never replaced: every PutObject is
 * conditional (`If-None-Match: *`), so a key that exists answers 412 and the sink throws
 * {@link ArchiveObjectExistsError}; every PutObject carries the body's SHA-256 (`x-amz-checksum-sha256`),
 * which S3 checks before it stores the object, and reads ask for the stored checksum back.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { ArchiveDestinationError, ArchiveObjectExistsError, parseS3Url, type ArchiveSink } from '../domain/audit-trail/sink.js';

export interface S3ArchiveSinkOptions {
  /** Path-style requests (`https://endpoint/bucket/key`), as most S3-compatible stores want; virtual-host style otherwise. */
  forcePathStyle?: boolean;
  /** The region requests are signed for first (`AWS_REGION`); a bucket elsewhere answers with its own and is followed. */
  region?: string;
  /** The client, when the caller has one (tests); else one from the standard configuration. */
  client?: S3Client;
}

const statusOf = (err: unknown): number | undefined => (err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined);

/** A key the sink takes: relative, `/`-separated, nothing that climbs out of the prefix. */
function checkKey(key: string): void {
  if (key === '' || key.startsWith('/') || key.split('/').some((part, i, all) => (part === '' && i !== all.length - 1) || part === '.' || part === '..')) {
    throw new ArchiveDestinationError(`archive key ${JSON.stringify(key)} is not a relative path`);
  }
}

/** The archive sink of `url` (`s3://bucket/prefix`): see the module comment. */
export function createS3ArchiveSink(url: string, options: S3ArchiveSinkOptions = {}): ArchiveSink & { close(): void } {
  const { bucket, prefix } = parseS3Url(url);
  const client = options.client ?? new S3Client({ forcePathStyle: options.forcePathStyle ?? false, region: options.region, followRegionRedirects: true });
  const full = (key: string) => (prefix === '' ? key : `${prefix}/${key}`);
  const canonical = `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
  return {
    url: canonical,
    location: (key) => `${canonical}/${key}`,
    async put(key, body) {
      checkKey(key);
      try {
        await client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: full(key),
            Body: body,
            IfNoneMatch: '*',
            ChecksumSHA256: createHash('sha256').update(body).digest('base64'),
            ContentLength: body.byteLength,
          }),
        );
      } catch (err) {
        if (statusOf(err) === 412) {
          throw new ArchiveObjectExistsError(`${canonical}/${key} already exists`);
        }
        throw err;
      }
      return `${canonical}/${key}`;
    },
    async get(key) {
      checkKey(key);
      try {
        const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: full(key), ChecksumMode: 'ENABLED' }));
        return out.Body ? await out.Body.transformToByteArray() : new Uint8Array();
      } catch (err) {
        if (statusOf(err) === 404) {
          return null;
        }
        throw err;
      }
    },
    async list(listPrefix) {
      const keys: string[] = [];
      const strip = prefix === '' ? 0 : prefix.length + 1;
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: full(listPrefix), ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          if (o.Key !== undefined) {
            keys.push(o.Key.slice(strip));
          }
        }
        token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
      return keys;
    },
    async region() {
      // HeadBucket answers the bucket's region in `x-amz-bucket-region`: measured, not taken from a setting.
      const out = await client.send(new HeadBucketCommand({ Bucket: bucket }));
      return { region: out.BucketRegion ?? null, basis: out.BucketRegion ? `HeadBucket on ${bucket}: x-amz-bucket-region` : `HeadBucket on ${bucket} answered no region` };
    },
    close: () => client.destroy(),
  };
}
