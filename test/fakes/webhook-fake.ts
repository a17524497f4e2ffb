/**
 * A chat webhook on loopback (Slack incoming-webhook style): records every POST with its path and
 * JSON body, and answers 200 unless told to answer otherwise. Tests wait for what they expect to
 * arrive (`waitFor`), not for time to pass.
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { listenOnLoopback } from './listen.js';

export interface WebhookRequest {
  path: string;
  body: unknown;
  /** The status answered. */
  status: number;
  receivedAt: number;
}

export interface WebhookFake {
  /** `http://127.0.0.1:<port>`; post to any path under it. */
  readonly url: string;
  /** Every request, in arrival order. */
  readonly requests: WebhookRequest[];
  /** The next requests to `path` are answered with these statuses, one each, then 200 again. */
  answer(path: string, ...statuses: number[]): void;
  /** Resolves with the requests once `check` holds for them; rejects after `timeoutMs`. */
  waitFor(check: (requests: readonly WebhookRequest[]) => boolean, timeoutMs?: number): Promise<WebhookRequest[]>;
  reset(): void;
  close(): Promise<void>;
}

export async function startWebhookFake(): Promise<WebhookFake> {
  const requests: WebhookRequest[] = [];
  const scripted = new Map<string, number[]>();
  const arrived = new EventEmitter();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const status = scripted.get(path)?.shift() ?? 200;
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(text) as unknown;
      } catch {
        body = text;
      }
      requests.push({ path, body, status, receivedAt: Date.now() });
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'no');
      arrived.emit('request');
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    answer(path, ...statuses) {
      scripted.set(path, statuses);
    },
    waitFor(check, timeoutMs = 15_000) {
      return new Promise((done, fail) => {
        const look = () => {
          if (check(requests)) {
            clearTimeout(timer);
            arrived.off('request', look);
            done([...requests]);
          }
        };
        const timer = setTimeout(() => {
          arrived.off('request', look);
          fail(new Error(`the webhook did not get what was expected within ${timeoutMs} ms; it got ${JSON.stringify(requests.map((r) => [r.path, r.status, r.body]))}`));
        }, timeoutMs);
        arrived.on('request', look);
        look();
      });
    },
    reset() {
      requests.length = 0;
      scripted.clear();
    },
    close: () =>
      new Promise<void>((done) => {
        server.closeAllConnections();
        server.close(() => done());
      }),
  };
}
