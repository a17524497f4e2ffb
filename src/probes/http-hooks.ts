/**
 * The HTTP calls an inventory's `actions` declare, behind the domain's {@link HttpHooks} port
 * (the `http.hook` action kind): one request over a fresh connection, as the `http` probe sends
 * its own, bounded by the action's `timeoutMs` from connecting to the answer's last byte. Header
 * values and the URL's user info and query never reach an error message.
 */
import type { HttpHooks } from '../domain/actions/ports.js';
import { publicUrl } from '../domain/audit/inventory.js';
import { describeError } from './findings.js';
import { prepareRequest, sendRequest, type HttpRequestDeps } from './http-request.js';

/** An HTTP action could not be called, or no answer came. */
export class HttpHookCallError extends Error {
  override readonly name = 'HttpHookCallError';
}

export function createHttpHooks(deps: HttpRequestDeps): HttpHooks {
  return {
    async call(action, signal) {
      const what = `HTTP action ${action.id} (${action.method} ${publicUrl(action.url)})`;
      const prepared = await prepareRequest(action, deps);
      if ('problems' in prepared) {
        // Sent without its headers the call would do something other than what was approved.
        throw new HttpHookCallError(`${what} cannot be called as declared: ${prepared.problems.join('; ')}`);
      }
      const timeout = AbortSignal.timeout(action.timeoutMs);
      const body = action.body === undefined ? undefined : JSON.stringify(action.body);
      // The declared headers come last: a Content-Type of their own stands.
      const headers = body === undefined ? prepared.headers : { 'content-type': 'application/json', ...prepared.headers };
      const started = performance.now();
      try {
        const answer = await sendRequest(new URL(action.url), { method: action.method, headers, ca: prepared.ca, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]), body });
        return { status: answer.status, latencyMs: performance.now() - started, body: answer.body.toString('utf8'), truncated: answer.truncated };
      } catch (err) {
        throw new HttpHookCallError(`${what} did not answer: ${timeout.aborted ? `no answer within ${action.timeoutMs} ms` : describeError(err)}`);
      }
    },
  };
}
