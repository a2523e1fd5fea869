/**
 * The ceiling the relay is compared with: a WebSocket server that forwards each binary
 * frame to the client it is addressed to, and does nothing else — no storage, no crypto,
 * no acknowledgements, no CBOR.
 *
 * Wire format: a client's first frame is its 24-byte id (the size of a relay queue id);
 * the forwarder answers with one byte once it is registered. Every later frame starts with
 * the 24-byte id of its destination and is forwarded unchanged, whole.
 */
import type { RawData, WebSocket } from 'ws';
import { startRawServer, type RawServer } from './raw-ws-server.ts';

export const RAW_ID_BYTES = 24;
const REGISTERED = new Uint8Array([1]);

export type RawForwarder = RawServer;

export async function startRawForwarder(opts: { host: string; port?: number }): Promise<RawForwarder> {
  const sockets = new Map<string, WebSocket>();
  let forwarded = 0;
  const onConnection = (ws: WebSocket): void => {
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
  };
  return startRawServer({ ...opts, name: 'raw forwarder', onConnection, forwarded: () => forwarded });
}
