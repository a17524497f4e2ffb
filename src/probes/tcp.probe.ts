/** The `tcp` kind: whether a connection to host:port opens, and how long it takes to open. */
import { connect } from 'node:net';
import type { TargetOf } from '../domain/audit/inventory.js';
import { causeOf, describeError, describeTarget, latencyObservation, onAbort, reachedObservation, unreachable, type Findings, type ProbeContext } from './findings.js';

export async function probeTcp(target: TargetOf<'tcp'>, ctx: ProbeContext): Promise<Findings> {
  const started = performance.now();
  try {
    await open(target.host, target.port, ctx.signal);
  } catch (err) {
    return unreachable(target, causeOf(err), describeError(err));
  }
  const tookMs = performance.now() - started;
  return { reach: { reachable: true }, observations: [reachedObservation(target), latencyObservation(describeTarget(target), tookMs, target.latencyBudgetMs)] };
}

/** Opens a connection and closes it at once. */
function open(host: string, port: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    const stopListening = onAbort(signal, () => socket.destroy(signal.reason instanceof Error ? signal.reason : new Error('aborted')));
    socket.once('connect', () => {
      stopListening();
      socket.destroy();
      resolve();
    });
    socket.once('error', (err) => {
      stopListening();
      socket.destroy();
      reject(err);
    });
  });
}
