import { CloudWatchClient, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import type { MetricDatum } from '../../src/domain/cloudwatch/metrics.js';
import { CloudWatchRequestError, CloudWatchThrottledError } from '../../src/domain/cloudwatch/ports.js';
import { createCloudWatch, toSdkDatum } from '../../src/observability/cloudwatch.js';
import { startCloudWatchFake, type CloudWatchFake } from '../fakes/cloudwatch-fake.js';
import { stubAwsEnv } from '../helpers/aws.js';

const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);

const latency = (component: string | null, values: number[]): MetricDatum => ({
  namespace: 'BedrockSupport/Performance',
  name: 'OperationLatency',
  unit: 'Milliseconds',
  component,
  timestamp: at,
  values,
  counts: values.map(() => 1),
});

describe('the CloudWatch client against a fake CloudWatch on loopback', () => {
  let fake: CloudWatchFake;
  const clients: { close(): void }[] = [];
  const client = (options: Partial<Parameters<typeof createCloudWatch>[0]> = {}) => {
    const c = createCloudWatch({ region: 'eu-central-1', endpoint: fake.url, retry: { attempts: 3, baseMs: 5, maxMs: 20 }, ...options });
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    fake = await startCloudWatchFake();
    stubAwsEnv();
  });
  afterEach(() => {
    fake.reset();
  });
  afterAll(async () => {
    for (const c of clients) {
      c.close();
    }
    await fake.close();
    vi.unstubAllEnvs();
  });

  it('sends PutMetricData as AWS JSON 1.0, signed for monitoring, every datum as given', async () => {
    const data: MetricDatum[] = [
      { namespace: 'BedrockSupport/Performance', name: 'SuccessCount', unit: 'Count', component: 'meta-monitor', timestamp: at, value: 3 },
      { namespace: 'BedrockSupport/Performance', name: 'SuccessCount', unit: 'Count', component: null, timestamp: at, value: 3 },
      latency('meta-monitor', [12, 40]),
    ];
    expect(await client().putMetricData('BedrockSupport/Performance', data)).toEqual({ requests: 1, throttled: 0 });
    expect(fake.requests.map((r) => [r.operation, r.status, r.refused])).toEqual([['PutMetricData', 200, undefined]]);
    const [sent] = fake.requests;
    expect(sent?.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(sent?.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.PutMetricData');
    expect(sent?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDFAKEFORTESTS\/\d{8}\/eu-central-1\/monitoring\/aws4_request/);
    expect(fake.data).toEqual([
      { namespace: 'BedrockSupport/Performance', metricName: 'SuccessCount', dimensions: { Component: 'meta-monitor' }, unit: 'Count', timestamp: at.getTime(), value: 3 },
      { namespace: 'BedrockSupport/Performance', metricName: 'SuccessCount', dimensions: {}, unit: 'Count', timestamp: at.getTime(), value: 3 },
      { namespace: 'BedrockSupport/Performance', metricName: 'OperationLatency', dimensions: { Component: 'meta-monitor' }, unit: 'Milliseconds', timestamp: at.getTime(), values: [12, 40], counts: [1, 1] },
    ]);
  });

  it('splits more than 1,000 data into requests of at most 1,000, gzipped, all of them received once', async () => {
    const data = Array.from({ length: 2_345 }, (_, i) => latency(`c${i % 7}`, [i]));
    expect(await client().putMetricData('BedrockSupport/Performance', data)).toEqual({ requests: 3, throttled: 0 });
    expect(fake.requests.map((r) => (r.body as { MetricData: unknown[] }).MetricData.length)).toEqual([1_000, 1_000, 345]);
    expect(fake.requests.every((r) => r.gzipped && r.status === 200)).toBe(true);
    expect(fake.data.map((d) => d.values?.[0])).toEqual(data.map((_, i) => i));
  });

  it('the fake refuses what CloudWatch refuses: 1,001 data in one request, a body over 1 MB', async () => {
    const raw = new CloudWatchClient({ region: 'eu-central-1', endpoint: fake.url, maxAttempts: 1 });
    try {
      const tooMany = Array.from({ length: 1_001 }, (_, i) => toSdkDatum(latency('meta-monitor', [i])));
      await expect(raw.send(new PutMetricDataCommand({ Namespace: 'BedrockSupport/Performance', MetricData: tooMany }))).rejects.toMatchObject({ Code: 'InvalidParameterValue' });
      const tooLarge = Array.from({ length: 500 }, (_, i) => toSdkDatum(latency('meta-monitor', Array.from({ length: 150 }, (_, j) => 100_000_000_000 + i * 1_000 + j))));
      await expect(raw.send(new PutMetricDataCommand({ Namespace: 'BedrockSupport/Performance', MetricData: tooLarge }))).rejects.toMatchObject({ Code: 'RequestEntityTooLarge' });
      expect(fake.data).toEqual([]);
    } finally {
      raw.destroy();
    }
  });

  it('keeps each request within 1 MB: large data go in more, smaller requests', async () => {
    // 150 twelve-digit values each: about 2.4 KB a datum, so 1,000 of them would be 2.4 MB.
    const data = Array.from({ length: 1_000 }, (_, i) => latency('meta-monitor', Array.from({ length: 150 }, (_, j) => 100_000_000_000 + i * 1_000 + j)));
    const sent = await client().putMetricData('BedrockSupport/Performance', data);
    expect(sent.requests).toBeGreaterThanOrEqual(3);
    expect(fake.requests.every((r) => r.status === 200 && r.bodyBytes <= 1_000_000)).toBe(true);
    expect(fake.data).toHaveLength(1_000);
  });

  it('sends a throttled request again after a wait, and only that one', async () => {
    const waits: number[] = [];
    const data = Array.from({ length: 1_500 }, (_, i) => latency('meta-monitor', [i]));
    fake.throttleNext(1);
    const sent = await client({ onThrottled: (e) => waits.push(e.waitMs) }).putMetricData('BedrockSupport/Performance', data);
    expect(sent).toEqual({ requests: 2, throttled: 1 });
    expect(fake.requests.map((r) => [r.status, r.refused ?? null])).toEqual([
      [400, 'Throttling: Rate exceeded'],
      [200, null],
      [200, null],
    ]);
    expect(waits).toHaveLength(1);
    // Each datum arrived once.
    expect(fake.data).toHaveLength(1_500);
  });

  it('gives up when throttling outlasts the retries, and reports a refusal with its code and status', async () => {
    fake.throttleNext(3);
    const throttled = await client().putMetricData('BedrockSupport/Performance', [latency(null, [1])]).catch((e: unknown) => e);
    expect(throttled).toBeInstanceOf(CloudWatchThrottledError);
    expect(throttled).toMatchObject({ code: 'Throttling', httpStatus: 400 });
    expect(fake.requests).toHaveLength(3);

    const bad = { ...latency(null, [1]), unit: 'Furlongs' } as unknown as MetricDatum;
    const refused = await client().putMetricData('BedrockSupport/Performance', [bad]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CloudWatchRequestError);
    expect(refused).not.toBeInstanceOf(CloudWatchThrottledError);
    expect(refused).toMatchObject({ code: 'InvalidParameterValue', httpStatus: 400 });
    expect((refused as Error).message).toContain('is not a CloudWatch unit');
  });

  it('finds the endpoint through AWS_ENDPOINT_URL_CLOUDWATCH, and puts a dashboard', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH', fake.url);
    const fromEnv = createCloudWatch({ region: 'eu-central-1' });
    clients.push(fromEnv);
    const body = { widgets: [{ type: 'text', x: 0, y: 0, width: 24, height: 2, properties: { markdown: '# hello' } }] };
    expect(await fromEnv.putDashboard('Bedrock-Support-Overview', JSON.stringify(body))).toEqual({ validationMessages: [] });
    expect(fake.requests.map((r) => r.headers['x-amz-target'])).toEqual(['GraniteServiceVersion20100801.PutDashboard']);
    expect(fake.dashboards.get('Bedrock-Support-Overview')).toEqual(body);
    vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH', undefined);
  });
});
