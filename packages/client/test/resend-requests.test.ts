// A contact's resend requests against the outbox (docs/decisions/0025): deduplicated, bounded,
// paced per contact, and entries nobody acknowledges are given up as `failed`. A real relay on
// loopback; the attacking contact is a real account whose own engine writes the requests.
import { describe, expect, it } from 'vitest';
import { fromHex, systemRandom, type CborMap, type MessageKind } from '@parus/core';
import { Account, RelayConnection } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import type { ContactRecord } from '../src/records.ts';
import type { StoreOp } from '../src/store.ts';
import { MAX_RESEND_QUEUED } from '../src/account/direct-outbox.ts';
import { KeptStore, befriend, relayWorld } from './support/group-harness.ts';

const world = relayWorld('resend');

interface Internals {
  contactsById: Map<string, ContactRecord>;
  lock: { run: <T>(f: () => Promise<T>) => Promise<T> };
  store: { batch(ops: StoreOp[]): Promise<void> };
  outbox: { control(c: ContactRecord, kind: MessageKind, body: CborMap): StoreOp };
  relays: Map<string, RelayConnection>;
}

/** Makes `from`'s own engine send `alias` a control message of `kind` (what a modified client could send). */
async function sendControl(from: Account, alias: string, kind: MessageKind, body: CborMap): Promise<void> {
  const i = from as unknown as Internals;
  const c = [...i.contactsById.values()].find((x) => x.alias === alias)!;
  await i.lock.run(() => i.store.batch([i.outbox.control(c, kind, body)]));
  await from.sync();
}

/** Alice sends `n` messages to Bob, and every receipt comes back: her outbox is empty. */
async function settledMessages(alice: Account, bob: Account, n: number): Promise<Uint8Array[]> {
  const ids: Uint8Array[] = [];
  for (let i = 0; i < n; i++) ids.push(fromHex((await alice.sendText('Bob', `m${i}`)).id));
  await alice.sync();
  await bob.sync();
  await alice.sync();
  expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
  return ids;
}

async function offline(a: Account): Promise<void> {
  await a.close();
  world.closed(a);
}

describe('resend requests (decision 0025)', () => {
  it('ten requests for the same messages put each in the outbox once', async () => {
    const aliceStore = new KeptStore();
    const alice = await world.account('Alice', { store: aliceStore });
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    const ids = await settledMessages(alice, bob, 20);
    await offline(alice);
    for (let i = 0; i < 10; i++) await sendControl(bob, 'alice', 'resend', { ids });
    await offline(bob); // no receipts: what the requests queued stays in Alice's outbox
    const back = await world.reopen({ store: aliceStore });
    await back.sync();
    const size = await back.outboxSize();
    expect(size.queued + size.relayed).toBe(20);
  });

  it('a contact cannot keep more than a bounded number of resends in my outbox, and is paced', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const aliceStore = new KeptStore();
    const bobStore = new KeptStore();
    const alice = await world.account('Alice', { now, store: aliceStore });
    const bob = await world.account('Bob', { now, store: bobStore });
    await befriend(alice, bob, 'alice');
    const ids = await settledMessages(alice, bob, 300);
    await offline(alice);
    // Two asks of 200 messages each, 300 distinct ones, waiting in Alice's queue.
    await sendControl(bob, 'alice', 'resend', { ids: ids.slice(0, 200) });
    await sendControl(bob, 'alice', 'resend', { ids: ids.slice(100) });
    await offline(bob);
    const alice2 = await world.reopen({ store: aliceStore, now });
    await alice2.sync();
    const size = await alice2.outboxSize();
    expect(size.queued + size.relayed).toBe(MAX_RESEND_QUEUED);
    // Bob takes the copies and acknowledges them: the outbox is empty again.
    const bob2 = await world.reopen({ store: bobStore, now });
    await bob2.sync();
    await alice2.sync();
    expect(await alice2.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    // His allowance is spent: asking again at once queues nothing ...
    await offline(alice2);
    await sendControl(bob2, 'alice', 'resend', { ids: ids.slice(0, 100) });
    await offline(bob2);
    const alice3 = await world.reopen({ store: aliceStore, now });
    await alice3.sync();
    expect(await alice3.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    await offline(alice3);
    // ... and an hour later he may ask again.
    clock += 60 * 60 * 1000;
    const bob3 = await world.reopen({ store: bobStore, now });
    await sendControl(bob3, 'alice', 'resend', { ids: ids.slice(0, 100) });
    await offline(bob3);
    const alice4 = await world.reopen({ store: aliceStore, now });
    await alice4.sync();
    const later = await alice4.outboxSize();
    expect(later.queued + later.relayed).toBe(100);
  });

  it('ignores forged ids: messages I never sent, and messages the contact wrote', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    const theirs = fromHex((await bob.sendText('alice', 'from Bob')).id);
    await bob.sync();
    await alice.sync();
    await bob.sync();
    const forged = [systemRandom.bytes(32), systemRandom.bytes(32), theirs];
    await sendControl(bob, 'alice', 'resend', { ids: forged });
    await offline(bob);
    await alice.sync();
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    expect((await alice.history('Bob')).map((m) => m.text)).toEqual(['from Bob']);
  });
  it('a replayed request (the same bytes stored again by the relay) queues nothing', async () => {
    const aliceStore = new KeptStore();
    const bobStore = new KeptStore();
    const alice = await world.account('Alice', { store: aliceStore });
    const bob = await world.account('Bob', { store: bobStore });
    await befriend(alice, bob, 'alice');
    const ids = await settledMessages(alice, bob, 5);
    await offline(alice);
    const r = (bob as unknown as Internals).relays.get(world.relay().address)!;
    const sent: Array<{ frame: Parameters<RelayConnection['command']>[0]; key?: Uint8Array }> = [];
    const command = r.command.bind(r);
    r.command = ((frame: Parameters<RelayConnection['command']>[0], key?: Uint8Array) => {
      if (frame.t === 'send') sent.push({ frame: { ...frame }, ...(key ? { key } : {}) });
      return command(frame, key);
    }) as RelayConnection['command'];
    await sendControl(bob, 'alice', 'resend', { ids });
    const request = sent.at(-1)!;
    await offline(bob);
    const alice2 = await world.reopen({ store: aliceStore });
    await alice2.sync();
    expect(await alice2.outboxSize()).toEqual({ queued: 0, relayed: 5 });
    const bob2 = await world.reopen({ store: bobStore });
    await bob2.sync(); // the copies, and receipts for them
    await offline(bob2);
    await alice2.sync();
    expect(await alice2.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    const replay = new RelayConnection({
      address: world.relay().address,
      transport: nodeTransport(),
      rng: systemRandom,
      onMessage: () => {},
    });
    await replay.start();
    await replay.command(request.frame, request.key);
    replay.close();
    await alice2.sync();
    expect(await alice2.outboxSize()).toEqual({ queued: 0, relayed: 0 });
  });

  it('gives up a message that is never acknowledged, marks it failed, and takes a late receipt', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const bobStore = new KeptStore();
    const alice = await world.account('Alice', {
      now,
      resendMs: 60_000,
      maxResendMs: 60_000,
      maxSendAttempts: 3,
    });
    const bob = await world.account('Bob', { now, store: bobStore });
    await befriend(alice, bob, 'alice');
    await offline(bob);
    const events: string[] = [];
    alice.events.on('receipt', (r) => events.push(r.status));
    const m = await alice.sendText('Bob', 'anyone there?');
    await alice.sync();
    for (let i = 0; i < 2; i++) {
      clock += 61_000;
      await alice.sync();
      expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 1 });
    }
    clock += 61_000; // the third attempt went unanswered too: given up
    await alice.sync();
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    expect((await alice.history('Bob')).find((x) => x.id === m.id)?.status).toBe('failed');
    expect(events).toContain('failed');
    clock += 10 * 60_000;
    await alice.sync(); // nothing is sent any more
    expect(await alice.outboxSize()).toEqual({ queued: 0, relayed: 0 });
    // Bob comes back: the copies the relay kept still reach him, and his receipt counts.
    const bob2 = await world.reopen({ store: bobStore, now });
    await bob2.sync();
    expect((await bob2.history('alice')).map((x) => x.text)).toEqual(['anyone there?']);
    await alice.sync();
    expect((await alice.history('Bob')).find((x) => x.id === m.id)?.status).toBe('delivered');
  });
});
