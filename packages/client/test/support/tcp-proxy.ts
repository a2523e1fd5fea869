/**
 * A TCP proxy on loopback that plays a network cut between a client and a real relay:
 * `cut()` destroys every connection through it and refuses new ones (they are accepted and
 * reset at once, as a dead link answers), `restore()` lets connections through again.
 * `blackhole()` plays a path that died silently: the connections through it stay open and
 * every byte on them is lost from then on, while new connections get through.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** Connections that reached the relay through the proxy so far. */
  readonly forwarded: number;
  /** Connections refused while cut. */
  readonly refused: number;
  cut(): void;
  restore(): void;
  blackhole(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host?: string; port: number }): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const dead = new WeakSet<Socket>();
  let isCut = false;
  let forwarded = 0;
  let refused = 0;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => s.destroy());
  };
  const server: Server = createServer((client) => {
    if (isCut) {
      refused += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    forwarded += 1;
    track(client);
    const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port });
    track(upstream);
    const forward = (from: Socket, to: Socket): void => {
      from.on('data', (chunk: Buffer) => {
        if (!dead.has(from)) to.write(chunk);
      });
    };
    forward(client, upstream);
    forward(upstream, client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no port');
  return {
    port: address.port,
    get forwarded() {
      return forwarded;
    },
    get refused() {
      return refused;
    },
    cut() {
      isCut = true;
      for (const s of sockets) s.destroy();
    },
    restore() {
      isCut = false;
    },
    blackhole() {
      for (const s of sockets) dead.add(s);
    },
    close() {
      isCut = true;
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
