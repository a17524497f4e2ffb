import type { Config } from '../config.js';
import { parseS3Url, type ArchiveDestinations, type ArchiveSink } from '../domain/audit-trail/sink.js';
import type { ArchiveLocation } from '../domain/compliance/gdpr-status.js';
import { archiveDestinations, archiveSinkFor as fileSinkFor } from '../store/archive-sink.js';

/**
 * An S3 sink whose SDK is loaded on first use: every process composes the destinations, few of them
 * archive, and the S3 client is a large module to load for nothing.
 */
export function lazyS3ArchiveSink(url: string, options: { forcePathStyle?: boolean; region?: string } = {}): ArchiveSink & { close(): void } {
  const { bucket, prefix } = parseS3Url(url);
  const canonical = `s3://${bucket}${prefix === '' ? '' : `/${prefix}`}`;
  let made: Promise<ArchiveSink & { close(): void }> | null = null;
  const sink = () => (made ??= import('../providers/s3-archive.provider.js').then((m) => m.createS3ArchiveSink(url, { forcePathStyle: options.forcePathStyle ?? false, region: options.region })));
  return {
    url: canonical,
    location: (key) => `${canonical}/${key}`,
    put: async (key, body) => (await sink()).put(key, body),
    get: async (key) => (await sink()).get(key),
    list: async (listPrefix) => (await sink()).list(listPrefix),
    region: async () => {
      const s = await sink();
      return s.region ? s.region() : { region: null, basis: 'the destination cannot say where it is' };
    },
    close: () => {
      void made?.then((s) => s.close());
    },
  };
}

/** The sink of a destination URL: a directory for `file://`, a bucket and prefix for `s3://`. */
export function archiveSinkFor(url: string, options: { forcePathStyle?: boolean; region?: string } = {}): ArchiveSink {
  return url.startsWith('s3://') ? lazyS3ArchiveSink(url, options) : fileSinkFor(url);
}

/**
 * The configured archive destinations: `default` at `BSM_ARCHIVE_URL` (the primary, or `defaultUrl`
 * when given: tests archive to a directory of their own), then those of `BSM_ARCHIVE_DESTINATIONS`.
 */
export function configuredArchiveDestinations(
  config: Pick<Config, 'BSM_ARCHIVE_URL' | 'BSM_ARCHIVE_DESTINATIONS' | 'BSM_ARCHIVE_S3_FORCE_PATH_STYLE' | 'AWS_REGION'>,
  options: { defaultUrl?: string } = {},
): ArchiveDestinations {
  const entries = [{ name: 'default', url: options.defaultUrl ?? config.BSM_ARCHIVE_URL }, ...(config.BSM_ARCHIVE_DESTINATIONS ?? [])];
  return archiveDestinations(entries, (url) => archiveSinkFor(url, { forcePathStyle: config.BSM_ARCHIVE_S3_FORCE_PATH_STYLE, region: config.AWS_REGION }));
}

/**
 * Where each configured destination keeps the archive, measured now: a directory is local; a bucket's
 * region is asked of S3 (HeadBucket), and a bucket that does not answer has no region, saying why.
 */
export async function measureArchiveLocations(destinations: ArchiveDestinations): Promise<ArchiveLocation[]> {
  return Promise.all(
    destinations.names.map(async (name): Promise<ArchiveLocation> => {
      const url = destinations.url(name) ?? '';
      if (url.startsWith('file://')) {
        return { name, url, kind: 'local', region: null, basis: 'a file:// directory on the host of the process that archives' };
      }
      try {
        const sink = destinations.sink(name);
        const measured = sink.region ? await sink.region() : { region: null, basis: 'the destination cannot say where it is' };
        return { name, url, kind: 'remote', ...measured };
      } catch (err) {
        return { name, url, kind: 'remote', region: null, basis: `the region could not be measured: ${(err as Error).name}: ${(err as Error).message}`.slice(0, 300) };
      }
    }),
  );
}
