/**
 * A small S3 on loopback that speaks what `@aws-sdk/client-s3` sends (s3rver predates the SDK's
 * flexible checksums): path-style requests (`/bucket/key`, the SDK's `forcePathStyle`) and
 * virtual-host ones (`Host: bucket.localhost:port`); PutObject with `If-None-Match: *` (412 when
 * the key exists), the checksums the SDK computes (`x-amz-checksum-crc32`, `-crc32c` not checked,
 * `-sha256`, `-sha1` not checked, `Content-MD5`), checked against the body, whether sent as
 * headers or as trailers of an `aws-chunked` body (signed or unsigned chunks); GetObject (with the
 * stored checksum answered when `x-amz-checksum-mode: ENABLED`), HeadObject, HeadBucket (the
 * bucket's region in `x-amz-bucket-region`), ListObjectsV2 with prefix, max-keys and
 * continuation tokens. Errors are S3's XML bodies. Requests must carry a SigV4 `Authorization`
 * header; the signature itself is not checked.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { crc32 } from 'node:zlib';
import { listenOnLoopback } from './listen.js';

export interface S3Object {
  body: Buffer;
  etag: string;
  /** The checksums the client sent and that matched (header name without `x-amz-checksum-`, base64). */
  checksums: Record<string, string>;
  lastModified: Date;
}

export interface RecordedS3Request {
  method: string;
  /** `path` or `virtual-host`. */
  style: 'path' | 'virtual-host';
  bucket: string | null;
  key: string | null;
  query: Record<string, string>;
  headers: Record<string, string>;
  status: number;
  /** S3's error code, when it answered one. */
  error?: string;
}

export interface S3Fake {
  /** `http://127.0.0.1:<port>`: `AWS_ENDPOINT_URL_S3`. */
  readonly url: string;
  /** `http://localhost:<port>`: for virtual-host requests (`bucket.localhost` resolves to loopback where the resolver follows RFC 6761). */
  readonly localhostUrl: string;
  readonly requests: RecordedS3Request[];
  /** Creates a bucket in `region` (default eu-central-1). */
  createBucket(name: string, region?: string): void;
  objects(bucket: string): Map<string, S3Object>;
  /** Answers ListObjectsV2 at most this many keys a page, whatever max-keys asks (default 1000). */
  pageSize: number;
  /** Stops answering (connections refused) until {@link start} again on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function errorXml(code: string, message: string, resource: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message><Resource>${xmlEscape(resource)}</Resource><RequestId>fake-${Date.now()}</RequestId></Error>`;
}

const crc32Base64 = (b: Buffer) => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(crc32(b) >>> 0);
  return out.toString('base64');
};

/** The checksums the fake can recompute, by algorithm name as S3 names its headers. */
const checkers: Record<string, (b: Buffer) => string> = {
  crc32: crc32Base64,
  sha256: (b) => createHash('sha256').update(b).digest('base64'),
  sha1: (b) => createHash('sha1').update(b).digest('base64'),
};

/**
 * Decodes an `aws-chunked` body: `<hex size>[;chunk-signature=…]\r\n<data>\r\n` … `0…\r\n`, then
 * trailer lines `name:value\r\n` and a blank line. Returns the data and the trailers.
 */
export function decodeAwsChunked(raw: Buffer): { data: Buffer; trailers: Record<string, string> } {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at);
    if (eol < 0) {
      throw new Error('aws-chunked: a chunk header without CRLF');
    }
    const header = raw.subarray(at, eol).toString('latin1');
    const size = Number.parseInt(header.split(';')[0] ?? '', 16);
    if (!Number.isFinite(size)) {
      throw new Error(`aws-chunked: bad chunk size ${JSON.stringify(header)}`);
    }
    at = eol + 2;
    if (size === 0) {
      break;
    }
    parts.push(raw.subarray(at, at + size));
    at += size;
    if (raw.subarray(at, at + 2).toString('latin1') !== '\r\n') {
      throw new Error('aws-chunked: a chunk not followed by CRLF');
    }
    at += 2;
  }
  const trailers: Record<string, string> = {};
  for (const line of raw.subarray(at).toString('latin1').split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) {
      trailers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
  }
  return { data: Buffer.concat(parts), trailers };
}

export async function startS3Fake(): Promise<S3Fake> {
  const buckets = new Map<string, { region: string; objects: Map<string, S3Object> }>();
  const requests: RecordedS3Request[] = [];
  let port = 0;

  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const host = (req.headers.host ?? '').replace(/:\d+$/, '');
      const virtual = /^([a-z0-9][a-z0-9.-]*[a-z0-9])\.(localhost|127\.0\.0\.1)$/.exec(host);
      const path = decodeURIComponent(url.pathname);
      let bucket: string | null;
      let key: string | null;
      if (virtual) {
        bucket = virtual[1] ?? null;
        key = path.length > 1 ? path.slice(1) : null;
      } else {
        const [, b, ...rest] = path.split('/');
        bucket = b === undefined || b === '' ? null : b;
        key = rest.length > 0 && rest.join('/') !== '' ? rest.join('/') : null;
      }
      const query = Object.fromEntries(url.searchParams.entries());
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
      const record: RecordedS3Request = { method: req.method ?? '', style: virtual ? 'virtual-host' : 'path', bucket, key, query, headers, status: 0 };
      requests.push(record);
      const reply = (status: number, body: string | Buffer = '', extra: Record<string, string> = {}) => {
        record.status = status;
        res.writeHead(status, { 'x-amz-request-id': `fake-${requests.length}`, ...extra });
        res.end(req.method === 'HEAD' ? undefined : body);
      };
      const fail = (status: number, code: string, message: string) => {
        record.error = code;
        reply(status, errorXml(code, message, url.pathname), { 'content-type': 'application/xml' });
      };
      if (!(req.headers.authorization ?? '').startsWith('AWS4-HMAC-SHA256 ')) {
        fail(403, 'AccessDenied', 'the request is not signed with SigV4');
        return;
      }
      const b = bucket === null ? undefined : buckets.get(bucket);
      if (!b) {
        fail(404, 'NoSuchBucket', `the bucket ${bucket ?? '(none)'} does not exist`);
        return;
      }
      const raw = Buffer.concat(chunks);
      if (key === null) {
        if (req.method === 'HEAD') {
          reply(200, '', { 'x-amz-bucket-region': b.region });
          return;
        }
        if (req.method === 'GET' && query['list-type'] === '2') {
          const prefix = query.prefix ?? '';
          const max = Math.min(Number(query['max-keys'] ?? 1000), fake.pageSize);
          const after = query['continuation-token'] === undefined ? (query['start-after'] ?? '') : Buffer.from(query['continuation-token'], 'base64url').toString('utf8');
          const keys = [...b.objects.keys()].filter((k) => k.startsWith(prefix) && k > after).sort();
          const page = keys.slice(0, max);
          const truncated = keys.length > page.length;
          const contents = page
            .map((k) => {
              const o = b.objects.get(k) as S3Object;
              return `<Contents><Key>${xmlEscape(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>&quot;${o.etag}&quot;</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
            })
            .join('');
          const next = truncated ? `<NextContinuationToken>${Buffer.from(page.at(-1) ?? '', 'utf8').toString('base64url')}</NextContinuationToken>` : '';
          const token = query['continuation-token'] === undefined ? '' : `<ContinuationToken>${xmlEscape(query['continuation-token'])}</ContinuationToken>`;
          reply(
            200,
            `<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${bucket}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${max}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${token}${contents}${next}</ListBucketResult>`,
            { 'content-type': 'application/xml' },
          );
          return;
        }
        fail(501, 'NotImplemented', `the fake does not implement ${req.method ?? ''} on a bucket`);
        return;
      }
      if (req.method === 'PUT') {
        let body: Buffer = raw;
        let sent: Record<string, string> = {};
        const encoding = (headers['content-encoding'] ?? '').split(',').map((s) => s.trim());
        try {
          if (encoding.includes('aws-chunked') || (headers['x-amz-content-sha256'] ?? '').startsWith('STREAMING-')) {
            const decoded = decodeAwsChunked(raw);
            body = decoded.data;
            sent = decoded.trailers;
            const declared = headers['x-amz-decoded-content-length'];
            if (declared !== undefined && Number(declared) !== body.length) {
              fail(400, 'IncompleteBody', `x-amz-decoded-content-length ${declared}, but ${body.length} bytes came`);
              return;
            }
          }
        } catch (err) {
          fail(400, 'InvalidRequest', (err as Error).message);
          return;
        }
        for (const [name, value] of Object.entries(headers)) {
          if (name.startsWith('x-amz-checksum-') && name !== 'x-amz-checksum-algorithm' && name !== 'x-amz-checksum-type') {
            sent[name] = value;
          }
        }
        const checksums: Record<string, string> = {};
        for (const [name, value] of Object.entries(sent)) {
          const algorithm = name.replace(/^x-amz-checksum-/, '');
          const check = checkers[algorithm];
          if (check) {
            if (check(body) !== value) {
              fail(400, 'BadDigest', `the ${algorithm.toUpperCase()} you specified did not match the calculated checksum`);
              return;
            }
            checksums[algorithm] = value;
          }
        }
        const md5 = headers['content-md5'];
        if (md5 !== undefined && createHash('md5').update(body).digest('base64') !== md5) {
          fail(400, 'BadDigest', 'the Content-MD5 you specified did not match what we received');
          return;
        }
        if (headers['if-none-match'] === '*' && b.objects.has(key)) {
          fail(412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          return;
        }
        const etag = createHash('md5').update(body).digest('hex');
        b.objects.set(key, { body, etag, checksums, lastModified: new Date() });
        reply(200, '', { etag: `"${etag}"`, ...Object.fromEntries(Object.entries(checksums).map(([a, v]) => [`x-amz-checksum-${a}`, v])) });
        return;
      }
      if (req.method === 'GET' || req.method === 'HEAD') {
        const o = b.objects.get(key);
        if (!o) {
          fail(404, 'NoSuchKey', 'The specified key does not exist.');
          return;
        }
        const extra: Record<string, string> = { etag: `"${o.etag}"`, 'content-length': String(o.body.length), 'last-modified': o.lastModified.toUTCString(), 'content-type': 'application/octet-stream' };
        if ((headers['x-amz-checksum-mode'] ?? '').toUpperCase() === 'ENABLED') {
          for (const [a, v] of Object.entries(o.checksums)) {
            extra[`x-amz-checksum-${a}`] = v;
          }
          if (Object.keys(o.checksums).length > 0) {
            extra['x-amz-checksum-type'] = 'FULL_OBJECT';
          }
        }
        reply(200, o.body, extra);
        return;
      }
      fail(501, 'NotImplemented', `the fake does not implement ${req.method ?? ''} on an object`);
    });
  };

  let server = http.createServer(handler);
  port = await listenOnLoopback(server);
  const closeServer = (s: http.Server) =>
    new Promise<void>((done) => {
      s.closeAllConnections();
      s.close(() => done());
    });

  const fake: S3Fake = {
    url: `http://127.0.0.1:${port}`,
    localhostUrl: `http://localhost:${port}`,
    requests,
    pageSize: 1000,
    createBucket(name, region = 'eu-central-1') {
      buckets.set(name, { region, objects: new Map() });
    },
    objects(name) {
      const b = buckets.get(name);
      if (!b) {
        throw new Error(`no bucket ${name}`);
      }
      return b.objects;
    },
    stop: () => closeServer(server),
    async start() {
      server = http.createServer(handler);
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(port, '127.0.0.1', () => done());
      });
    },
    close: () => closeServer(server),
  };
  return fake;
}
