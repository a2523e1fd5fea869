import { generateDhKeyPair, openDelivery, systemRandom, utf8 } from '@parus/core';
import type { MsgFrame } from '@parus/core';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initCrypto } from '@parus/core';
import { tempRelays } from './temp-relay.ts';
import { Recipient, TestClient, containsBytes, send } from './test-client.ts';

const relays = tempRelays();
beforeAll(() => initCrypto());
afterEach(() => relays.cleanup());

function body(text: string): Uint8Array {
  return utf8(text);
}

function opened(r: Recipient, msg: MsgFrame): string {
  return new TextDecoder().decode(openDelivery(r.key, msg.mid, msg.body).body);
}

describe('queue flow', () => {
  it('creates, sends, subscribes, receives, acks, and the message is gone', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);

    expect(await send(bob, q.sid, body('hello alice'))).toMatchObject({ t: 'ok' });
    expect(await q.sub(alice)).toMatchObject({ t: 'ok', pending: 1 });
    const [msg] = await alice.messages(q.rid, 1);
    expect(opened(q, msg!)).toBe('hello alice');

    expect(await q.ack(alice, msg!.mid)).toMatchObject({ t: 'ok' });
    expect(relay.stats().messages).toBe(0);

    // A fresh subscription finds nothing, and a second ack of the same id is NOT_FOUND.
    const again = await TestClient.connect(relay.address);
    expect(await q.sub(again)).toMatchObject({ t: 'ok', pending: 0 });
    expect(await q.ack(again, msg!.mid)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    await again.ping();
    expect(again.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
  });

  it('pushes live messages to a subscriber, in order, with a correct pending count', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);

    for (let i = 0; i < 5; i++) await send(bob, q.sid, body(`stored ${i}`));
    expect(await q.sub(alice)).toMatchObject({ t: 'ok', pending: 5 });
    const backlog = await alice.messages(q.rid, 5);
    expect(backlog.map((m) => opened(q, m))).toEqual([0, 1, 2, 3, 4].map((i) => `stored ${i}`));

    // Sent concurrently, answered after the (group) commit, delivered live in order.
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => send(bob, q.sid, body(`live ${i}`))),
    );
    expect(replies.every((r) => r.t === 'ok')).toBe(true);
    const live = await alice.messages(q.rid, 50);
    expect(live.map((m) => opened(q, m))).toEqual(Array.from({ length: 50 }, (_, i) => `live ${i}`));
    expect(relay.stats()).toMatchObject({ messages: 55, messagesStored: 55, messagesDelivered: 55 });
  });

  it('delivers a window at a time, and more as acks arrive', async () => {
    const relay = await relays.start({ limits: { deliveryWindow: 3 } });
    const alice = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    for (let i = 0; i < 7; i++) await send(alice, q.sid, body(`m${i}`));

    expect(await q.sub(alice)).toMatchObject({ pending: 7 });
    const first = await alice.messages(q.rid, 3);
    await alice.ping();
    expect(alice.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);

    const seen = first.map((m) => opened(q, m));
    let out = first;
    while (seen.length < 7) {
      for (const m of out) await q.ack(alice, m.mid);
      out = await alice.messages(q.rid, Math.min(3, 7 - seen.length));
      seen.push(...out.map((m) => opened(q, m)));
    }
    expect(seen).toEqual(['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6']);
  });

  it('seals every delivered body: what goes out never contains what came in', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    await q.sub(alice);

    const secret = systemRandom.bytes(1000);
    await send(bob, q.sid, secret);
    const [msg] = await alice.messages(q.rid, 1);
    const delivered = openDelivery(q.key, msg!.mid, msg!.body);
    expect(delivered.body).toEqual(secret);
    expect(delivered.ts).toBeGreaterThan(0);
    for (const frame of alice.raw) expect(containsBytes(frame, secret.subarray(0, 32))).toBe(false);

    // The relay's own key for the queue is not the recipient's: a stranger's key fails.
    const stranger = new Recipient();
    await stranger.create(alice);
    expect(() => openDelivery(stranger.key, msg!.mid, msg!.body)).toThrow();
  });

  it('secured queues refuse unauthenticated and wrongly authenticated sends, and store nothing', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const bob = await TestClient.connect(relay.address);
    const sk = generateDhKeyPair(systemRandom);
    const q = new Recipient();
    await q.create(alice);

    // Unsecured: unauthenticated sends are accepted.
    expect(await send(bob, q.sid, body('intro'))).toMatchObject({ t: 'ok' });
    expect(await q.secure(alice, sk)).toMatchObject({ t: 'ok' });
    // The same key again is fine (a retried secure); another key is a protocol error.
    expect(await q.secure(alice, sk)).toMatchObject({ t: 'ok' });
    expect(await q.secure(alice, generateDhKeyPair(systemRandom))).toMatchObject({
      t: 'err',
      code: 'PROTOCOL',
    });

    expect(await send(bob, q.sid, body('bare'))).toMatchObject({ t: 'err', code: 'AUTH' });
    const impostor = generateDhKeyPair(systemRandom);
    expect(await send(bob, q.sid, body('wrong key'), impostor)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(relay.stats().messages).toBe(1);
    expect(await send(bob, q.sid, body('authenticated'), sk)).toMatchObject({ t: 'ok' });

    expect(await q.sub(alice)).toMatchObject({ pending: 2 });
    const got = await alice.messages(q.rid, 2);
    expect(got.map((m) => opened(q, m))).toEqual(['intro', 'authenticated']);
  });

  it('a queue created with sk is secured from the start', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const sk = generateDhKeyPair(systemRandom);
    const q = new Recipient();
    await q.create(alice, sk);
    expect(await send(alice, q.sid, body('x'))).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await send(alice, q.sid, body('x'), sk)).toMatchObject({ t: 'ok' });
  });

  it('only the recipient key may sub, ack, secure or delete', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const mallory = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    await send(alice, q.sid, body('private'));

    const fake = new Recipient();
    const as = (f: Recipient) => Object.assign(f, { rid: q.rid });
    expect(await as(fake).sub(mallory)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await as(fake).del(mallory)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await as(fake).secure(mallory, fake.rk)).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(await as(fake).ack(mallory, new Uint8Array(16))).toMatchObject({ t: 'err', code: 'AUTH' });
    expect(relay.stats()).toMatchObject({ queues: 1, messages: 1 });
  });

  it('a second subscriber takes the queue over; the first gets end', async () => {
    const relay = await relays.start();
    const first = await TestClient.connect(relay.address);
    const second = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(first);
    await q.sub(first);

    expect(await q.sub(second)).toMatchObject({ t: 'ok' });
    const end = await first.waitFor((f) => f.t === 'end');
    expect(end).toMatchObject({ t: 'end', rid: q.rid });

    await send(first, q.sid, body('to the new one'));
    const [msg] = await second.messages(q.rid, 1);
    expect(opened(q, msg!)).toBe('to the new one');
    await first.ping();
    expect(first.pendingFrames().filter((f) => f.t === 'msg')).toHaveLength(0);
  });

  it('del removes the queue and its messages and ends the subscription', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const watcher = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    await send(alice, q.sid, body('soon gone'));
    await q.sub(watcher);
    await watcher.messages(q.rid, 1);

    expect(await q.del(alice)).toMatchObject({ t: 'ok' });
    expect(await watcher.waitFor((f) => f.t === 'end')).toMatchObject({ rid: q.rid });
    expect(relay.stats()).toMatchObject({ queues: 0, messages: 0 });
    expect(await send(alice, q.sid, body('late'))).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    expect(await q.sub(alice)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
    expect(await q.del(alice)).toMatchObject({ t: 'err', code: 'NOT_FOUND' });
  });

  it('a closed subscriber connection frees the queue for delivery on the next one', async () => {
    const relay = await relays.start();
    const alice = await TestClient.connect(relay.address);
    const q = new Recipient();
    await q.create(alice);
    await q.sub(alice);
    await alice.close();

    const bob = await TestClient.connect(relay.address);
    await send(bob, q.sid, body('while away'));
    const back = await TestClient.connect(relay.address);
    expect(await q.sub(back)).toMatchObject({ pending: 1 });
    const [msg] = await back.messages(q.rid, 1);
    expect(opened(q, msg!)).toBe('while away');
  });
});
