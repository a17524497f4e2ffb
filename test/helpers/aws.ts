import { vi } from 'vitest';

/**
 * Credentials the SDK's default chain reads first, so nothing reaches a real AWS account,
 * and SigV4 signing (no bearer-token switch). `endpoint` points Bedrock Runtime at a fake,
 * `cloudwatch` CloudWatch.
 */
export function stubAwsEnv(endpoint?: string, options: { cloudwatch?: string } = {}): void {
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDFAKEFORTESTS');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'fake-secret');
  vi.stubEnv('AWS_SESSION_TOKEN', undefined);
  vi.stubEnv('AWS_BEARER_TOKEN_BEDROCK', undefined);
  vi.stubEnv('AWS_AUTH_SCHEME_PREFERENCE', undefined);
  vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
  vi.stubEnv('AWS_ENDPOINT_URL_BEDROCK_RUNTIME', endpoint);
  vi.stubEnv('AWS_ENDPOINT_URL_CLOUDWATCH', options.cloudwatch);
}
