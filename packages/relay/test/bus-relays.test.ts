/**
 * Two processes of one relay (decision 0049): two relays started with one PostgreSQL store
 * and one Redis bus (both started here on loopback in temporary folders), each with its own
 * clients over real WebSockets. What one process takes, the other one's subscriber gets.
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
