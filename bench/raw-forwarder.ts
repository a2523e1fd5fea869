/**
 * The ceiling the relay is compared with: a WebSocket server that forwards each binary
 * frame to the client it is addressed to, and does nothing else — no storage, no crypto,
 * no acknowledgements, no CBOR.
 *
 * Wire format: a client's first frame is its 24-byte id (the size of a relay queue id);
 * the forwarder answers with one byte once it is registered. Every later frame starts with
 * the 24-byte id of its destination and is forwarded unchanged, whole.
 */
import { createServer } from 'node:http';
import { MAX_FRAME_BYTES, TransportError } from '@parus/core';
import { WebSocketServer } from 'ws';
import type { RawData, WebSocket } from 'ws';

export const RAW_ID_BYTES = 24;
const REGISTERED = new Uint8Array([1]);

export interface RawForwarder {
  /** `ws://host:port/` */
  url: string;
  /** Frames forwarded so far. */
  forwarded(): number;
  close(): Promise<void>;
}

export async function startRawForwarder(opts: { host: string; port?: number }): Promise<RawForwarder> {
  const sockets = new Map<string, WebSocket>();
  let forwarded = 0;
  const server = createServer((_req, res) => {
    res.writeHead(404);
    res.end();
  });
  const wss = new WebSocketServer({ server, maxPayload: 2 * MAX_FRAME_BYTES, perMessageDeflate: false });

  wss.on('connection', (ws: WebSocket) => {
    let id: string | undefined;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary || !Buffer.isBuffer(data) || data.length < RAW_ID_BYTES) return;
      const key = data.toString('hex', 0, RAW_ID_BYTES);
      if (id === undefined) {
        id = key;
        sockets.set(id, ws);
        ws.send(REGISTERED);
        return;
      }
      const to = sockets.get(key);
      if (to === undefined) return;
      to.send(data);
      forwarded += 1;
    });
    ws.on('close', () => {
      if (id !== undefined && sockets.get(id) === ws) sockets.delete(id);
    });
    ws.on('error', () => ws.terminate());
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (cause) => reject(new TransportError('raw forwarder cannot listen', { cause })));
    server.listen(opts.port ?? 0, opts.host, resolve);
  });
  const bound = server.address();
  if (bound === null || typeof bound === 'string')
    throw new TransportError('raw forwarder has no TCP address');

  return {
    url: `ws://${opts.host}:${bound.port}/`,
    forwarded: () => forwarded,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
