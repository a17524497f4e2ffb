import { connect, createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of Redis that knows each connection by the name it gives itself
 * (`CLIENT SETNAME`, which ioredis sends in its handshake). It can hold back the connections of
 * one name: what such a connection sends is kept, not forwarded, until `release()`; so a
 * connection that was cut cannot come back before the test says so.
 */
export interface RedisProxy {
  /** `redis://` URL of the proxy. */
  url: string;
  /** From now on, connections named `name` are held until `release()`. */
  hold(name: string): void;
  /** Forwards what the held connections sent, and lets new ones through. */
  release(): void;
  /** `host:port` as Redis sees them (CLIENT LIST `addr`) of the open connections named `name`. */
  addressesOf(name: string): string[];
  close(): Promise<void>;
}

interface Link {
  client: Socket;
  upstream: Socket;
  name: string | null;
  /** Bytes from the client, kept until the first command is complete, or while held. */
  pending: Buffer[];
  decided: boolean;
  held: boolean;
}

/** The RESP commands `buf` holds in full, in order (a trailing incomplete one is left out). */
function commandsIn(buf: Buffer): string[][] {
  const text = buf.toString('latin1');
  const commands: string[][] = [];
  let at = 0;
  for (;;) {
    const header = /^\*(\d+)\r\n/.exec(text.slice(at));
    if (!header) {
      return commands;
    }
    let next = at + header[0].length;
    const args: string[] = [];
    for (let i = 0; i < Number(header[1]); i++) {
      const bulk = /^\$(\d+)\r\n/.exec(text.slice(next));
      const start = next + (bulk?.[0].length ?? 0);
      const end = start + Number(bulk?.[1]);
      if (!bulk || text.length < end + 2) {
        return commands;
      }
      args.push(text.slice(start, end));
      next = end + 2;
    }
    commands.push(args);
    at = next;
  }
}

/** Commands a client sends before naming itself (ioredis: HELLO, AUTH, SELECT, then CLIENT SETNAME). */
const handshake = new Set(['hello', 'auth', 'select']);

/** The name a connection gives itself in its handshake; null if it gives none; undefined while unknown. */
function nameIn(buf: Buffer): string | null | undefined {
  for (const [command, sub, name] of commandsIn(buf)) {
    if (command?.toLowerCase() === 'client' && sub?.toLowerCase() === 'setname') {
      return name ?? null;
    }
    if (!handshake.has(command?.toLowerCase() ?? '')) {
      return null;
    }
  }
  return undefined;
}

export async function startRedisProxy(targetUrl: string): Promise<RedisProxy> {
  const target = new URL(targetUrl);
  const links = new Set<Link>();
  let heldName: string | null = null;

  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    const link: Link = { client, upstream, name: null, pending: [], decided: false, held: false };
    links.add(link);
    const end = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (!link.decided) {
        link.pending.push(chunk);
        const name = nameIn(Buffer.concat(link.pending));
        if (name === undefined) {
          return;
        }
        link.decided = true;
        link.name = name;
        link.held = link.name !== null && link.name === heldName;
        if (!link.held) {
          upstream.write(Buffer.concat(link.pending.splice(0)));
        }
        return;
      }
      if (link.held) {
        link.pending.push(chunk);
      } else {
        upstream.write(chunk);
      }
    });
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    for (const socket of [client, upstream]) {
      socket.on('close', end);
      socket.on('error', end);
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    url: `redis://127.0.0.1:${port}`,
    hold(name) {
      heldName = name;
    },
    release() {
      heldName = null;
      for (const link of links) {
        if (link.held) {
          link.held = false;
          link.upstream.write(Buffer.concat(link.pending.splice(0)));
        }
      }
    },
    addressesOf(name) {
      return [...links].filter((l) => l.name === name && !l.held).map((l) => `${l.upstream.localAddress}:${l.upstream.localPort}`);
    },
    async close() {
      for (const link of links) {
        link.client.destroy();
        link.upstream.destroy();
      }
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
