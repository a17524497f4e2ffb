/** An object of that name is already in the archive: archives never replace what they hold. */
export class ArchiveObjectExistsError extends Error {
  override readonly name = 'ArchiveObjectExistsError';
}

/** A destination that is not configured, or cannot be used. */
export class ArchiveDestinationError extends Error {
  override readonly name = 'ArchiveDestinationError';
}

/**
 * Where the audit trail's archive lives: a store of whole objects under relative keys
 * (`segments/…`, `checkpoints/…`, `keys/…`): a directory (`file://`), or an S3 bucket and prefix
 * (`s3://`: PutObject with `If-None-Match: *`, GetObject, ListObjectsV2).
 */
export interface ArchiveSink {
  /** The destination as configured (`file:///var/lib/bsm/archive`, `s3://bucket/prefix`). */
  readonly url: string;
  /** Where `key` is, as a URL a person can open. */
  location(key: string): string;
  /**
   * Stores `body` under `key`, durable before the promise resolves (fsync'ed; for S3, the PUT
   * answered). Never replaces an object: throws {@link ArchiveObjectExistsError} when one is there.
   * Resolves to the object's location.
   */
  put(key: string, body: Uint8Array): Promise<string>;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** The keys that start with `prefix`, in any order. */
  list(prefix: string): Promise<string[]>;
  /**
   * Where a remote destination keeps its objects, asked of the store itself (S3: the bucket's
   * region from HeadBucket), with how it was found out. Absent on a local directory.
   */
  region?(): Promise<{ region: string | null; basis: string }>;
}

/**
 * The configured archive destinations, by name. The first is the primary: the signed
 * checkpoints live there. A request names a destination, never a URL.
 */
export interface ArchiveDestinations {
  readonly names: readonly string[];
  /** The configured URL of a destination; undefined for an unknown name. */
  url(name: string): string | undefined;
  /** The sink of a destination; throws {@link ArchiveDestinationError} when it is unknown or unusable. */
  sink(name: string): ArchiveSink;
}

/** `s3://bucket/prefix` split: the bucket and the key prefix (no leading or trailing `/`, possibly empty). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(\/.*)?$/.exec(url);
  if (!m?.[1]) {
    throw new ArchiveDestinationError(`archive destination ${url} is not s3://<bucket>/<prefix> with a valid bucket name`);
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix.split('/').some((p) => p === '.' || p === '..')) {
    throw new ArchiveDestinationError(`archive destination ${url}: the prefix may not contain . or .. parts`);
  }
  return { bucket: m[1], prefix };
}

/** The destination the checkpoints are written to. */
export function primaryDestination(destinations: ArchiveDestinations): string {
  const first = destinations.names[0];
  if (first === undefined) {
    throw new ArchiveDestinationError('no archive destination is configured');
  }
  return first;
}
