import {
  RELAY_PROTOCOL_VERSION,
  TokenBucket,
  decodeRelayFrame,
  encodeFrame,
  initCrypto,
  signKeyPairFromSeed,
  relayFingerprint,
} from '@parus/core';
import type { RelayFrame } from '@parus/core';
import { WebSocket } from 'ws';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BlobCommandHandler } from '../src/blob-commands.ts';
import type { CommandHandler } from '../src/commands.ts';
import { RelayConnection } from '../src/connection.ts';
import { nodeRandom } from '../src/node-random.ts';

beforeAll(() => initCrypto());

/** A connection on a fake socket, with a command layer that fails the way `run` says. */
function connection(run: () => Promise<void>) {
  const sent: RelayFrame[] = [];
  const logs: string[] = [];
  const ws = {
    readyState: WebSocket.OPEN,
    bufferedAmount: 0,
    send: (bytes: Uint8Array) => sent.push(decodeRelayFrame(bytes)),
    close: () => undefined,
    terminate: () => undefined,
  } as unknown as WebSocket;
  const sign = signKeyPairFromSeed(new Uint8Array(32).fill(7));
  const conn = new RelayConnection(ws, {
    keys: {
      sign,
      dh: { publicKey: new Uint8Array(32), secretKey: new Uint8Array(32) },
      fingerprint: relayFingerprint(sign.publicKey),
    },
    rng: nodeRandom,
    commands: { run } as unknown as CommandHandler,
    blobs: { run } as unknown as BlobCommandHandler,
    frameRate: { perSecond: 1_000, burst: 1_000 },
    blobBytes: new TokenBucket(1 << 20, 1 << 20, () => 0),
    creations: new TokenBucket(1, 100, () => 0),
    address: {
      key: '127.0.0.1',
      connections: 1,
      creations: new TokenBucket(1, 100, () => 0),
      stored: new TokenBucket(1 << 20, 1 << 20, () => 0),
    },
    clock: () => 0,
    closeGraceMs: 1_000,
    counters: { framesReceived: 0, errorsSent: 0 },
    maxBufferedBytes: 1 << 20,
    helloTimeoutMs: 60_000,
    maxAuthKeys: 16,
    log: (line) => logs.push(line),
  });
  const frame = (f: Parameters<typeof encodeFrame>[0]) => conn.receive(encodeFrame(f), true);
  frame({ t: 'hello', v: RELAY_PROTOCOL_VERSION, challenge: new Uint8Array(32) });
  return { conn, sent, logs, frame };
}

const secretRid = new Uint8Array(24).fill(0xab);
const del = (id: number) => ({ t: 'del' as const, id, rid: secretRid, auth: new Uint8Array(32) });

describe('RelayConnection', () => {
  it('turns a bug in a command into INTERNAL with the request id, and keeps going', async () => {
    const d = connection(async () => {
      throw new TypeError('something undefined');
    });
    expect(d.sent[0]).toMatchObject({ t: 'welcome' });
    d.frame(del(1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(d.sent[1]).toEqual({ t: 'err', id: 1, code: 'INTERNAL', msg: 'internal error' });
    expect(d.logs.join('\n')).toContain('TypeError');
    expect(d.logs.join('\n')).not.toContain('abab');
    d.frame({ t: 'ping', id: 2 });
    expect(d.sent[2]).toEqual({ t: 'ok', id: 2 });
    d.conn.closed();
  });

  it('a command layer that throws synchronously is caught too', () => {
    const d = connection(() => {
      throw new RangeError('sync');
    });
    d.frame(del(2));
    expect(d.sent[1]).toMatchObject({ t: 'err', id: 2, code: 'INTERNAL' });
    d.frame({ t: 'ping', id: 3 });
    expect(d.sent[2]).toEqual({ t: 'ok', id: 3 });
    d.conn.closed();
  });
});
