/**
 * What the CloudWatch publisher needs, as interfaces: where the measured figures come from, where
 * the state of support mode comes from, how a window is claimed, and the CloudWatch API itself.
 */
import type { FleetSnapshot } from '../fleet/ports.js';
import type { MetricDatum, Namespace } from './metrics.js';

/** A time window, `from` inclusive, `to` exclusive. */
export interface Window {
  from: Date;
  to: Date;
}

/** How one operation (a job name) of one component fared over a window. */
export interface OperationFigures {
  /** The component (its queue's runbook name). */
  component: string;
  operation: string;
  /** Finished successfully in the window. */
  success: number;
  /** Failed in the window. */
  errors: number;
  /** Measured durations in ms: each distinct value and how many times it occurred. */
  latencyMs: ReadonlyMap<number, number>;
}

/** A figure for the whole service and per component. */
export interface Split<T> {
  total: T;
  byComponent: Readonly<Record<string, T>>;
}

/** What the process that measures uses, and the queues' depths. */
export interface ResourceFigures {
  process: {
    /** CPU time since the previous reading (or the process start), as a share of all its cores, 0-100. */
    cpuPercent: number;
    /** Resident memory as a share of the memory available to it, 0-100. */
    memoryPercent: number;
    /** The components whose workers run in this process. */
    components: readonly string[];
  };
  /** Jobs waiting for a worker, per component. */
  queueDepth: Readonly<Record<string, number>>;
}

/**
 * The measured figures the publisher sends. Its first adapter reads what the service already
 * keeps (BullMQ's finished jobs, the LLM router's decisions, this process's usage); the metrics
 * collectors can replace it without the publisher changing.
 */
export interface CloudWatchSource {
  /** Every operation that finished a job in the window, with its measured durations. */
  performance(window: Window): Promise<OperationFigures[]>;
  /** Share (0-1) of the window's routing decisions served by their primary path within budget; null without any that count. */
  routingEfficiency(window: Window): Promise<Split<number | null>>;
  /** USD spent on the LLM calls routed in the window. */
  llmCostUsd(window: Window): Promise<Split<number>>;
  resources(): Promise<ResourceFigures>;
}

/** The state of support mode the dashboards show, read from the service's own stores. */
export interface SupportStateSource {
  /** Queue figures and the support-mode state, read now (health is derived from it). */
  snapshot(): Promise<FleetSnapshot>;
  /** The score of the latest audit report; null before the first audit. */
  latestAuditScore(): Promise<number | null>;
  /** Gaps neither resolved nor dismissed. */
  openGaps(): Promise<number>;
  /** Remediation requests verified and failed in the window. */
  remediations(window: Window): Promise<{ verified: number; failed: number }>;
}

/**
 * Windows of publication, claimed one after the other so that they tile time: each starts where
 * the previous one ended, whichever process published it.
 */
export interface PublishWindows {
  /**
   * Claims the window up to `to`: from the end of the last one claimed, but at most `maxMs` back
   * (`firstMs` back when none was). Null when the last one ended at or after `to`.
   */
  claim(to: Date, options: { firstMs: number; maxMs: number }): Promise<Window | null>;
  /** Gives back a window whose publication failed, so a retry covers it again; nothing when a later window was claimed since. */
  release(window: Window): Promise<void>;
}

/** The CloudWatch API, as the service uses it. */
export interface CloudWatchApi {
  /**
   * Sends `data` (all of `namespace`) in as many PutMetricData requests as the API's limits need
   * (1,000 data and 1 MB each), each retried with back-off while CloudWatch throttles.
   * @throws CloudWatchThrottledError when throttling outlasted the retries; CloudWatchRequestError otherwise.
   */
  putMetricData(namespace: Namespace, data: readonly MetricDatum[], signal?: AbortSignal): Promise<{ requests: number; throttled: number }>;
  /** Creates or replaces a dashboard; answers CloudWatch's validation messages (warnings). */
  putDashboard(name: string, body: string, signal?: AbortSignal): Promise<{ validationMessages: string[] }>;
}

/** CloudWatch refused a request (or could not be reached). */
export class CloudWatchRequestError extends Error {
  override readonly name: string = 'CloudWatchRequestError';
  constructor(
    message: string,
    /** CloudWatch's error code (`InvalidParameterValue`, `AccessDenied`…), or the network error's. */
    readonly code: string,
    /** The HTTP status CloudWatch answered; undefined when none came. */
    readonly httpStatus: number | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** CloudWatch throttled a request (and kept doing so through the retries). */
export class CloudWatchThrottledError extends CloudWatchRequestError {
  override readonly name = 'CloudWatchThrottledError';
}
