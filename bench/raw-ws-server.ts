/**
 * The bare WebSocket server under the comparison baselines (raw-forwarder.ts,
 * raw-broadcaster.ts): HTTP answers 404, frames up to twice the relay's limit, no
 * compression; each baseline brings only what it does with a connection.
 */
import { createServer } from 'node:http';
import { MAX_FRAME_BYTES, TransportError } from '@parus/core';
import { WebSocketServer } from 'ws';
import type { WebSocket } from 'ws';

export interface RawServer {
  /** `ws://host:port/` */
  url: string;
  /** Frames (or copies) forwarded so far. */
  forwarded(): number;
  close(): Promise<void>;
}

export async function startRawServer(opts: {
  host: string;
  port?: number;
  /** Names the baseline in errors. */
  name: string;
  onConnection: (ws: WebSocket) => void;
  forwarded: () => number;
}): Promise<RawServer> {
  const server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ server, maxPayload: 2 * MAX_FRAME_BYTES, perMessageDeflate: false });
  wss.on('connection', opts.onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new TransportError(`${opts.name} cannot listen`, { cause })));
    server.listen(opts.port ?? 0, opts.host, resolve);
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string')
    throw new TransportError(`${opts.name} has no TCP address`);
  return {
    url: `ws://${opts.host}:${bound.port}/`,
    forwarded: opts.forwarded,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
