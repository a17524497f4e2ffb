import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a fake service received. */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A service on loopback: `answer` is what it says next, `received` what it was sent; with `hang` it never answers. */
export interface FakeService {
  port: number;
  answer: { status: number; body: string; type: string };
  received: ReceivedRequest[];
  hang: boolean;
  close(): Promise<void>;
}

/** An HTTP service on a random port of 127.0.0.1, answering `answer` until told otherwise. */
export async function fakeService(answer: FakeService['answer']): Promise<FakeService> {
  const s: FakeService = {
    port: 0,
    answer,
    received: [],
    hang: false,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      s.received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (s.hang) {
        return; // never answers: the caller's timeout ends it
      }
      res.writeHead(s.answer.status, { 'content-type': s.answer.type });
      res.end(s.answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  s.port = (server.address() as AddressInfo).port;
  return s;
}

/** A port of 127.0.0.1 nothing listens on (it was just freed). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
