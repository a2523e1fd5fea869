// Delivery and read receipts of group messages, kept per message and member apart from the
// message (message-receipts.ts), the upgrade of version 1 stores, which named the members in
// each message and kept the sending chain in the group record, and a sender key that overtakes
// the events letting its member back in. In-process accounts over real WebSockets to a real relay.
import { describe, expect, it } from 'vitest';
import {
  decodeCbor,
  encodeCbor,
  encodeSenderKeyDistribution,
  fromHex,
  rotateSenderChain,
  senderKeyDistribution,
  systemRandom,
  toHex,
  type CborMap,
  type CborValue,
} from '@parus/core';
import { type Account, type MessageInfo } from '../src/index.ts';
import { GC, decodeGroupMessage, decodeGroupRecord, decodeReceiver } from '../src/groups/group-records.ts';
import {
  KeptStore,
  befriend,
  deliverFromMember,
  relayWorld,
  settle,
  until,
} from './support/group-harness.ts';

const world = relayWorld('group-receipts');

function keyOf(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}

async function mine(a: Account, g: string, text: string): Promise<MessageInfo> {
  return (await a.groups.history(g)).find((m) => m.text === text && m.dir === 'out')!;
}

function receipt(g: string, s: 'd' | 'r', ids: string[]): CborValue {
  return { t: 'rcpt', g: fromHex(g), s, ids: ids.map(fromHex) };
}

/** Alice's group with Bob and Carol, all joined and introduced. */
async function threeOf(
  store: KeptStore,
): Promise<{ alice: Account; bob: Account; carol: Account; g: string }> {
  const alice = await world.account('Alice', { store });
  const bob = await world.account('Bob');
  const carol = await world.account('Carol');
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  const g = (await alice.groups.create('Receipts')).id;
  await alice.groups.invite(g, 'Bob');
  await alice.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await bob.groups.join(g);
  await carol.groups.join(g);
  await settle([alice, bob, carol]);
  return { alice, bob, carol, g };
}

/** Rewrites a closed account's group records as version 1 kept them (the format before 2). */
async function asVersion1(store: KeptStore, g: string): Promise<void> {
  const rec = decodeCbor((await store.get(GC.groups, g))!) as CborMap;
  const chain = (await store.get(GC.chains, g))!;
  delete rec.v;
  await store.batch([
    { type: 'put', collection: GC.groups, key: g, value: encodeCbor({ ...rec, chain }) },
    { type: 'del', collection: GC.chains, key: g },
  ]);
  const receipts = await store.list(GC.receipts(fromHex(g)));
  for (const { key, value } of await store.list(GC.messages(fromHex(g)))) {
    const m = decodeCbor(value) as CborMap;
    const theirs = receipts.filter((r) => r.key.startsWith(key));
    const members = (level: number): Uint8Array[] =>
      theirs.filter((r) => r.value[0]! >= level).map((r) => fromHex(r.key.slice(key.length)));
    const v1 = encodeCbor({ ...m, delivered: members(1), read: members(2) });
    await store.batch([{ type: 'put', collection: GC.messages(fromHex(g)), key, value: v1 }]);
  }
  await store.batch(receipts.map(({ key }) => ({ type: 'del', collection: GC.receipts(fromHex(g)), key })));
}

describe('group receipts', () => {
  it('count each member once, whatever the order and repeats of their receipts', async () => {
    const stores = new KeptStore();
    const { alice, bob, carol, g } = await threeOf(stores);
    await alice.groups.send(g, 'hello');
    await settle([alice, bob, carol]);
    const sent = await mine(alice, g, 'hello');
    expect(sent).toMatchObject({ deliveredCount: 2, readCount: 0, status: 'delivered' });
    const bobKey = keyOf(bob, g);
    // Bob's delivery again, then his read twice in one receipt and once more: one read.
    await deliverFromMember(alice, stores, g, bobKey, receipt(g, 'd', [sent.id]));
    await deliverFromMember(alice, stores, g, bobKey, receipt(g, 'r', [sent.id, sent.id]));
    await deliverFromMember(alice, stores, g, bobKey, receipt(g, 'r', [sent.id]));
    await deliverFromMember(alice, stores, g, bobKey, receipt(g, 'd', [sent.id]));
    expect(await mine(alice, g, 'hello')).toMatchObject({ deliveredCount: 2, readCount: 1 });
    // A receipt for a message that is not mine, or unknown, counts nothing.
    await bob.groups.send(g, 'from bob');
    await settle([alice, bob, carol]);
    const theirs = (await alice.groups.history(g)).find((m) => m.text === 'from bob')!;
    await deliverFromMember(
      alice,
      stores,
      g,
      keyOf(carol, g),
      receipt(g, 'r', [theirs.id, toHex(new Uint8Array(32))]),
    );
    expect((await alice.groups.history(g)).find((m) => m.text === 'from bob')).not.toHaveProperty(
      'readCount',
    );
    // Both read: the message is read.
    await carol.groups.markRead(g);
    await settle([alice, bob, carol]);
    expect(await mine(alice, g, 'hello')).toMatchObject({ deliveredCount: 2, readCount: 2, status: 'read' });
    const kept = await stores.list(GC.receipts(fromHex(g)));
    expect(kept.map((r) => [r.key.slice(0, 64), r.value[0]]).filter(([k]) => k === sent.id)).toEqual([
      [sent.id, 2],
      [sent.id, 2],
    ]);
  });

  it('upgrade a version 1 store: counts and receipts kept, the chain moved, sending goes on', async () => {
    const store = new KeptStore();
    const { alice, bob, carol, g } = await threeOf(store);
    await alice.groups.send(g, 'one');
    await settle([alice, bob, carol]);
    await bob.groups.markRead(g);
    await settle([alice, bob, carol]);
    expect(await mine(alice, g, 'one')).toMatchObject({ deliveredCount: 2, readCount: 1 });
    await alice.close();
    world.closed(alice);
    await asVersion1(store, g);
    const v1 = decodeGroupMessage((await store.list(GC.messages(fromHex(g))))[0]!.value);
    expect(v1.legacy?.delivered).toHaveLength(2);

    const again = await world.reopen({ store });
    await again.start();
    const rec = decodeGroupRecord((await store.get(GC.groups, g))!);
    expect(rec.v).toBe(2);
    expect(rec.chain).toBeUndefined();
    expect(await store.get(GC.chains, g)).toBeDefined();
    const stored = decodeGroupMessage((await store.list(GC.messages(fromHex(g))))[0]!.value);
    expect(stored.legacy).toBeUndefined();
    expect(await mine(again, g, 'one')).toMatchObject({ deliveredCount: 2, readCount: 1 });
    expect((await store.list(GC.receipts(fromHex(g)))).map((r) => r.value[0]).sort()).toEqual([1, 2]);
    // Bob's read again counts nothing; Carol's read counts once.
    const one = (await mine(again, g, 'one')).id;
    await deliverFromMember(again, store, g, keyOf(bob, g), receipt(g, 'r', [one]));
    await deliverFromMember(again, store, g, keyOf(carol, g), receipt(g, 'r', [one]));
    expect(await mine(again, g, 'one')).toMatchObject({ deliveredCount: 2, readCount: 2, status: 'read' });
    // The chain moved with its state: the next message opens for both members.
    await again.groups.send(g, 'two');
    await settle([again, bob, carol]);
    for (const a of [bob, carol])
      expect((await a.groups.history(g)).map((m) => m.text)).toEqual(['one', 'two']);
  });
});

describe('a member let back in', () => {
  it('has the sender key they sent before the events that admit them counted once those arrive', async () => {
    const bobStore = new KeptStore();
    const alice = await world.account('Alice');
    const bob = await world.account('Bob', { store: bobStore });
    const carol = await world.account('Carol');
    await befriend(alice, bob, 'alice');
    await befriend(alice, carol, 'alice');
    const g = (await alice.groups.create('Back')).id;
    await alice.groups.invite(g, 'Bob');
    await alice.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    await bob.groups.join(g);
    await carol.groups.join(g);
    await settle([alice, bob, carol]);
    const carolKey = keyOf(carol, g);
    await alice.groups.kick(g, carolKey);
    await settle([alice, bob, carol]);
    // Carol's next chain reaches Bob ahead of the invitation that lets her back in.
    const chain = rotateSenderChain(systemRandom);
    const d = encodeSenderKeyDistribution(senderKeyDistribution(chain, fromHex(g)));
    await deliverFromMember(bob, bobStore, g, carolKey, { t: 'skd', g: fromHex(g), d });
    const held = async (): Promise<string[]> =>
      (await bobStore.list(GC.receivers(fromHex(g))))
        .filter((r) => toHex(decodeReceiver(r.value).m) === carolKey)
        .map((r) => r.key);
    expect(await held()).toEqual([]);
    expect((await bobStore.list(GC.pending)).length).toBe(1);
    await alice.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    await until([alice, bob, carol], async () => (await held()).includes(toHex(chain.chainId)), 60_000);
    expect((await bobStore.list(GC.pending)).length).toBe(0);
  });
});
