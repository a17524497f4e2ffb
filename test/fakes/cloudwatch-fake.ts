/**
 * A fake CloudWatch on loopback that speaks what the installed SDK sends: AWS JSON 1.0 over
 * HTTP/1.1 (`POST /`, `Content-Type: application/x-amz-json-1.0`,
 * `X-Amz-Target: GraniteServiceVersion20100801.<Operation>`, SigV4 for the `monitoring` service),
 * PutMetricData bodies gzipped from 10 KB on (`Content-Encoding: gzip`).
 *
 * It checks each request as CloudWatch documents its limits (at most 1,000 data and 1 MB per
 * PutMetricData, a datum's name, dimensions, unit, exactly one of Value / StatisticValues / Values,
 * at most 150 values, a timestamp within two weeks back and two hours ahead; a dashboard body that
 * is JSON with placed widgets) and answers a violation as CloudWatch does (HTTP 400, the query
 * error code in `x-amzn-query-error`), recording why. Throttling is scripted: the next requests
 * are answered `Throttling` as CloudWatch answers past its request rate.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import { listenOnLoopback } from './listen.js';

export const cloudWatchTarget = 'GraniteServiceVersion20100801';

/** Units CloudWatch takes. */
export const cloudWatchUnits = [
  'Seconds', 'Microseconds', 'Milliseconds', 'Bytes', 'Kilobytes', 'Megabytes', 'Gigabytes', 'Terabytes', 'Bits', 'Kilobits', 'Megabits', 'Gigabits', 'Terabits',
  'Percent', 'Count', 'Bytes/Second', 'Kilobytes/Second', 'Megabytes/Second', 'Gigabytes/Second', 'Terabytes/Second', 'Bits/Second', 'Kilobits/Second',
  'Megabits/Second', 'Gigabits/Second', 'Terabits/Second', 'Count/Second', 'None',
];

/** A datum CloudWatch would have stored, with its request's namespace. */
export interface AcceptedDatum {
  namespace: string;
  metricName: string;
  dimensions: Record<string, string>;
  unit: string | undefined;
  /** Epoch ms. */
  timestamp: number;
  value?: number;
  statisticValues?: { SampleCount: number; Sum: number; Minimum: number; Maximum: number };
  values?: number[];
  counts?: number[];
}

export interface RecordedCloudWatchRequest {
  operation: string;
  headers: Record<string, string>;
  /** Bytes on the wire, and after gunzip. */
  wireBytes: number;
  bodyBytes: number;
  gzipped: boolean;
  body: unknown;
  status: number;
  /** Why it was refused (the error code and message), when it was. */
  refused?: string;
}

export interface CloudWatchFake {
  /** `http://127.0.0.1:<port>`: use as `endpoint` or `AWS_ENDPOINT_URL_CLOUDWATCH`. */
  readonly url: string;
  readonly requests: RecordedCloudWatchRequest[];
  /** Every datum accepted, in order. */
  readonly data: AcceptedDatum[];
  /** The dashboards as last put, by name (the body parsed). */
  readonly dashboards: Map<string, unknown>;
  /** The next `n` requests (of `operation`, or any) are answered `Throttling`. */
  throttleNext(n: number, operation?: string): void;
  reset(): void;
  close(): Promise<void>;
}

class Refusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown, min: number, max: number) => typeof v === 'string' && v.length >= min && v.length <= max;

function checkDatum(d: unknown, i: number, now: number): Omit<AcceptedDatum, 'namespace'> {
  const at = `MetricData.member.${i + 1}`;
  if (!isObject(d)) {
    throw new Refusal('InvalidParameterValue', `${at} is not a structure`);
  }
  if (!text(d.MetricName, 1, 255)) {
    throw new Refusal('InvalidParameterValue', `${at}.MetricName must be 1-255 characters`);
  }
  const dims = d.Dimensions ?? [];
  if (!Array.isArray(dims) || dims.length > 30) {
    throw new Refusal('InvalidParameterValue', `${at}.Dimensions: at most 30`);
  }
  const dimensions: Record<string, string> = {};
  for (const dim of dims) {
    if (!isObject(dim) || !text(dim.Name, 1, 255) || !text(dim.Value, 1, 1024)) {
      throw new Refusal('InvalidParameterValue', `${at}.Dimensions: each needs a Name (1-255) and a Value (1-1024)`);
    }
    dimensions[dim.Name as string] = dim.Value as string;
  }
  if (d.Unit !== undefined && !(typeof d.Unit === 'string' && cloudWatchUnits.includes(d.Unit))) {
    throw new Refusal('InvalidParameterValue', `${at}.Unit ${JSON.stringify(d.Unit)} is not a CloudWatch unit`);
  }
  const kinds = ['Value', 'StatisticValues', 'Values'].filter((k) => d[k] !== undefined);
  if (kinds.length !== 1) {
    throw new Refusal('InvalidParameterCombination', `${at}: exactly one of Value, StatisticValues and Values, got ${kinds.join(', ') || 'none'}`);
  }
  if (typeof d.Timestamp !== 'number' || !Number.isFinite(d.Timestamp)) {
    throw new Refusal('InvalidParameterValue', `${at}.Timestamp must be epoch seconds`);
  }
  const timestamp = Math.round(d.Timestamp * 1000);
  if (timestamp < now - 14 * 86_400_000 || timestamp > now + 2 * 3_600_000) {
    throw new Refusal('InvalidParameterValue', `${at}.Timestamp is more than two weeks old or two hours ahead`);
  }
  const base = { metricName: d.MetricName as string, dimensions, unit: d.Unit, timestamp };
  if (d.Value !== undefined) {
    if (typeof d.Value !== 'number' || !Number.isFinite(d.Value)) {
      throw new Refusal('InvalidParameterValue', `${at}.Value must be a finite number`);
    }
    return { ...base, value: d.Value };
  }
  if (d.StatisticValues !== undefined) {
    const s = d.StatisticValues;
    if (!isObject(s) || ![s.SampleCount, s.Sum, s.Minimum, s.Maximum].every((n) => typeof n === 'number' && Number.isFinite(n)) || (s.SampleCount as number) <= 0 || (s.Minimum as number) > (s.Maximum as number)) {
      throw new Refusal('InvalidParameterValue', `${at}.StatisticValues needs SampleCount > 0, Sum, Minimum <= Maximum`);
    }
    return { ...base, statisticValues: s as AcceptedDatum['statisticValues'] };
  }
  const values = d.Values;
  const counts = d.Counts;
  if (!Array.isArray(values) || values.length === 0 || values.length > 150 || !values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new Refusal('InvalidParameterValue', `${at}.Values: 1 to 150 numbers`);
  }
  if (counts !== undefined && (!Array.isArray(counts) || counts.length !== values.length || !counts.every((c) => typeof c === 'number' && c >= 0))) {
    throw new Refusal('InvalidParameterValue', `${at}.Counts: one count >= 0 per value`);
  }
  return { ...base, values: values as number[], ...(counts === undefined ? {} : { counts: counts as number[] }) };
}

/** The checks CloudWatch's dashboard validation makes that matter here. */
function checkDashboard(name: unknown, rawBody: unknown): unknown {
  if (!text(name, 1, 255) || !/^[A-Za-z0-9_-]+$/.test(name as string)) {
    throw new Refusal('InvalidParameterValue', 'DashboardName: 1-255 of A-Z a-z 0-9 - _');
  }
  const invalid = (message: string, path = '') => new Refusal('InvalidParameterInput', 'The dashboard body is invalid, there are 1 validation errors', { dashboardValidationMessages: [{ dataPath: path, message }] });
  let body: unknown;
  try {
    body = JSON.parse(String(rawBody));
  } catch {
    throw invalid('Should be valid JSON');
  }
  if (!isObject(body) || !Array.isArray(body.widgets)) {
    throw invalid('Should have a widgets array', '/widgets');
  }
  body.widgets.forEach((w: unknown, i: number) => {
    const at = `/widgets/${i}`;
    if (!isObject(w) || !['metric', 'text', 'log', 'alarm', 'explorer'].includes(String(w.type)) || !isObject(w.properties)) {
      throw invalid('Should be a widget with a type and properties', at);
    }
    const { x, y, width, height } = w;
    if (![x, y, width, height].every((n) => Number.isInteger(n)) || (width as number) < 1 || (width as number) > 24 || (x as number) + (width as number) > 24 || (height as number) < 1) {
      throw invalid('Should be placed on the 24-column grid', at);
    }
    const p = w.properties;
    if (w.type === 'text' && typeof p.markdown !== 'string') {
      throw invalid('Should have markdown', `${at}/properties/markdown`);
    }
    if (w.type === 'metric') {
      if (typeof p.region !== 'string' || !Array.isArray(p.metrics) || p.metrics.length === 0) {
        throw invalid('Should have a region and metrics', `${at}/properties`);
      }
      p.metrics.forEach((m: unknown, j: number) => {
        const ok =
          Array.isArray(m) &&
          ((m.length === 1 && isObject(m[0]) && typeof m[0].expression === 'string' && typeof m[0].id === 'string') ||
            (m.length >= 2 &&
              m.slice(0, isObject(m.at(-1)) ? -1 : undefined).every((part) => typeof part === 'string') &&
              m.slice(0, isObject(m.at(-1)) ? -1 : undefined).length % 2 === 0));
        if (!ok) {
          throw invalid('Should be [namespace, name, dimension, value, ..., options] or [{expression, id}]', `${at}/properties/metrics/${j}`);
        }
      });
    }
  });
  return body;
}

/** Starts the fake on 127.0.0.1, on a free port. */
export async function startCloudWatchFake(): Promise<CloudWatchFake> {
  const requests: RecordedCloudWatchRequest[] = [];
  const data: AcceptedDatum[] = [];
  const dashboards = new Map<string, unknown>();
  const throttles: (string | null)[] = [];
  let requestCounter = 0;

  const answer = (res: http.ServerResponse, status: number, body: unknown, queryError?: string) => {
    const payload = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/x-amz-json-1.0',
      'content-length': String(Buffer.byteLength(payload)),
      'x-amzn-requestid': `fake-cw-${(requestCounter += 1)}`,
      ...(queryError === undefined ? {} : { 'x-amzn-query-error': queryError }),
    });
    res.end(payload);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const wire = Buffer.concat(chunks);
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : (v ?? '')]));
      const gzipped = headers['content-encoding'] === 'gzip';
      const target = headers['x-amz-target'] ?? '';
      const operation = target.startsWith(`${cloudWatchTarget}.`) ? target.slice(cloudWatchTarget.length + 1) : target;
      const record: RecordedCloudWatchRequest = { operation, headers, wireBytes: wire.length, bodyBytes: 0, gzipped, body: undefined, status: 0 };
      requests.push(record);
      const refuse = (status: number, code: string, message: string, extra: Record<string, unknown> = {}, fault = 'Sender') => {
        record.status = status;
        record.refused = `${code}: ${message}`;
        answer(res, status, { __type: `com.amazonaws.cloudwatch#${code}`, message, ...extra }, `${code};${fault}`);
      };
      try {
        const raw = gzipped ? gunzipSync(wire) : wire;
        record.bodyBytes = raw.length;
        if (req.method !== 'POST' || req.url !== '/') {
          refuse(404, 'UnknownOperationException', `no route for ${req.method ?? ''} ${req.url ?? ''}`);
          return;
        }
        if (headers['content-type'] !== 'application/x-amz-json-1.0') {
          refuse(400, 'InvalidParameterValue', `Content-Type must be application/x-amz-json-1.0, got ${headers['content-type'] ?? '(none)'}`);
          return;
        }
        if (!/^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/monitoring\/aws4_request, SignedHeaders=.+, Signature=[0-9a-f]{64}$/.test(headers.authorization ?? '')) {
          refuse(403, 'IncompleteSignature', 'the request is not signed for CloudWatch (SigV4, service monitoring)');
          return;
        }
        const body: unknown = JSON.parse(raw.toString('utf8'));
        record.body = body;
        const throttleAt = throttles.findIndex((t) => t === null || t === operation);
        if (throttleAt >= 0) {
          throttles.splice(throttleAt, 1);
          refuse(400, 'Throttling', 'Rate exceeded');
          return;
        }
        if (!isObject(body)) {
          refuse(400, 'InvalidParameterValue', 'the body is not a JSON object');
          return;
        }
        switch (operation) {
          case 'PutMetricData': {
            if (raw.length > 1_048_576) {
              refuse(413, 'RequestEntityTooLarge', `the request is ${raw.length} bytes, more than 1 MB`);
              return;
            }
            if (!text(body.Namespace, 1, 255) || (body.Namespace as string).startsWith('AWS/')) {
              refuse(400, 'InvalidParameterValue', 'Namespace must be 1-255 characters and not start with AWS/');
              return;
            }
            const list = body.MetricData;
            if (!Array.isArray(list) || list.length === 0 || list.length > 1_000) {
              refuse(400, 'InvalidParameterValue', `MetricData must hold 1 to 1000 data, got ${Array.isArray(list) ? list.length : 'none'}`);
              return;
            }
            const now = Date.now();
            const accepted = list.map((d, i) => ({ namespace: body.Namespace as string, ...checkDatum(d, i, now) }));
            data.push(...accepted);
            record.status = 200;
            answer(res, 200, {});
            return;
          }
          case 'PutDashboard': {
            dashboards.set(body.DashboardName as string, checkDashboard(body.DashboardName, body.DashboardBody));
            record.status = 200;
            answer(res, 200, { DashboardValidationMessages: [] });
            return;
          }
          default:
            refuse(400, 'InvalidAction', `the fake does not know ${target}`);
        }
      } catch (err) {
        if (err instanceof Refusal) {
          refuse(400, err.code, err.message, err.extra);
        } else {
          refuse(500, 'InternalServiceError', (err as Error).message, {}, 'Receiver');
        }
      }
    });
  });

  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    data,
    dashboards,
    throttleNext(n, operation) {
      for (let i = 0; i < n; i += 1) {
        throttles.push(operation ?? null);
      }
    },
    reset() {
      requests.length = 0;
      data.length = 0;
      dashboards.clear();
      throttles.length = 0;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
