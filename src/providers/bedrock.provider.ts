/**
 * The direct path: Bedrock Runtime's Converse API through the AWS SDK.
 *
 * Configuration is the standard AWS one: credentials from the SDK's default chain, the endpoint
 * from `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` (read by the SDK) unless `endpoint` is given. The client
 * speaks HTTP/2 as the SDK chooses for bedrock-runtime, and makes exactly one attempt per call:
 * retries, budgets and fallbacks belong to the router.
 */
import { BedrockRuntimeClient, ConverseCommand, type ConverseCommandOutput } from '@aws-sdk/client-bedrock-runtime';
import { isRecord } from '../domain/guards.js';
import { parseRetryAfter, renderSystem, renderUserTurn } from '../domain/llm/prompt.js';
import {
  LlmProviderError,
  LlmThrottledError,
  type LlmProvider,
  type LlmRequest,
  type OperationType,
  type ProviderResult,
} from '../domain/llm/types.js';

/** Options of {@link createBedrockProvider}. */
export interface BedrockProviderOptions {
  /** AWS region of Bedrock Runtime, e.g. `eu-central-1`. */
  region: string;
  /** Model or inference-profile id sent in the Converse path, e.g. `anthropic.claude-3-sonnet-20240229-v1:0`. */
  modelId: string;
  /** Endpoint override; without it the SDK uses `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` or the regional endpoint. */
  endpoint?: string;
  /** `maxTokens` when neither the request nor {@link maxTokensByOperation} sets it. Default 1024. */
  maxTokensDefault?: number;
  /** Temperature per operation type, over the defaults in {@link defaultTemperatureByOperation}. */
  temperatureByOperation?: Partial<Record<OperationType, number>>;
  /** `maxTokens` per operation type, over {@link maxTokensDefault}. */
  maxTokensByOperation?: Partial<Record<OperationType, number>>;
}

/** Temperatures used unless configured or set on the request: deterministic for emergencies, low for technical work. */
export const defaultTemperatureByOperation: Readonly<Record<OperationType, number>> = {
  emergency: 0,
  infrastructure: 0.2,
  meta_monitor: 0.2,
  implementation: 0.2,
  kiro_communication: 0.3,
  standard: 0.3,
  background: 0.3,
};

const defaultMaxTokens = 1024;

/**
 * Creates the Bedrock provider (path `direct`).
 *
 * A request's own `temperature` and `maxTokens` win over the per-operation settings.
 * Errors: `ThrottlingException` or any HTTP 429 become {@link LlmThrottledError} (with `retryAfterMs`
 * from `Retry-After` or `x-amz-retry-after` when the answer carries one); everything else, an
 * abort included, becomes {@link LlmProviderError} with the SDK error as `cause`.
 * Token usage is Bedrock's `usage`; should an answer lack it, it is estimated as ceil(characters / 4).
 */
export function createBedrockProvider(options: BedrockProviderOptions): LlmProvider {
  const client = new BedrockRuntimeClient({
    region: options.region,
    maxAttempts: 1,
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  });
  const temperatures = { ...defaultTemperatureByOperation, ...options.temperatureByOperation };
  const maxTokensDefault = options.maxTokensDefault ?? defaultMaxTokens;

  return {
    path: 'direct',
    model: options.modelId,

    async complete(request: LlmRequest, signal: AbortSignal): Promise<ProviderResult> {
      if (signal.aborted) {
        throw new LlmProviderError('direct', 'Bedrock call aborted before it started', { cause: signal.reason });
      }
      const userTurn = renderUserTurn(request);
      const system = renderSystem(request);
      const command = new ConverseCommand({
        modelId: options.modelId,
        // Bedrock rejects empty text blocks, so an empty system prompt is left out.
        ...(system === '' ? {} : { system: [{ text: system }] }),
        messages: [{ role: 'user', content: [{ text: userTurn }] }],
        inferenceConfig: {
          maxTokens: request.maxTokens ?? options.maxTokensByOperation?.[request.operation] ?? maxTokensDefault,
          temperature: request.temperature ?? temperatures[request.operation],
        },
      });

      let output: ConverseCommandOutput;
      try {
        output = await client.send(command, { abortSignal: signal });
      } catch (error) {
        throw toProviderError(error, signal);
      }

      const text = (output.output?.message?.content ?? [])
        .map((block) => block.text)
        .filter((part): part is string => typeof part === 'string')
        .join('\n');
      if (text === '') {
        throw new LlmProviderError('direct', `Bedrock answered without text (stopReason ${output.stopReason ?? 'unknown'})`);
      }
      return {
        text,
        model: options.modelId,
        usage:
          output.usage?.inputTokens !== undefined && output.usage.outputTokens !== undefined
            ? { inputTokens: output.usage.inputTokens, outputTokens: output.usage.outputTokens }
            : { inputTokens: Math.ceil((system.length + userTurn.length) / 4), outputTokens: Math.ceil(text.length / 4), estimated: true },
      };
    },

    close(): Promise<void> {
      client.destroy();
      return Promise.resolve();
    },
  };
}

function toProviderError(error: unknown, signal: AbortSignal): Error {
  if (signal.aborted) {
    return new LlmProviderError('direct', 'Bedrock call aborted', { cause: error });
  }
  const name = error instanceof Error ? error.name : 'Error';
  const status = httpStatusOf(error);
  if (name === 'ThrottlingException' || status === 429) {
    const message = error instanceof Error ? error.message : String(error);
    return new LlmThrottledError('direct', `Bedrock throttled the call: ${message}`, retryAfterMsOf(error));
  }
  const message = error instanceof Error ? error.message : String(error);
  const where = status === undefined ? '' : ` (HTTP ${status})`;
  return new LlmProviderError('direct', `Bedrock call failed${where}: ${name}: ${message}`, { cause: error });
}

function httpStatusOf(error: unknown): number | undefined {
  if (!isRecord(error)) {
    return undefined;
  }
  const metadata = error.$metadata;
  if (isRecord(metadata) && typeof metadata.httpStatusCode === 'number') {
    return metadata.httpStatusCode;
  }
  const response = error.$response;
  if (isRecord(response) && typeof response.statusCode === 'number') {
    return response.statusCode;
  }
  return undefined;
}

/** Reads `x-amz-retry-after` (milliseconds) or `Retry-After` (seconds or an HTTP date) from the SDK's raw response. */
function retryAfterMsOf(error: unknown): number | undefined {
  if (!isRecord(error) || !isRecord(error.$response) || !isRecord(error.$response.headers)) {
    return undefined;
  }
  const headers = error.$response.headers;
  for (const [name, raw] of Object.entries(headers)) {
    if (typeof raw !== 'string') {
      continue;
    }
    const header = name.toLowerCase();
    if (header === 'x-amz-retry-after') {
      const ms = Number(raw);
      return Number.isFinite(ms) && ms >= 0 ? ms : undefined;
    }
    if (header === 'retry-after') {
      return parseRetryAfter(raw);
    }
  }
  return undefined;
}
