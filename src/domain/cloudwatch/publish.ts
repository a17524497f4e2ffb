/**
 * One publication to CloudWatch: claim the window since the last one, measure it, send its data
 * namespace by namespace. A failure gives the window back, so the job's retry sends it again.
 */
import { queueNames, type QueueName } from '../queue-names.js';
import { componentHealthOf } from '../support-mode/health.js';
import { desiredQueueStates, statusOf } from '../support-mode/state.js';
import { buildMetricData, type Measurements } from './build.js';
import { namespaces, type Namespace } from './metrics.js';
import type { CloudWatchApi, CloudWatchSource, PublishWindows, SupportStateSource, Window } from './ports.js';

export interface PublisherDeps {
  source: CloudWatchSource;
  state: SupportStateSource;
  api: Pick<CloudWatchApi, 'putMetricData'>;
  windows: PublishWindows;
  clock: () => Date;
  /** The first window's length (no publication before): one schedule interval. */
  firstWindowMs: number;
  /** The longest window: after a longer pause (support mode disabled), the time before it is not sent. */
  maxWindowMs: number;
}

export type PublishResult =
  | {
      published: true;
      window: { from: string; to: string };
      /** Data sent, in all and per namespace. */
      data: number;
      byNamespace: Record<Namespace, number>;
      requests: number;
      /** Requests CloudWatch throttled (and that were sent again). */
      throttled: number;
    }
  | { published: false; reason: string };

/** Measures the window: the source's figures and the state of support mode, read side by side. */
export async function measure(deps: Pick<PublisherDeps, 'source' | 'state'>, window: Window): Promise<Measurements> {
  const [operations, routingEfficiency, llmCostUsd, resources, snapshot, auditScore, openGaps, remediations] = await Promise.all([
    deps.source.performance(window),
    deps.source.routingEfficiency(window),
    deps.source.llmCostUsd(window),
    deps.source.resources(),
    deps.state.snapshot(),
    deps.state.latestAuditScore(),
    deps.state.openGaps(),
    deps.state.remediations(window),
  ]);
  const desired = desiredQueueStates(snapshot.mode);
  const health = componentHealthOf(snapshot, window.to);
  const perComponent = <T>(f: (q: QueueName) => T) => Object.fromEntries(queueNames.map((q) => [q, f(q)])) as Record<string, T>;
  return {
    operations,
    routingEfficiency,
    llmCostUsd,
    resources,
    state: {
      active: { total: statusOf(snapshot.mode) === 'active', byComponent: perComponent((q) => desired[q] === 'running') },
      healthy: { total: queueNames.every((q) => health[q].status === 'healthy'), byComponent: perComponent((q) => health[q].status === 'healthy') },
      auditScore,
      openGaps,
      remediations,
    },
  };
}

export function createMetricPublisher(deps: PublisherDeps) {
  return {
    async publish(signal?: AbortSignal): Promise<PublishResult> {
      const window = await deps.windows.claim(deps.clock(), { firstMs: deps.firstWindowMs, maxMs: deps.maxWindowMs });
      if (window === null) {
        return { published: false, reason: 'the previous publication already covers the time up to now' };
      }
      try {
        const data = buildMetricData(await measure(deps, window), window.to, queueNames);
        const byNamespace = Object.fromEntries(Object.values(namespaces).map((ns) => [ns, 0])) as Record<Namespace, number>;
        let requests = 0;
        let throttled = 0;
        for (const ns of Object.values(namespaces)) {
          const part = data.filter((d) => d.namespace === ns);
          if (part.length === 0) {
            continue;
          }
          const sent = await deps.api.putMetricData(ns, part, signal);
          byNamespace[ns] = part.length;
          requests += sent.requests;
          throttled += sent.throttled;
        }
        return { published: true, window: { from: window.from.toISOString(), to: window.to.toISOString() }, data: data.length, byNamespace, requests, throttled };
      } catch (err) {
        // The job fails and BullMQ retries it: the retry covers this window again. Should Redis not
        // take the window back either, that retry fails as well; the error to report is this one.
        await deps.windows.release(window).catch(() => undefined);
        throw err;
      }
    },
  };
}

export type MetricPublisher = ReturnType<typeof createMetricPublisher>;
