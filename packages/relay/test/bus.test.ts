/**
 * The relay's bus (src/bus/, decision 0049): its messages, Redis pub/sub between processes of
 * one relay (a real redis-server on loopback, started here in a temporary folder), and the
 * subscriptions' answer to a hint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { DecodeError, UsageError, toHex } from '@parus/core';
import type { EndFrame, MsgFrame } from '@parus/core';
import { decodeBusEvent, encodeBusEvent, MAX_STORED_ITEMS } from '../src/bus/bus.ts';
import type { BusEvent } from '../src/bus/bus.ts';
import { RedisBus } from '../src/bus/redis-bus.ts';
import { nodeRandom } from '../src/node-random.ts';
import { SqliteQueueStore } from '../src/stores/sqlite/sqlite-queue-store.ts';
import { Subscriptions } from '../src/subscriptions.ts';
import type { Subscriber } from '../src/subscriptions.ts';
import { tempRelays } from './temp-relay.ts';
import { REDIS_MISSING, redisAvailable, startRedisServer } from './support/redis-server.ts';

const rid = (n: number): Uint8Array => new Uint8Array(24).fill(n);
const mid = (n: number): Uint8Array => new Uint8Array(16).fill(n);
const origin = new Uint8Array(8).fill(7);

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('bus messages', () => {
  const events: BusEvent[] = [
    {
      t: 'stored',
      items: [
        { rid: rid(1), seq: 1 },
        { rid: rid(2), seq: Number.MAX_SAFE_INTEGER },
      ],
    },
    { t: 'sub', rid: rid(3) },
    { t: 'acked', rid: rid(4), mids: [mid(1), mid(2), mid(3)] },
    { t: 'deleted', rid: rid(5) },
  ];

  it('read back as written, with their origin', () => {
    for (const event of events) {
      const decoded = decodeBusEvent(encodeBusEvent(origin, event));
      expect(decoded.origin).toEqual(origin);
      expect(decoded.event).toEqual(event);
    }
  });

  it('anything cut, extended or unknown is a DecodeError', () => {
    for (const event of events) {
      const bytes = encodeBusEvent(origin, event);
      for (const n of [0, 1, 8, 9, bytes.length - 1])
        expect(() => decodeBusEvent(bytes.subarray(0, n))).toThrow(DecodeError);
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      expect(() => decodeBusEvent(longer)).toThrow(DecodeError);
    }
    const unknown = encodeBusEvent(origin, events[1]!);
    unknown[0] = 99;
    expect(() => decodeBusEvent(unknown)).toThrow(DecodeError);
    const tooMany = new Uint8Array(11);
    tooMany[0] = 1;
    new DataView(tooMany.buffer).setUint16(9, MAX_STORED_ITEMS + 1);
    expect(() => decodeBusEvent(tooMany)).toThrow(DecodeError);
  });
});

if (!redisAvailable) console.warn(`RedisBus tests skipped: ${REDIS_MISSING}`);

describe.skipIf(!redisAvailable)('RedisBus: processes of one relay on one Redis', () => {
  let redis: { url: string; stop(): Promise<void> };
  const buses: RedisBus[] = [];
  beforeAll(async () => {
    redis = await startRedisServer();
  }, 60_000);
  afterEach(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const bus = (): RedisBus => {
    const b = new RedisBus({ url: redis.url, rng: nodeRandom });
    buses.push(b);
    return b;
  };

  it('what one publishes the others of the same relay hear, in order, and it does not hear itself', async () => {
    const a = bus();
    const b = bus();
    const other = bus();
    const heardA: BusEvent[] = [];
    const heardB: BusEvent[] = [];
    const heardOther: BusEvent[] = [];
    await a.start('relay-1', { onEvent: (e) => heardA.push(e), onReconnect: () => {} });
    await b.start('relay-1', { onEvent: (e) => heardB.push(e), onReconnect: () => {} });
    await other.start('relay-2', { onEvent: (e) => heardOther.push(e), onReconnect: () => {} });
    a.publish({ t: 'sub', rid: rid(1) });
    a.publish({ t: 'stored', items: [{ rid: rid(1), seq: 5 }] });
    a.publish({ t: 'stored', items: [{ rid: rid(2), seq: 6 }] });
    a.publish({ t: 'acked', rid: rid(1), mids: [mid(9)] });
    a.publish({ t: 'deleted', rid: rid(2) });
    await until(() => heardB.length >= 4, 'the events on b');
    // The two `stored` of one turn went as one message.
    expect(heardB).toEqual([
      { t: 'sub', rid: rid(1) },
      {
        t: 'stored',
        items: [
          { rid: rid(1), seq: 5 },
          { rid: rid(2), seq: 6 },
        ],
      },
      { t: 'acked', rid: rid(1), mids: [mid(9)] },
      { t: 'deleted', rid: rid(2) },
    ]);
    // Something b publishes after, so that a's and other's silence is not just early.
    b.publish({ t: 'sub', rid: rid(3) });
    await until(() => heardA.length === 1, 'b’s event on a');
    expect(heardA).toEqual([{ t: 'sub', rid: rid(3) }]);
    expect(heardOther).toEqual([]);
    expect(a.status()).toMatchObject({ kind: 'redis', connected: true, published: 4 });
    expect(b.status().received).toBe(4);
  });

  it('a process cut off from Redis reconnects, says so (its subscriptions read the store again), and hears again', async () => {
    const a = bus();
    const b = bus();
    const heardB: BusEvent[] = [];
    let reconnects = 0;
    await a.start('relay-1', { onEvent: () => {}, onReconnect: () => {} });
    await b.start('relay-1', { onEvent: (e) => heardB.push(e), onReconnect: () => (reconnects += 1) });
    const admin = new Redis(redis.url);
    try {
      await admin.client('KILL', 'TYPE', 'pubsub');
    } finally {
      admin.disconnect();
    }
    await until(() => reconnects === 2, 'the reconnect and the second read after it');
    a.publish({ t: 'deleted', rid: rid(4) });
    await until(() => heardB.length === 1, 'an event after the reconnect');
    expect(heardB).toEqual([{ t: 'deleted', rid: rid(4) }]);
  });

  it('a bus that cannot be reached fails start with a TransportError, and a bad URL is a UsageError', async () => {
    const port = await freePort();
    const away = new RedisBus({ url: `redis://127.0.0.1:${port}`, rng: nodeRandom, connectTimeoutMs: 2_000 });
    await expect(away.start('relay-1', { onEvent: () => {}, onReconnect: () => {} })).rejects.toMatchObject({
      name: 'TransportError',
    });
    expect(() => new RedisBus({ url: 'http://127.0.0.1:6379', rng: nodeRandom })).toThrow(UsageError);
  });
});

describe('startRelay with --bus', () => {
  const relays = tempRelays();
  afterEach(() => relays.cleanup());

  it('refuses a bus without a shared store, and a bus that is not redis://, with UsageError', async () => {
    await expect(relays.start({ bus: 'redis://127.0.0.1:6379' })).rejects.toBeInstanceOf(UsageError);
    await expect(
      relays.start({ bus: 'nats://127.0.0.1:4222', store: 'postgres://127.0.0.1/parus' }),
    ).rejects.toBeInstanceOf(UsageError);
  });
});

describe('Subscriptions: a hint from another process (notified)', () => {
  let dir: string;
  let store: SqliteQueueStore;
  let subs: Subscriptions;
  const frames: Array<MsgFrame | EndFrame> = [];
  const holder: Subscriber = { push: (frame) => frames.push(frame) };
  const q = {
    rid: rid(1),
    sid: rid(2),
    rk: new Uint8Array(32),
    sk: null,
    queueKey: new Uint8Array(32),
    created: 0,
  };
  const append = (n: number) =>
    store.append(
      { rid: q.rid, mid: mid(n), ts: 0, body: new Uint8Array([n]), expires: 1e15 },
      { checkedSk: null },
    );
  const delivered = (): string[] => frames.flatMap((f) => (f.t === 'msg' ? [toHex(f.mid)] : []));

  beforeEach(async () => {
    frames.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'parus-bus-subs-'));
    store = new SqliteQueueStore({ path: join(dir, 'q.sqlite'), maxQueueMessages: 100, maxQueueBytes: 1e6 });
    subs = new Subscriptions({ store, window: 4, now: () => 0, onError: () => {} });
    await store.createQueue(q);
  });
  afterEach(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads again below its cursor: what is in the store and not out goes out, what is out and unacked does not go twice', async () => {
    const m1 = await append(1);
    await append(2);
    await append(3);
    subs.subscribe(holder, q.rid);
    subs.pump(q.rid);
    await until(() => delivered().length === 3, 'the backlog');
    // m1 leaves the window without leaving the store (as when its ack's delete failed).
    subs.ackedKeys(q.rid, [toHex(mid(1))]);
    subs.notified(q.rid, m1.seq);
    await until(() => delivered().length === 4, 'the read after the hint');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(delivered()).toEqual([mid(1), mid(2), mid(3), mid(1)].map(toHex));
    // And then it goes on from where it was.
    await append(4);
    subs.notified(q.rid, 4);
    await until(() => delivered().length === 5, 'the next message');
    expect(delivered().at(-1)).toBe(toHex(mid(4)));
  });

  it('rereadAll (the bus came back) delivers what arrived meanwhile and nothing twice', async () => {
    await append(1);
    subs.subscribe(holder, q.rid);
    subs.pump(q.rid);
    await until(() => delivered().length === 1, 'the backlog');
    // Stored by another process while the hint was lost: this one does not know.
    await append(2);
    subs.rereadAll();
    await until(() => delivered().length === 2, 'the re-read');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(delivered()).toEqual([mid(1), mid(2)].map(toHex));
  });
});
