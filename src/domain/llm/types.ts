/**
 * The contract every LLM provider and the hybrid router share.
 * Components never talk to a provider directly: they hand an {@link LlmRequest} to the router.
 */

/** Operation types of the routing matrix; each has a primary path, a fallback and a latency budget. */
export const operationTypes = [
  'emergency',
  'infrastructure',
  'meta_monitor',
  'implementation',
  'kiro_communication',
  'standard',
  'background',
] as const;
export type OperationType = (typeof operationTypes)[number];

/** `direct` is Bedrock Runtime, `mcp` an MCP server's tool, `local` the embedded template writer. */
export const llmPaths = ['direct', 'mcp', 'local'] as const;
export type LlmPath = (typeof llmPaths)[number];

/** What a component asks for. */
export interface LlmRequest {
  operation: OperationType;
  /** A short machine name of what is being written, e.g. `audit-narrative`, `assist`, `canary`. */
  task: string;
  /** Instructions for the model. */
  system: string;
  /** The user turn: the question or the material to reason about. */
  prompt: string;
  /**
   * Structured findings the text is about. The local provider writes only from these;
   * remote providers receive them serialised inside the prompt.
   */
  facts?: Record<string, unknown>;
  maxTokens?: number;
  temperature?: number;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** True when the provider reported no counts and these are estimated from text length. */
  estimated?: boolean;
}

/** What one provider call returns. */
export interface ProviderResult {
  text: string;
  model: string;
  usage: TokenUsage;
}

/** One way to reach a model. A provider does one call; retries, budgets and fallbacks live in the router. */
export interface LlmProvider {
  readonly path: LlmPath;
  /** Model identifier used for pricing and reporting. */
  readonly model: string;
  /** Performs one call. Must honour `signal` (abort the underlying request when it fires). */
  complete(request: LlmRequest, signal: AbortSignal): Promise<ProviderResult>;
  /** Releases connections. */
  close(): Promise<void>;
}

/** The provider was throttled (Bedrock ThrottlingException, HTTP 429). */
export class LlmThrottledError extends Error {
  override readonly name = 'LlmThrottledError';
  constructor(
    readonly path: LlmPath,
    message: string,
    /** How long the provider asked us to wait, when it said so. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** Any other failure of a provider call (network, 5xx, malformed answer, timeout). */
export class LlmProviderError extends Error {
  override readonly name = 'LlmProviderError';
  constructor(
    readonly path: LlmPath,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
