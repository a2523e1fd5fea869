// RelayConnection against a real relay: the relay's identity check, and reconnecting.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  TransportError,
  VerificationError,
  decodeClientFrame,
  decodeRelayFrame,
  formatRelayAddress,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  parseRelayAddress,
  queueKey,
  splitAckIds,
  systemRandom,
  toHex,
  utf8,
} from '@parus/core';
import type { AckFrame, ClientFrame, RelayFrame } from '@parus/core';
import { startRelay } from '@parus/relay';
import { RelayConnection } from '../src/index.ts';
import type { Transport } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { waitFor } from './support/wait-for.ts';

const dirs: string[] = [];
beforeAll(async () => {
  await initCrypto();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'parus-conn-'));
  dirs.push(d);
  return d;
}

describe('RelayConnection', () => {
  it('refuses a relay whose key does not match the fingerprint, and does not retry it', async () => {
    const relay = await startRelay({ port: 0, dataDir: dataDir() });
    try {
      const real = parseRelayAddress(relay.address);
      const fingerprint = real.fingerprint.slice();
      fingerprint[0]! ^= 0xff;
      const impostor = formatRelayAddress({ ...real, fingerprint });
      const conn = new RelayConnection({
        address: impostor,
        transport: nodeTransport(),
        rng: systemRandom,
        onMessage: () => {},
      });
      await expect(conn.start()).rejects.toThrow(VerificationError);
      await expect(conn.whenConnected()).rejects.toThrow(VerificationError);
      expect(conn.connected).toBe(false);
      conn.close();
    } finally {
      await relay.close();
    }
  });

  // A command exits once its work is done only if no socket outlives close(): a connection
  // still opening (a second relay, reached late) used to finish after close() and stay open.
  describe('close() during a connection attempt leaves no socket open', () => {
    /** The real transport, watched: which sockets it opened, and whether each was closed. */
    function watched(opts: { gate?: Promise<void>; onHello?: () => void }): {
      transport: Transport;
      opened: Array<{ closed: boolean }>;
    } {
      const real = nodeTransport();
      const opened: Array<{ closed: boolean }> = [];
      const transport: Transport = {
        // Ignores the abort signal, as a slow transport may: the socket opens after close().
        async connect(url) {
          await opts.gate;
          const conn = await real.connect(url);
          const state = { closed: false };
          opened.push(state);
          let sent = 0;
          return {
            send(data) {
              conn.send(data);
              if (sent++ === 0) opts.onHello?.();
            },
            close() {
              state.closed = true;
              conn.close();
            },
            onMessage: (h) => conn.onMessage(h),
            onClose: (h) =>
              conn.onClose((reason) => {
                state.closed = true;
                h(reason);
              }),
          };
        },
      };
      return { transport, opened };
    }

    it('while the socket opens', async () => {
      const relay = await startRelay({ port: 0, dataDir: dataDir() });
      let open!: () => void;
      const gate = new Promise<void>((r) => (open = r));
      const { transport, opened } = watched({ gate });
      const conn = new RelayConnection({
        address: relay.address,
        transport,
        rng: systemRandom,
        onMessage: () => {},
      });
      try {
        conn.connect();
        conn.close();
        await expect(conn.whenConnected()).rejects.toThrow(TransportError);
        open();
        await waitFor(() => opened.length === 1 && opened[0]!.closed);
        await waitFor(() => relay.stats().connections === 0);
        expect(conn.connected).toBe(false);
      } finally {
        await relay.close();
      }
    });

    it('while it waits for the welcome', async () => {
      const relay = await startRelay({ port: 0, dataDir: dataDir() });
      const late: { conn?: RelayConnection } = {};
      const { transport, opened } = watched({ onHello: () => queueMicrotask(() => late.conn!.close()) });
      const conn = new RelayConnection({
        address: relay.address,
        transport,
        rng: systemRandom,
        onMessage: () => {},
      });
      late.conn = conn;
      try {
        conn.connect();
        await waitFor(() => opened.length === 1 && opened[0]!.closed);
        await waitFor(() => relay.stats().connections === 0);
        expect(conn.connected).toBe(false);
      } finally {
        await relay.close();
      }
    });
  });

  it('reconnects after the relay restarts, resubscribes, and receives what comes next', async () => {
    const dir = dataDir();
    let relay = await startRelay({ port: 0, dataDir: dir });
    const port = relay.port;
    const received: string[] = [];
    let key: Uint8Array | undefined;
    const conn = new RelayConnection({
      address: relay.address,
      transport: nodeTransport(),
      rng: systemRandom,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      onMessage: (_rid, mid, body) => {
        received.push(new TextDecoder().decode(openDelivery(key!, mid, body).body));
      },
    });
    try {
      await conn.start();
      const rk = generateDhKeyPair(systemRandom);
      const rdh = generateDhKeyPair(systemRandom);
      const ids = await conn.command({ t: 'new', rk: rk.publicKey, rdh: rdh.publicKey }, rk.secretKey);
      if (ids.t !== 'ids') throw new Error('expected ids');
      key = queueKey(rdh.secretKey, ids.sdh, ids.rid);
      await conn.subscribe(ids.rid, rk.secretKey);
      await conn.command({ t: 'send', sid: ids.sid, body: utf8('before restart') });
      await waitFor(() => received.length === 1);
      await conn.drained(); // the ack is out: otherwise the relay rightly delivers it again
      await relay.close();
      await waitFor(() => !conn.connected);
      await expect(conn.command({ t: 'ping' })).rejects.toThrow(TransportError);
      relay = await startRelay({ port, dataDir: dir });
      await conn.whenConnected(10_000);
      await conn.command({ t: 'send', sid: ids.sid, body: utf8('after restart') });
      await waitFor(() => received.length === 2);
      expect(received).toEqual(['before restart', 'after restart']);
    } finally {
      conn.close();
      await relay.close();
    }
  });

  it('acks a burst of deliveries in batches, and one by one when the relay refuses a batch', async () => {
    const relay = await startRelay({ port: 0, dataDir: dataDir() });
    const sent: ClientFrame[] = [];
    const inner = nodeTransport();
    const transport: Transport = {
      async connect(url, signal) {
        const c = await inner.connect(url, signal);
        return {
          send: (data) => {
            sent.push(decodeClientFrame(data));
            c.send(data);
          },
          close: () => c.close(),
          onMessage: (h) => c.onMessage(h),
          onClose: (h) => c.onClose(h),
        };
      },
    };
    let ackFirstMyself: Uint8Array | undefined;
    const seen: string[] = [];
    const rk = generateDhKeyPair(systemRandom);
    const conn: RelayConnection = new RelayConnection({
      address: relay.address,
      transport,
      rng: systemRandom,
      onMessage: async (rid, mid) => {
        seen.push(toHex(mid));
        // The first delivery of the second burst is acked on its own before its batch goes,
        // so the batch names an id the relay no longer holds.
        if (ackFirstMyself && seen.length === 21) await conn.command({ t: 'ack', rid, mid }, rk.secretKey);
      },
    });
    try {
      await conn.start();
      const rdh = generateDhKeyPair(systemRandom);
      const ids = await conn.command({ t: 'new', rk: rk.publicKey, rdh: rdh.publicKey }, rk.secretKey);
      if (ids.t !== 'ids') throw new Error('expected ids');
      const burst = async (): Promise<void> => {
        await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            conn.command({ t: 'send', sid: ids.sid, body: utf8(`m${i}`) }),
          ),
        );
      };
      await burst();
      // The backlog arrives in one burst after `sub`: its acks leave in batches.
      expect(await conn.subscribe(ids.rid, rk.secretKey)).toBe(20);
      await waitFor(() => seen.length === 20);
      await conn.drained();
      expect(relay.stats().messages).toBe(0);
      const acks = sent.filter((f): f is AckFrame => f.t === 'ack');
      expect(acks.length).toBeLessThan(20);
      const acked = acks.flatMap((f) => (f.mids ? splitAckIds(f.mids) : [f.mid!])).map(toHex);
      expect(acked.sort()).toEqual([...seen].sort());

      // Live deliveries of sends committed together arrive in one burst too.
      ackFirstMyself = new Uint8Array(0);
      sent.length = 0;
      await burst();
      await waitFor(() => seen.length === 40);
      await conn.drained();
      // The refused batch was acked again id by id: nothing is left.
      expect(relay.stats().messages).toBe(0);
      expect(sent.some((f) => f.t === 'ack' && f.mids !== undefined)).toBe(true);
      // The one acked by hand, then the refused batch's ids one by one.
      expect(sent.filter((f) => f.t === 'ack' && f.mid !== undefined).length).toBeGreaterThan(2);
    } finally {
      conn.close();
      await relay.close();
    }
  });

  it('asks for coalesced answers in its hello, and settles every command an oks frame answers', async () => {
    const relay = await startRelay({ port: 0, dataDir: dataDir() });
    const sent: ClientFrame[] = [];
    const received: RelayFrame[] = [];
    const inner = nodeTransport();
    const transport: Transport = {
      async connect(url, signal) {
        const c = await inner.connect(url, signal);
        return {
          send: (data) => {
            sent.push(decodeClientFrame(data));
            c.send(data);
          },
          close: () => c.close(),
          onMessage: (h) =>
            c.onMessage((data) => {
              received.push(decodeRelayFrame(data));
              h(data);
            }),
          onClose: (h) => c.onClose(h),
        };
      },
    };
    const conn = new RelayConnection({
      address: relay.address,
      transport,
      rng: systemRandom,
      onMessage: () => {},
    });
    try {
      await conn.start();
      expect(sent[0]).toMatchObject({ t: 'hello', oks: 1 });
      const rk = generateDhKeyPair(systemRandom);
      const rdh = generateDhKeyPair(systemRandom);
      const ids = await conn.command({ t: 'new', rk: rk.publicKey, rdh: rdh.publicKey }, rk.secretKey);
      if (ids.t !== 'ids') throw new Error('expected ids');
      // Sends to a queue nobody reads are answered after the group commit that took them.
      const answers = await Promise.all(
        Array.from({ length: 20 }, (_, i) => conn.command({ t: 'send', sid: ids.sid, body: utf8(`m${i}`) })),
      );
      const sendIds = sent.filter((f) => f.t === 'send').map((f) => (f as { id: number }).id);
      expect(answers).toEqual(sendIds.map((id) => ({ t: 'ok', id })));
      const coalesced = received.flatMap((f) => (f.t === 'oks' ? [f.ids] : []));
      expect(coalesced.some((batch) => batch.length >= 2)).toBe(true);
      expect(relay.stats().messages).toBe(20);
    } finally {
      conn.close();
      await relay.close();
    }
  });

  it('acks 1:1 deliveries in batches across a relay restart: what was not acked comes again, and nothing is left', async () => {
    const dir = dataDir();
    let relay = await startRelay({ port: 0, dataDir: dir });
    const port = relay.port;
    const sent: ClientFrame[] = [];
    const inner = nodeTransport();
    const transport: Transport = {
      async connect(url, signal) {
        const c = await inner.connect(url, signal);
        return {
          send: (data) => {
            sent.push(decodeClientFrame(data));
            c.send(data);
          },
          close: () => c.close(),
          onMessage: (h) => c.onMessage(h),
          onClose: (h) => c.onClose(h),
        };
      },
    };
    const seen: string[] = [];
    let gate: Promise<void> | undefined;
    let open: () => void = () => {};
    const conn = new RelayConnection({
      address: relay.address,
      transport,
      rng: systemRandom,
      minBackoffMs: 20,
      maxBackoffMs: 200,
      onMessage: async (_rid, mid) => {
        seen.push(toHex(mid));
        // The first burst's handling waits until the relay is gone: its acks cannot reach it.
        if (gate) await gate;
      },
    });
    try {
      await conn.start();
      const rk = generateDhKeyPair(systemRandom);
      const rdh = generateDhKeyPair(systemRandom);
      const ids = await conn.command({ t: 'new', rk: rk.publicKey, rdh: rdh.publicKey }, rk.secretKey);
      if (ids.t !== 'ids') throw new Error('expected ids');
      await conn.subscribe(ids.rid, rk.secretKey);
      const burst = (from: number): Promise<unknown> =>
        Promise.all(
          Array.from({ length: 10 }, (_, i) =>
            conn.command({ t: 'send', sid: ids.sid, body: utf8(`m${from + i}`) }),
          ),
        );
      // Ten delivered and acked in batches before the restart.
      await burst(0);
      await waitFor(() => seen.length === 10);
      await conn.drained();
      await waitFor(() => relay.stats().messages === 0);
      const before = new Set(seen);
      // Ten more answered `ok` (durable or acked) while their recipient holds their acks.
      gate = new Promise((resolve) => (open = resolve));
      await burst(10);
      await waitFor(() => seen.length > 10);
      await relay.close();
      await waitFor(() => !conn.connected);
      open();
      await conn.drained(); // the batch finds no relay: nothing is acked
      gate = undefined;
      sent.length = 0;
      relay = await startRelay({ port, dataDir: dir });
      await conn.whenConnected(10_000);
      // Every one of the ten comes again after the re-subscription; none of the first ten does.
      await waitFor(() => new Set(seen).size === 20 && relay.stats().messages === 0, 20_000);
      await conn.drained();
      const again = seen.slice(seen.length - 10);
      expect(again.filter((mid) => before.has(mid))).toEqual([]);
      expect(new Set(again).size).toBe(10);
      // And their acks went in batches (fewer frames than messages), every id once.
      const acks = sent.filter((f): f is AckFrame => f.t === 'ack');
      expect(acks.length).toBeLessThan(10);
      const acked = acks.flatMap((f) => (f.mids ? splitAckIds(f.mids) : [f.mid!])).map(toHex);
      expect(acked.sort()).toEqual([...again].sort());
    } finally {
      conn.close();
      await relay.close();
    }
  });

  it('keeps a burst within the rate the relay announces, in order; unpaced frames wait at the relay, none refused', async () => {
    // 20 frames a second, 10 at once.
    const limits = { framesPerSecond: 20, frameBurst: 10 };
    const relay = await startRelay({ port: 0, dataDir: dataDir(), limits });
    const conn = new RelayConnection({
      address: relay.address,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => {},
    });
    try {
      await conn.start();
      const answered: number[] = [];
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => conn.command({ t: 'ping' }).then(() => answered.push(i))),
      );
      expect(answered).toEqual(Array.from({ length: 30 }, (_, i) => i));
      expect(conn.connected).toBe(true);
      // The same burst from a connection that does not pace: the relay reads it at its rate
      // (its socket paused meanwhile) and answers every frame, in order; nothing is refused.
      const unpaced = new RelayConnection({
        address: relay.address,
        transport: nodeTransport(),
        rng: systemRandom,
        onMessage: () => {},
      });
      await unpaced.start();
      (unpaced as unknown as { pacer: unknown }).pacer = undefined;
      const order: number[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: 30 }, (_, i) => unpaced.command({ t: 'ping' }).then(() => order.push(i))),
      );
      expect(unpaced.connected).toBe(true);
      unpaced.close();
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
      expect(order).toEqual(Array.from({ length: 30 }, (_, i) => i));
    } finally {
      conn.close();
      await relay.close();
    }
  }, 30_000);
});
