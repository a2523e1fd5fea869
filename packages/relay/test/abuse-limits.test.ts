/**
 * What a stranger with no account can make the relay spend (docs/decisions/0023): queue
 * creations per connection and per source address, stored bytes per source address, the
 * relay's storage budget, connections per source address, and a peer that ignores the
 * relay's close. Every client here connects from 127.0.0.1, so they share one source address.
 */
import { connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { generateDhKeyPair, initCrypto, openDelivery, systemRandom } from '@parus/core';
import type { RelayFrame } from '@parus/core';
import { WebSocket } from 'ws';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { addressKey } from '../src/source-addresses.ts';
import type { Relay } from '../src/index.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, send, withTimeout } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

/** A `new` that may be refused: the reply as it comes. */
function tryCreate(client: TestClient): Promise<RelayFrame> {
  const q = new Recipient();
  return client.request(client.authed({ t: 'new', rk: q.rk.publicKey, rdh: q.rdh.publicKey }, q.rk));
}

function tryBlob(client: TestClient, size: number): Promise<RelayFrame> {
  const uk = generateDhKeyPair(systemRandom);
  const dk = generateDhKeyPair(systemRandom);
  return client.request(client.authed({ t: 'bnew', uk: uk.publicKey, dk: dk.publicKey, size }, uk));
}

async function health(relay: Relay): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${relay.port}/health`);
  return (await res.json()) as Record<string, unknown>;
}

/** The HTTP status of an upgrade the relay refuses, or 101 when it takes it (then closed). */
function upgradeStatus(relay: Relay): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${relay.port}/ws`);
  return withTimeout(
    new Promise<number>((resolve) => {
      ws.on('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => resolve(-1));
    }),
    'upgrade',
  );
}

const never = 1e-9; // a bucket that does not refill within a test

describe('queue creations', () => {
  it('are limited per connection, then per source address (QUOTA), and nothing is created past them', async () => {
    const relay = await relays.start({
      limits: {
        queueCreationBurst: 3,
        queueCreationsPerMinute: never,
        addressQueueCreationBurst: 5,
        addressQueueCreationsPerMinute: never,
      },
    });
    const a = await TestClient.connect(relay.address);
    for (let i = 0; i < 3; i++) expect(await tryCreate(a)).toMatchObject({ t: 'ids' });
    expect(await tryCreate(a)).toMatchObject({ t: 'err', code: 'QUOTA' });
    // Another connection from the same address has its own 3, but the address only 2 more.
    const b = await TestClient.connect(relay.address);
    expect(await tryCreate(b)).toMatchObject({ t: 'ids' });
    expect(await tryCreate(b)).toMatchObject({ t: 'ids' });
    expect(await tryCreate(b)).toMatchObject({ t: 'err', code: 'QUOTA' });
    // A new connection does not start the address afresh.
    await b.close();
    const c = await TestClient.connect(relay.address);
    expect(await tryCreate(c)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(relay.stats().queues).toBe(5);
    expect(await a.ping()).toMatchObject({ t: 'ok' });
  });
});

describe('stored bytes per source address', () => {
  it('refuses sends past the address budget (QUOTA), on every connection of the address', async () => {
    const relay = await relays.start({
      limits: { addressStoredByteBurst: 300_100, addressStoredBytesPerMinute: never },
    });
    const a = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(a);
    const body = systemRandom.bytes(100_000);
    for (let i = 0; i < 3; i++) expect(await send(a, q.sid, body)).toMatchObject({ t: 'ok' });
    expect(await send(a, q.sid, body)).toMatchObject({ t: 'err', code: 'QUOTA' });
    const b = await TestClient.connect(relay.address);
    expect(await send(b, q.sid, body)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(relay.stats().messages).toBe(3);
    // A small message still fits what is left (nothing above was spent by a refusal).
    expect(await send(b, q.sid, systemRandom.bytes(10))).toMatchObject({ t: 'ok' });
  });
});

describe('storage budget', () => {
  it('when reached: QUOTA for new queues and blobs, /health says so, existing queues still take and deliver', async () => {
    const relay = await relays.start({ limits: { maxStoredBytes: 400_000 } });
    const client = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(client);
    expect(await health(relay)).toMatchObject({ ok: true, storageFull: false, storageBudget: 400_000 });
    expect(await tryBlob(client, 1000)).toMatchObject({ t: 'blob' });
    const body = systemRandom.bytes(100_000);
    let sent = 0;
    while (!relay.stats().storageFull) {
      expect(await send(client, q.sid, body)).toMatchObject({ t: 'ok' });
      sent += 1;
      expect(sent).toBeLessThan(20);
    }
    expect(relay.stats().storedBytes).toBeGreaterThanOrEqual(400_000);
    expect(await tryCreate(client)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await tryBlob(client, 1000)).toMatchObject({ t: 'err', code: 'QUOTA' });
    const h = await health(relay);
    expect(h).toMatchObject({ ok: true, storageFull: true, storageBudget: 400_000, queues: 1 });
    expect(h.storageUsed as number).toBeGreaterThanOrEqual(400_000);
    // The queue that exists keeps working: one more message is taken and everything is delivered.
    const last = systemRandom.bytes(50);
    expect(await send(client, q.sid, last)).toMatchObject({ t: 'ok' });
    expect(await q.sub(client)).toMatchObject({ t: 'ok', pending: sent + 1 });
    const msgs = await client.messages(q.rid, sent + 1);
    const opened = openDelivery(q.key, msgs[sent]!.mid, msgs[sent]!.body);
    expect(opened.body).toEqual(last);
  });

  it('a blob must fit in what is left when it is created', async () => {
    const relay = await relays.start({ limits: { maxStoredBytes: 4 * 1024 * 1024 } });
    const client = await TestClient.connect(relay.address);
    expect(await tryBlob(client, 5 * 1024 * 1024)).toMatchObject({ t: 'err', code: 'QUOTA' });
    expect(await tryBlob(client, 1024 * 1024)).toMatchObject({ t: 'blob' });
  });
});

describe('connections per source address', () => {
  it('refuses the upgrade past the limit (HTTP 429), and takes one again once a connection closed', async () => {
    const relay = await relays.start({ limits: { maxConnectionsPerAddress: 2 } });
    const a = await TestClient.connect(relay.address);
    const b = await TestClient.connect(relay.address);
    expect(await upgradeStatus(relay)).toBe(429);
    expect(relay.stats().connectionsRefused).toBe(1);
    expect(await a.ping()).toMatchObject({ t: 'ok' });
    await a.close();
    // The relay counts the connection until its TCP socket is gone: wait for that.
    let status = 0;
    for (let i = 0; i < 100 && status !== 101; i++) {
      status = await upgradeStatus(relay);
      if (status !== 101) await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(101);
    expect(await b.ping()).toMatchObject({ t: 'ok' });
  });

  it('counts an IPv6 address by its /64 and an IPv4-mapped one as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(addressKey('2001:db8:1:2::1')).not.toBe(addressKey('2001:db8:1:3::1'));
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
  });
});

/**
 * A WebSocket client written by hand, so that it can do what the `ws` client never does:
 * ignore the relay's close frame and keep sending.
 */
class RawPeer {
  private buffered = Buffer.alloc(0);
  private upgraded = false;
  gotClose = false;
  readonly ended: Promise<void>;
  private onClose: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => this.read(chunk));
  }

  static async open(port: number): Promise<RawPeer> {
    const socket = connect(port, '127.0.0.1');
    const peer = new RawPeer(socket);
    await withTimeout(new Promise((resolve) => socket.once('connect', resolve)), 'tcp connect');
    socket.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await withTimeout(
      new Promise<void>((resolve) => {
        const wait = (): void => {
          if (peer.upgraded) resolve();
          else setTimeout(wait, 5);
        };
        wait();
      }),
      'upgrade',
    );
    return peer;
  }

  /** Resolves when the relay's close frame arrived. */
  closeFrame(ms: number): Promise<void> {
    return withTimeout(
      new Promise<void>((resolve) => {
        if (this.gotClose) resolve();
        else this.onClose = resolve;
      }),
      'close frame',
      ms,
    );
  }

  /** A masked binary frame, as a client must send. */
  sendBinary(payload: Uint8Array): boolean {
    if (this.socket.destroyed) return false;
    const mask = randomBytes(4);
    const head = Buffer.from([0x82, 0x80 | payload.length]);
    const body = Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!));
    return this.socket.write(Buffer.concat([head, mask, body]));
  }

  private read(chunk: Buffer): void {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    if (!this.upgraded) {
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.upgraded = this.buffered.subarray(0, end).toString().startsWith('HTTP/1.1 101');
      this.buffered = this.buffered.subarray(end + 4);
    }
    // Server frames are unmasked; only the opcode of each matters here.
    while (this.buffered.length >= 2) {
      const len7 = this.buffered[1]! & 0x7f;
      const headLen = len7 === 126 ? 4 : len7 === 127 ? 10 : 2;
      if (this.buffered.length < headLen) return;
      const len = len7 === 126 ? this.buffered.readUInt16BE(2) : len7 === 127 ? 0 : len7;
      if (this.buffered.length < headLen + len) return;
      if ((this.buffered[0]! & 0x0f) === 0x8) {
        this.gotClose = true;
        this.onClose?.();
      }
      this.buffered = this.buffered.subarray(headLen + len);
    }
  }
}

describe('a peer that ignores the close', () => {
  it('is read no more and cut after the grace period', async () => {
    const lines: string[] = [];
    const relay = await relays.start({
      log: (line) => lines.push(line),
      limits: { helloTimeoutMs: 200, closeGraceMs: 300 },
    });
    const startup = lines.length;
    const peer = await RawPeer.open(relay.port);
    await peer.closeFrame(10_000); // hello timeout: the relay closes
    const before = relay.stats().framesReceived;
    // Ignore it: keep sending frames until the relay cuts the socket.
    let sent = 0;
    const flood = (): void => {
      for (let i = 0; i < 50; i++) if (peer.sendBinary(new Uint8Array([0xa1, 0x61, 0x74]))) sent += 1;
      if (!peer.socket.destroyed) setImmediate(flood);
    };
    flood();
    await withTimeout(peer.ended, 'the relay cuts the socket', 10_000);
    expect(sent).toBeGreaterThan(0);
    expect(relay.stats().framesReceived).toBe(before);
    expect(lines.slice(startup)).toEqual([]);
  }, 30_000);

  it('a peer that floods and never reads logs one line, however long it goes on', async () => {
    const lines: string[] = [];
    const relay = await relays.start({
      log: (line) => lines.push(line),
      limits: { framesPerSecond: 50, frameBurst: 5 },
    });
    const startup = lines.length;
    const peer = await RawPeer.open(relay.port);
    let rounds = 0;
    await withTimeout(
      new Promise<void>((resolve) => {
        const flood = (): void => {
          for (let i = 0; i < 100; i++) peer.sendBinary(new Uint8Array([0xa1, 0x61, 0x74]));
          rounds += 1;
          if (relay.stats().framesReceived >= 60 || peer.socket.destroyed) resolve();
          else setTimeout(flood, 5);
        };
        flood();
      }),
      'the relay reads 60 frames',
      20_000,
    );
    expect(rounds).toBeGreaterThan(0);
    expect(peer.socket.destroyed).toBe(false);
    expect(lines.filter((l) => /frame rate/.test(l))).toHaveLength(1);
    expect(lines.slice(startup)).toHaveLength(1);
    peer.socket.destroy();
  }, 30_000);
});
