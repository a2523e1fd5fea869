/**
 * Two and three processes of one relay (decisions 0049, 0065): relays started with one
 * PostgreSQL store and one Redis bus (both started here on loopback in temporary folders),
 * each with its own clients over real WebSockets. What one process takes, the other one's
 * subscriber gets; a `stored` hint goes only to the process that holds the subscriber.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  deriveCommandAuthKey,
  fanoutEntryProof,
  generateDhKeyPair,
  initCrypto,
  openDelivery,
  systemRandom,
  utf8,
} from '@parus/core';
import type { MsgFrame, RelayFrame } from '@parus/core';
import pg from 'pg';
import type { BusSender, BusStatus } from '../src/bus/bus.ts';
import { RedisBus } from '../src/bus/redis-bus.ts';
import { nodeRandom } from '../src/node-random.ts';
import type { Relay } from '../src/index.ts';
import { POSTGRES_MISSING, postgresAvailable, startPostgresServer } from './support/postgres-server.ts';
import type { PostgresServer } from './support/postgres-server.ts';
import { REDIS_MISSING, redisAvailable, startRedisServer } from './support/redis-server.ts';
import type { RedisServer } from './support/redis-server.ts';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, sameBytes, send } from './test-client.ts';

const servers = postgresAvailable && redisAvailable;
if (!servers) console.warn(`bus-relays skipped: ${postgresAvailable ? REDIS_MISSING : POSTGRES_MISSING}`);

const LONG_MS = 20_000;

describe.skipIf(!servers)('two relay processes on one store and one bus', () => {
  let pg: PostgresServer;
  let redis: RedisServer;
  let secretDir: string;
  let keySecret: string;
  const relays = tempRelays();
  const clients: TestClient[] = [];
  let n = 0;

  beforeAll(async () => {
    await initCrypto();
    pg = await startPostgresServer();
    redis = await startRedisServer();
    secretDir = mkdtempSync(join(tmpdir(), 'parus-bus-secret-'));
    keySecret = join(secretDir, 'key-secret');
    writeFileSync(keySecret, Buffer.from(systemRandom.bytes(32)).toString('hex'), { mode: 0o600 });
  }, 120_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await relays.cleanup();
  });
  afterAll(async () => {
    await redis?.stop();
    await pg?.stop();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  }, 60_000);

  /** Processes A and B of one relay, on a fresh database. */
  async function pair(): Promise<[Relay, Relay]> {
    const store = await pg.createDatabase(`bus_${++n}`);
    const a = await relays.start({ store, keySecret, bus: redis.url });
    const b = await relays.start({ store, keySecret, bus: redis.url });
    // One relay: the same key, so one address's fingerprint stands for both.
    expect(a.address.replace(/@.*/, '')).toBe(b.address.replace(/@.*/, ''));
    return [a, b];
  }
  const connect = async (relay: Relay): Promise<TestClient> => {
    const c = await TestClient.connect(relay.address);
    clients.push(c);
    return c;
  };
  const text = (r: Recipient, m: MsgFrame): string =>
    new TextDecoder().decode(openDelivery(r.key, m.mid, m.body).body);
  const msgOf = (r: Recipient) => (f: RelayFrame) => f.t === 'msg' && sameBytes(f.rid, r.rid);
  /** Waits for the queue's next message on `c`. */
  const next = async (c: TestClient, r: Recipient): Promise<MsgFrame> =>
    (await c.waitFor(msgOf(r), 'msg', LONG_MS)) as MsgFrame;

  it('a send on A to a queue subscribed on B is delivered once', async () => {
    const [a, b] = await pair();
    const onB = await connect(b);
    const onA = await connect(a);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    expect(await r.sub(onB)).toMatchObject({ t: 'ok', pending: 0 });
    expect(await send(onA, r.sid, utf8('one'), sk)).toMatchObject({ t: 'ok' });
    const first = await next(onB, r);
    expect(text(r, first)).toBe('one');
    // A barrier: the next message came, and nothing else of this queue did before it.
    expect(await send(onA, r.sid, utf8('two'), sk)).toMatchObject({ t: 'ok' });
    expect(text(r, await next(onB, r))).toBe('two');
    expect(onB.pendingFrames().filter(msgOf(r))).toEqual([]);
  });

  it('an ack on B stops redelivery from A; a subscriber moving to A gets what it had not acked, B ends its subscription', async () => {
    const [a, b] = await pair();
    const onB = await connect(b);
    const sender = await connect(a);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    await r.sub(onB);
    await send(sender, r.sid, utf8('acked'), sk);
    await send(sender, r.sid, utf8('not acked'), sk);
    const acked = await next(onB, r);
    const unacked = await next(onB, r);
    expect(text(r, acked)).toBe('acked');
    expect(await r.ack(onB, acked.mid)).toMatchObject({ t: 'ok' });
    // The recipient comes back through A (as after a reconnect behind the load balancer).
    const onA = await connect(a);
    expect(await r.sub(onA)).toMatchObject({ t: 'ok', pending: 1 });
    const again = await next(onA, r);
    expect(text(r, again)).toBe('not acked');
    expect(sameBytes(again.mid, unacked.mid)).toBe(true);
    // B heard the takeover: its subscriber got `end`.
    await onB.waitFor((f) => f.t === 'end' && sameBytes(f.rid, r.rid), 'end on B', LONG_MS);
    // Sent through B now, delivered on A; the acked message never came again.
    await send(await connect(b), r.sid, utf8('after'), sk);
    expect(text(r, await next(onA, r))).toBe('after');
    expect(onA.pendingFrames().filter(msgOf(r))).toEqual([]);
  });

  it('acks taken by A for messages B delivered free B’s window', async () => {
    const [a, b] = await pair();
    const onB = await connect(b);
    const onA = await connect(a);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    await r.sub(onB);
    // The default window is 8: fill it, ack all of it on A, and more must come on B.
    const window = 8;
    for (let i = 0; i < window + 2; i++) await send(onA, r.sid, utf8(`m${i}`), sk);
    const first: MsgFrame[] = [];
    for (let i = 0; i < window; i++) first.push(await next(onB, r));
    for (const m of first) expect(await r.ack(onA, m.mid)).toMatchObject({ t: 'ok' });
    expect(text(r, await next(onB, r))).toBe(`m${window}`);
    expect(text(r, await next(onB, r))).toBe(`m${window + 1}`);
  });

  it('a fan-out on A reaches a queue subscribed on B, and a queue deleted on A ends its subscription on B', async () => {
    const [a, b] = await pair();
    const onB = await connect(b);
    const onA = await connect(a);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    await r.sub(onB);
    const fk = generateDhKeyPair(systemRandom);
    const list = await onA.request(onA.authed({ t: 'fnew', fk: fk.publicKey }, fk));
    if (list.t !== 'flist') throw new Error(`fnew failed: ${JSON.stringify(list)}`);
    const k = deriveCommandAuthKey(sk.secretKey, onA.relayDh, onA.session, sk.publicKey);
    const proof = fanoutEntryProof(k, onA.session, list.lid, r.sid);
    const ents = new Uint8Array([...r.sid, ...proof]);
    expect(await onA.request(onA.authed({ t: 'fadd', lid: list.lid, ents }, fk))).toMatchObject({ t: 'ok' });
    expect(
      await onA.request(onA.authed({ t: 'fsend', lid: list.lid, body: utf8('to the group') }, fk)),
    ).toMatchObject({
      t: 'fsent',
      n: 1,
    });
    expect(text(r, await next(onB, r))).toBe('to the group');
    expect(await r.del(onA)).toMatchObject({ t: 'ok' });
    await onB.waitFor((f) => f.t === 'end' && sameBytes(f.rid, r.rid), 'end on B', LONG_MS);
  });
});

describe.skipIf(!servers)('three relay processes: hints go to the holder', () => {
  let pgServer: PostgresServer;
  let redis: RedisServer;
  let secretDir: string;
  let keySecret: string;
  const relays = tempRelays();
  const clients: TestClient[] = [];
  const spies: RedisBus[] = [];
  let n = 0;

  beforeAll(async () => {
    await initCrypto();
    pgServer = await startPostgresServer();
    redis = await startRedisServer();
    secretDir = mkdtempSync(join(tmpdir(), 'parus-bus3-secret-'));
    keySecret = join(secretDir, 'key-secret');
    writeFileSync(keySecret, Buffer.from(systemRandom.bytes(32)).toString('hex'), { mode: 0o600 });
  }, 120_000);
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await Promise.all(spies.splice(0).map((s) => s.close()));
    await relays.cleanup();
  });
  afterAll(async () => {
    await redis?.stop();
    await pgServer?.stop();
    if (secretDir) rmSync(secretDir, { recursive: true, force: true });
  }, 60_000);

  async function trio(): Promise<{ store: string; relays: [Relay, Relay, Relay] }> {
    const store = await pgServer.createDatabase(`bus3_${++n}`);
    const a = await relays.start({ store, keySecret, bus: redis.url });
    const b = await relays.start({ store, keySecret, bus: redis.url });
    const c = await relays.start({ store, keySecret, bus: redis.url });
    return { store, relays: [a, b, c] };
  }
  const connect = async (relay: Relay): Promise<TestClient> => {
    const c = await TestClient.connect(relay.address);
    clients.push(c);
    return c;
  };
  const status = async (relay: Relay): Promise<{ bus: BusStatus; relay: { fingerprint: string } }> => {
    const res = await fetch(`http://127.0.0.1:${relay.port}/status.json`);
    return (await res.json()) as { bus: BusStatus; relay: { fingerprint: string } };
  };
  async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
    const end = Date.now() + LONG_MS;
    while (!(await condition())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
  const text = (r: Recipient, m: MsgFrame): string =>
    new TextDecoder().decode(openDelivery(r.key, m.mid, m.body).body);
  const msgOf = (r: Recipient) => (f: RelayFrame) => f.t === 'msg' && sameBytes(f.rid, r.rid);
  const next = async (c: TestClient, r: Recipient): Promise<MsgFrame> =>
    (await c.waitFor(msgOf(r), 'msg', LONG_MS)) as MsgFrame;
  /** A bus of the relay's own, on its channel: hears the processes' broadcasts, with their origins. */
  async function spy(relay: Relay): Promise<{ bus: RedisBus; heard: Array<{ t: string; from: BusSender }> }> {
    const bus = new RedisBus({ url: redis.url, rng: nodeRandom });
    spies.push(bus);
    const heard: Array<{ t: string; from: BusSender }> = [];
    await bus.start((await status(relay)).relay.fingerprint, {
      onEvent: (event, from) => heard.push({ t: event.t, from }),
      onReconnect: () => {},
    });
    return { bus, heard };
  }

  it('a stored hint reaches only the process holding the subscriber', async () => {
    const {
      relays: [a, b, c],
    } = await trio();
    const onB = await connect(b);
    const onA = await connect(a);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    const cBefore = (await status(c)).bus.received;
    await r.sub(onB);
    // Every process heard B take the subscription.
    await until(async () => (await status(c)).bus.received === cBefore + 1, 'the sub on C');
    await until(async () => (await status(a)).bus.received >= 1, 'the sub on A');
    const directBefore = (await status(a)).bus.publishedDirect;
    for (let i = 0; i < 5; i++) {
      expect(await send(onA, r.sid, utf8(`m${i}`), sk)).toMatchObject({ t: 'ok' });
      expect(text(r, await next(onB, r))).toBe(`m${i}`);
    }
    expect((await status(a)).bus.publishedDirect).toBeGreaterThan(directBefore);
    expect((await status(b)).bus.receivedDirect).toBeGreaterThanOrEqual(1);
    // A barrier: A broadcasts once more (a sub of another queue). Redis keeps one publisher's
    // order, so had A broadcast its hints, C would have heard them before this.
    const other = new Recipient();
    await other.create(onA);
    await other.sub(onA);
    await until(async () => (await status(c)).bus.received >= cBefore + 2, 'the barrier on C');
    expect((await status(c)).bus.received).toBe(cBefore + 2);
  });

  it('a hint sent to a process that no longer holds the queue goes on to every process', async () => {
    const {
      store,
      relays: [, b, c],
    } = await trio();
    const watch = await spy(b);
    const onB = await connect(b);
    const onC = await connect(c);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    await r.sub(onB);
    await until(async () => watch.heard.some((e) => e.t === 'sub'), 'B’s sub on the spy');
    const originB = watch.heard.find((e) => e.t === 'sub')!.from.origin;
    // The subscriber moves to C; B ends its own.
    expect(await r.sub(onC)).toMatchObject({ t: 'ok', pending: 0 });
    await onB.waitFor((f) => f.t === 'end' && sameBytes(f.rid, r.rid), 'end on B', LONG_MS);
    // A message written by a process that died before telling anyone, then a hint for it
    // sent to B alone (as by a process that had not heard of the move yet).
    const db = new pg.Client({ connectionString: store });
    await db.connect();
    let seq: number;
    try {
      const row = await db.query<{ last_seq: string }>(
        'UPDATE queues SET last_seq = last_seq + 1, msg_count = msg_count + 1, msg_bytes = msg_bytes + 40 ' +
          'WHERE rid = $1 RETURNING last_seq',
        [r.rid],
      );
      seq = Number(row.rows[0]!.last_seq);
      await db.query(
        'INSERT INTO messages (rid, seq, mid, ts, expires, body) VALUES ($1, $2, $3, $4, $5, $6)',
        [r.rid, seq, new Uint8Array(16).fill(9), Date.now(), Date.now() + 3_600_000, new Uint8Array(40)],
      );
    } finally {
      await db.end();
    }
    watch.bus.publish({ t: 'stored', items: [{ rid: r.rid, seq }] }, originB);
    const got = await next(onC, r);
    expect(sameBytes(got.mid, new Uint8Array(16).fill(9))).toBe(true);
    // B sent it on to every process.
    await until(
      async () => watch.heard.some((e) => e.t === 'stored' && e.from.origin === originB && !e.from.direct),
      'B’s broadcast',
    );
  });

  it('a subscriber moving between processes in the middle of a burst gets everything it had not acked, in order', async () => {
    const {
      relays: [a, b, c],
    } = await trio();
    const sender = await connect(a);
    const onB = await connect(b);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    await r.sub(onB);
    const total = 40;
    const sending = (async () => {
      for (let i = 0; i < total; i++) await send(sender, r.sid, utf8(`m${i}`), sk);
    })();
    const acked = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const m = await next(onB, r);
      acked.add(text(r, m));
      await r.ack(onB, m.mid);
    }
    // Back through C, then through B again, while A keeps sending.
    const onC = await connect(c);
    const seen: string[] = [];
    expect(await r.sub(onC)).toMatchObject({ t: 'ok' });
    for (let i = 0; i < 10; i++) {
      const m = await next(onC, r);
      seen.push(text(r, m));
      await r.ack(onC, m.mid);
    }
    const again = await connect(b);
    expect(await r.sub(again)).toMatchObject({ t: 'ok' });
    await sending;
    const rest = new Set([...acked, ...seen]);
    while (rest.size < total) {
      const m = await next(again, r);
      const body = text(r, m);
      seen.push(body);
      rest.add(body);
      await r.ack(again, m.mid);
    }
    for (let i = 0; i < total; i++) expect(rest.has(`m${i}`)).toBe(true);
    // In order on each connection (a message not acked before a move may come again).
    const order = seen.map((s) => Number(s.slice(1)));
    const ascending = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);
    expect(ascending(order.slice(0, 10))).toBe(true);
    expect(ascending(order.slice(10))).toBe(true);
  });

  it('a process that is gone is no hint’s destination: its subscriber, back on another, gets everything', async () => {
    const {
      relays: [a, b, c],
    } = await trio();
    const onA = await connect(a);
    const onB = await connect(b);
    const r = new Recipient();
    const sk = generateDhKeyPair(systemRandom);
    await r.create(onB, sk);
    await r.sub(onB);
    await until(async () => (await status(a)).bus.received >= 1, 'the sub on A');
    // B goes (its connections and its bus with it); A still takes sends for B's subscriber.
    await b.close();
    for (let i = 0; i < 3; i++) expect(await send(onA, r.sid, utf8(`m${i}`), sk)).toMatchObject({ t: 'ok' });
    // The hint to B found nobody: it went to every process, and B is forgotten as the holder.
    await until(async () => (await status(a)).bus.missed >= 1, 'the missed hint');
    const { missed, publishedDirect: direct, published } = (await status(a)).bus;
    expect(await send(onA, r.sid, utf8('m3'), sk)).toMatchObject({ t: 'ok' });
    await until(async () => (await status(a)).bus.published > published, 'the next hint');
    expect((await status(a)).bus).toMatchObject({ missed, publishedDirect: direct });
    const onC = await connect(c);
    expect(await r.sub(onC)).toMatchObject({ t: 'ok', pending: 4 });
    for (let i = 0; i < 4; i++) expect(text(r, await next(onC, r))).toBe(`m${i}`);
  });
});
