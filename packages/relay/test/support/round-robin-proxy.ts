/**
 * A TCP round-robin proxy on loopback, standing for the operator's load balancer in front of
 * several relay processes (one address, several processes behind it; decision 0049). Each new
 * connection goes to the next backend; a backend that refuses (its process is gone) is
 * skipped for the next. Bytes pass as they are: TLS or WebSocket, the proxy does not look.
 */
import { createConnection, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface RoundRobinProxy {
  port: number;
  /** Connections handed to each backend so far, by its port. */
  counts: Map<number, number>;
  close(): Promise<void>;
}

export async function startRoundRobinProxy(backends: readonly number[]): Promise<RoundRobinProxy> {
  let next = 0;
  const counts = new Map<number, number>(backends.map((port) => [port, 0]));
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const connectTo = (client: Socket, tries: number): void => {
    if (tries === 0 || client.destroyed) return void client.destroy();
    const port = backends[next++ % backends.length]!;
    const upstream = createConnection({ host: '127.0.0.1', port });
    track(upstream);
    let open = false;
    upstream.once('connect', () => {
      open = true;
      counts.set(port, (counts.get(port) ?? 0) + 1);
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', () => {
      // Refused: this backend is down, the next one gets the connection.
      if (!open) connectTo(client, tries - 1);
    });
    upstream.once('close', () => {
      if (open) client.destroy();
    });
    client.once('close', () => upstream.destroy());
  };
  const server: Server = createServer({ pauseOnConnect: true }, (client) => {
    track(client);
    client.on('error', () => client.destroy());
    connectTo(client, backends.length);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy has no TCP address');
  return {
    port: address.port,
    counts,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
