/**
 * The ceiling for group fan-out (fanout-bench.ts): a WebSocket server that copies each frame
 * of a group's sender to every recipient of that group, and does nothing else — no storage,
 * no crypto, no acknowledgements, no CBOR, no per-recipient sealing.
 *
 * Wire format: a client's first frame is a 24-byte group id and one role byte (0 recipient,
 * 1 sender); the broadcaster answers with one byte once it is registered. Every later frame
 * of a sender goes, whole and unchanged, to each recipient of its group; then the sender
 * gets one byte back (as a relay sender gets `fsent`). Recipients' later frames are ignored.
 */
import type { RawData, WebSocket } from 'ws';
import { startRawServer, type RawServer } from './raw-ws-server.ts';

export const GROUP_ID_BYTES = 24;
export const ROLE_RECIPIENT = 0;
export const ROLE_SENDER = 1;
const ONE_BYTE = new Uint8Array([1]);

export type RawBroadcaster = RawServer;

export async function startRawBroadcaster(opts: { host: string; port?: number }): Promise<RawBroadcaster> {
  const groups = new Map<string, Set<WebSocket>>();
  let forwarded = 0;
  const onConnection = (ws: WebSocket): void => {
    let group: Set<WebSocket> | undefined;
    let sender = false;
    ws.on('message', (data: RawData, isBinary: boolean) => {
      if (!isBinary || !Buffer.isBuffer(data)) return;
      if (group === undefined) {
        if (data.length !== GROUP_ID_BYTES + 1) return;
        const key = data.toString('hex', 0, GROUP_ID_BYTES);
        group = groups.get(key) ?? new Set();
        groups.set(key, group);
        sender = data[GROUP_ID_BYTES] === ROLE_SENDER;
        if (!sender) group.add(ws);
        ws.send(ONE_BYTE);
        return;
      }
      if (!sender) return;
      for (const to of group) to.send(data);
      forwarded += group.size;
      ws.send(ONE_BYTE);
    });
    ws.on('close', () => group?.delete(ws));
    ws.on('error', () => ws.terminate());
  };
  return startRawServer({ ...opts, name: 'raw broadcaster', onConnection, forwarded: () => forwarded });
}
