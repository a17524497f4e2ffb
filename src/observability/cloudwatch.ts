/**
 * CloudWatch through the AWS SDK: PutMetricData within the API's limits and PutDashboard.
 *
 * Configuration is the standard AWS one: credentials from the SDK's default chain, the endpoint
 * from `AWS_ENDPOINT_URL_CLOUDWATCH` (read by the SDK) unless `endpoint` is given. This SDK
 * version speaks AWS JSON 1.0 to CloudWatch (`X-Amz-Target: GraniteServiceVersion20100801.<Operation>`)
 * and gzips PutMetricData bodies of 10 KB and more. The client makes one attempt per request:
 * throttled requests are retried here, with a growing wait, request by request, so a throttle in
 * the middle of a publication does not send the requests before it twice.
 */
import { CloudWatchClient, PutDashboardCommand, PutMetricDataCommand, type MetricDatum as SdkDatum } from '@aws-sdk/client-cloudwatch';
import { batches } from '../domain/cloudwatch/batches.js';
import { componentDimension, type MetricDatum, type Namespace } from '../domain/cloudwatch/metrics.js';
import { CloudWatchRequestError, CloudWatchThrottledError, type CloudWatchApi } from '../domain/cloudwatch/ports.js';
import { defaultRetryPolicy, retryWhileThrottled, type RetryPolicy } from '../domain/cloudwatch/retry.js';
import { isRecord } from '../domain/guards.js';

/** PutMetricData's limits: data per request, and bytes per request (1 MB, counted as 10^6 to stay clear of it). */
export const putMetricDataLimits = { maxData: 1_000, maxBytes: 1_000_000 } as const;

export interface CloudWatchOptions {
  /** AWS region, e.g. `eu-central-1`. */
  region: string;
  /** Endpoint override; without it the SDK uses `AWS_ENDPOINT_URL_CLOUDWATCH` or the regional endpoint. */
  endpoint?: string;
  /** Retries of a throttled request. Default {@link defaultRetryPolicy}. */
  retry?: RetryPolicy;
  /** Told of each throttled request before it is sent again. */
  onThrottled?: (event: { operation: string; attempt: number; waitMs: number }) => void;
}

/** Error codes CloudWatch (and the AWS SDK) use for throttling. */
const throttlingCodes = new Set(['Throttling', 'ThrottlingException', 'ThrottledException', 'RequestLimitExceeded', 'TooManyRequestsException', 'RequestThrottled']);

/** The datum as CloudWatch's API takes it. */
export function toSdkDatum(d: MetricDatum): SdkDatum {
  const out: SdkDatum = {
    MetricName: d.name,
    Timestamp: d.timestamp,
    Unit: d.unit,
    ...(d.component === null ? {} : { Dimensions: [{ Name: componentDimension, Value: d.component }] }),
  };
  if ('value' in d) {
    out.Value = d.value;
  } else if ('statistics' in d) {
    out.StatisticValues = { SampleCount: d.statistics.sampleCount, Sum: d.statistics.sum, Minimum: d.statistics.minimum, Maximum: d.statistics.maximum };
  } else {
    out.Values = d.values;
    out.Counts = d.counts;
  }
  return out;
}

/** Bytes the datum takes in the JSON body (the timestamp as epoch seconds, as the SDK writes it), with its separator. */
function wireBytes(d: SdkDatum): number {
  return Buffer.byteLength(JSON.stringify({ ...d, Timestamp: (d.Timestamp?.getTime() ?? 0) / 1000 })) + 1;
}

export function createCloudWatch(options: CloudWatchOptions): CloudWatchApi & { close(): void } {
  // Made at the first request: an install that never talks to CloudWatch never loads a client.
  let client: CloudWatchClient | null = null;
  const cloudWatch = (): CloudWatchClient =>
    (client ??= new CloudWatchClient({
      region: options.region,
      maxAttempts: 1,
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    }));
  const policy = options.retry ?? defaultRetryPolicy;

  async function send<T>(operation: string, call: () => Promise<T>, signal: AbortSignal | undefined): Promise<{ value: T; throttled: number }> {
    return retryWhileThrottled(
      async () => {
        try {
          return await call();
        } catch (err) {
          throw toRequestError(operation, err);
        }
      },
      policy,
      {
        throttled: (err) => err instanceof CloudWatchThrottledError,
        signal,
        onThrottled: (attempt, waitMs) => options.onThrottled?.({ operation, attempt, waitMs }),
      },
    );
  }

  return {
    async putMetricData(namespace: Namespace, data: readonly MetricDatum[], signal?: AbortSignal) {
      const sdkData = data.map(toSdkDatum);
      const overheadBytes = Buffer.byteLength(JSON.stringify({ Namespace: namespace, MetricData: [] }));
      let requests = 0;
      let throttled = 0;
      for (const batch of batches(sdkData, { maxItems: putMetricDataLimits.maxData, maxBytes: putMetricDataLimits.maxBytes, overheadBytes }, wireBytes)) {
        const sent = await send('PutMetricData', () => cloudWatch().send(new PutMetricDataCommand({ Namespace: namespace, MetricData: batch }), { abortSignal: signal }), signal);
        requests += 1;
        throttled += sent.throttled;
      }
      return { requests, throttled };
    },

    async putDashboard(name: string, body: string, signal?: AbortSignal) {
      const { value } = await send('PutDashboard', () => cloudWatch().send(new PutDashboardCommand({ DashboardName: name, DashboardBody: body }), { abortSignal: signal }), signal);
      return { validationMessages: (value.DashboardValidationMessages ?? []).map((m) => (m.DataPath ? `${m.DataPath}: ${m.Message ?? ''}` : (m.Message ?? ''))) };
    },

    close() {
      client?.destroy();
      client = null;
    },
  };
}

function toRequestError(operation: string, error: unknown): CloudWatchRequestError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  // In AWS JSON with query compatibility, CloudWatch's own code (`Throttling`) comes as `Code`.
  const code = isRecord(error) && typeof error.Code === 'string' ? error.Code : name;
  const status = isRecord(error) && isRecord(error.$metadata) && typeof error.$metadata.httpStatusCode === 'number' ? error.$metadata.httpStatusCode : undefined;
  if (throttlingCodes.has(code) || throttlingCodes.has(name) || status === 429) {
    return new CloudWatchThrottledError(`CloudWatch throttled ${operation}: ${message}`, code, status, { cause: error });
  }
  const where = status === undefined ? '' : ` (HTTP ${status})`;
  return new CloudWatchRequestError(`CloudWatch ${operation} failed${where}: ${code}: ${message}`, code, status, { cause: error });
}
