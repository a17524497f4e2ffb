/**
 * The prober: one probe per target kind (a file each in this folder), behind the domain's
 * {@link Prober} port. It bounds every probe by its timeout, whatever the probe does: a probe
 * still running when the time is up is reported as a target that did not answer in time, and
 * what it does after that is ignored. It measures each probe, and turns a probe that throws into
 * an outcome with status `error` (a fault of the probe, not a finding about the target).
 */
import type { Redis } from 'ioredis';
import type { Target } from '../domain/audit/inventory.js';
import type { ProbeOptions, ProbeOutcome, Prober } from '../domain/audit/probe.js';
import type { FeatureFlagName } from '../domain/feature-flags.js';
import type { FleetReader } from '../domain/fleet/ports.js';
import type { PathStatus } from '../domain/llm/path-status.js';
import type { RemotePath } from '../domain/llm/routing-matrix.js';
import type { QueueName } from '../domain/queue-names.js';
import { probeDns } from './dns.probe.js';
import { describeError, onAbort, unreachable, type Findings, type ProbeContext } from './findings.js';
import { probeFlag } from './flag.probe.js';
import { probeHttp } from './http.probe.js';
import { probeLlm } from './llm.probe.js';
import { probeQueue } from './queue.probe.js';
import { probeRedis } from './redis.probe.js';
import { createSpecFiles } from './spec-files.js';
import { probeSpec } from './spec.probe.js';
import { probeTcp } from './tcp.probe.js';
import { probeTls } from './tls.probe.js';

/** What the prober is built from. */
export interface ProberDeps {
  /** The fleet's read model: `queue` targets read a fresh snapshot (`maxAgeMs: 0`). */
  fleetReader: Pick<FleetReader, 'snapshot'>;
  /**
   * Since when (epoch ms) the job that has waited longest to run on `queue` has been waiting
   * (waiting or prioritized, not delayed), or null when none waits.
   */
  oldestWaitingAt: (queue: QueueName) => Promise<number | null>;
  /** A flag's value now; for the master switch `bedrock-support`, support mode's `flag.enabled`. */
  flag: (name: FeatureFlagName) => Promise<boolean>;
  llm: {
    /** Every path as the router sees it now (the router's `pathStatus`). */
    pathStatus: () => Promise<PathStatus[]>;
    /**
     * One minimal request on `path` alone (no fallback, no other path), aborted with `signal`;
     * resolves with its measured latency, rejects when the path did not answer. Called only when
     * the path's `refusedBecause` is null.
     */
    ping: (path: RemotePath, signal: AbortSignal) => Promise<{ latencyMs: number }>;
  };
  /** The fleet's own connection: probed by `redis` targets that name no URL (never closed here). */
  fleetRedis: Redis;
  /** Where values given as `{ env: NAME }` are read (header values, Redis URLs). */
  env: NodeJS.ProcessEnv;
  /** Reads a CA file (PEM) named by an `http` or `tls` target. */
  readFile: (path: string) => Promise<string | Buffer>;
  /** Wall clock, epoch ms (certificate days left, job waiting times). Default `Date.now`. */
  now?: () => number;
}

/** The probe's time is up. */
class ProbeTimeoutError extends Error {
  override readonly name = 'ProbeTimeoutError';
}

export function createProber(deps: ProberDeps): Prober {
  const now = deps.now ?? Date.now;
  const specFiles = createSpecFiles();

  async function run(target: Target, ctx: ProbeContext): Promise<Findings> {
    switch (target.kind) {
      case 'http':
        return probeHttp(target, deps, ctx);
      case 'tcp':
        return probeTcp(target, ctx);
      case 'tls':
        return probeTls(target, { readFile: deps.readFile, now }, ctx);
      case 'dns':
        return probeDns(target);
      case 'redis':
        return probeRedis(target, deps, ctx);
      case 'queue':
        return probeQueue(target, { fleetReader: deps.fleetReader, oldestWaitingAt: deps.oldestWaitingAt, now });
      case 'feature-flag':
        return probeFlag(target, deps);
      case 'llm':
        return probeLlm(target, deps, ctx);
      case 'spec':
        return probeSpec(target, specFiles);
    }
  }

  return {
    async probe(target: Target, options: ProbeOptions): Promise<ProbeOutcome> {
      const started = performance.now();
      const outcome = (fields: Pick<ProbeOutcome, 'status' | 'reach' | 'observations' | 'error'>): ProbeOutcome => ({
        targetId: target.id,
        kind: target.kind,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
        ...fields,
      });

      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(new ProbeTimeoutError(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      const stopFollowing = onAbort(options.signal, () => controller.abort(options.signal.reason));
      let stopWaiting: () => void = () => undefined;
      const aborted = new Promise<null>((resolve) => {
        stopWaiting = onAbort(controller.signal, () => resolve(null));
      });

      const ended = (): ProbeOutcome => {
        const reason: unknown = controller.signal.reason;
        // Our own timer, or the caller's signal made with AbortSignal.timeout().
        if (reason instanceof ProbeTimeoutError || (reason instanceof Error && reason.name === 'TimeoutError')) {
          const { reach, observations } = unreachable(target, 'timeout', `no answer within ${options.timeoutMs} ms`);
          return outcome({ status: 'fail', reach, observations });
        }
        const why = `the probe was cancelled: ${describeError(reason)}`;
        return outcome({ status: 'error', reach: { reachable: false, cause: 'other', detail: why }, observations: [], error: why });
      };

      try {
        const found = await Promise.race([run(target, { signal: controller.signal, timeoutMs: options.timeoutMs }), aborted]);
        if (found === null) {
          return ended();
        }
        const met = found.reach.reachable && found.observations.every((o) => o.met);
        return outcome({ status: met ? 'pass' : 'fail', reach: found.reach, observations: found.observations });
      } catch (err) {
        if (controller.signal.aborted) {
          return ended();
        }
        const error = describeError(err);
        return outcome({ status: 'error', reach: { reachable: false, cause: 'other', detail: `the probe failed: ${error}` }, observations: [], error });
      } finally {
        clearTimeout(timer);
        stopFollowing();
        stopWaiting();
      }
    },
  };
}
