// RelayConnection closed while its socket is still opening (issue 11 §17, decision 0024): the
// socket that opens afterwards is closed too, so a command refused right after start() exits.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initCrypto, systemRandom } from '@parus/core';
import { startRelay } from '@parus/relay';
import { RelayConnection } from '../src/index.ts';
import type { Transport, TransportConnection } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { waitFor } from './support/wait-for.ts';

let dir = '';
beforeAll(async () => {
  await initCrypto();
  dir = mkdtempSync(join(tmpdir(), 'parus-conn-close-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The real Node transport, counting the attempts, the attempts that ended (a socket or an
 * abort), the sockets it opened and those closed (by either side).
 */
function countingTransport(): {
  transport: Transport;
  attempts: () => number;
  settled: () => number;
  opened: () => number;
  ended: () => number;
} {
  const real = nodeTransport();
  let attempts = 0;
  let settled = 0;
  let opened = 0;
  let ended = 0;
  return {
    attempts: () => attempts,
    settled: () => settled,
    opened: () => opened,
    ended: () => ended,
    transport: {
      async connect(url, signal): Promise<TransportConnection> {
        attempts++;
        const conn = await real.connect(url, signal).finally(() => settled++);
        opened++;
        let done = false;
        const end = (): void => {
          if (!done) ended++;
          done = true;
        };
        // A connection has one close handler (the last one given): count through each.
        return {
          send: (data) => conn.send(data),
          onMessage: (handler) => conn.onMessage(handler),
          onClose: (handler) =>
            conn.onClose((reason) => {
              end();
              handler(reason);
            }),
          close: () => {
            end();
            conn.close();
          },
        };
      },
    },
  };
}

describe('RelayConnection closed while connecting', () => {
  it('closes the socket that opens after close(), and never reconnects', async () => {
    const relay = await startRelay({ port: 0, dataDir: join(dir, 'relay') });
    try {
      const counting = countingTransport();
      const conn = new RelayConnection({
        address: relay.address,
        transport: counting.transport,
        rng: systemRandom,
        onMessage: () => {},
      });
      conn.connect();
      conn.close();
      // The socket being opened when close() came is aborted, or opens and is then closed: never kept.
      await waitFor(() => counting.settled() === 1 && counting.opened() === counting.ended(), 20_000);
      expect(conn.connected).toBe(false);
      // Still one attempt: the closed connection does not try again.
      await new Promise<void>((r) => setTimeout(r, 1_000));
      expect(counting.attempts()).toBe(1);
      expect(counting.opened()).toBe(counting.ended());
    } finally {
      await relay.close();
    }
  });
});
