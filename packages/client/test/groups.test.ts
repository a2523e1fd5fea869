// Private groups end to end: in-process accounts over real WebSockets to a real relay
// (port 0, temporary data). No part of the engine is replaced.
import { describe, expect, it } from 'vitest';
import {
  NotFoundError,
  UsageError,
  ProtocolError,
  createGroupEvent,
  decodeEnvelope,
  decodeSenderChain,
  decodeSenderReceiverState,
  encodeGroupEvent,
  padToBucket,
  senderDecrypt,
  senderEncrypt,
  utf8,
  fromHex,
  generateSignKeyPair,
  systemRandom,
  toHex,
  QuotaError,
  type CborMap,
} from '@parus/core';
import { Account, MemoryStore, type MessageInfo, type StoreOp } from '../src/index.ts';
import { decodeOutbox, type ContactRecord } from '../src/records.ts';
import { GC, decodeGroupRecord, decodeReceiver } from '../src/groups/group-records.ts';
import { withRoom } from '../src/groups/group-introductions.ts';
import {
  KeptStore,
  befriend,
  deliverFromMember,
  settle,
  stateOf,
  until,
  relayWorld,
} from './support/group-harness.ts';

const world = relayWorld('groups');

function account(name: string, store = new MemoryStore(), now?: () => number): Promise<Account> {
  return world.account(name, { store, ...(now ? { now } : {}) });
}

function texts(list: MessageInfo[]): string[] {
  return list.map((m) => m.text);
}

describe('private groups', () => {
  it('creates, invites, joins, introduces, sends, reads and kicks with sender keys', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const carol = await account('Carol');
    await befriend(alice, bob, 'alice');
    await befriend(alice, carol, 'alice');
    const g = await alice.groups.create('Birds');
    await alice.groups.invite(g.id, 'Bob');
    await alice.groups.invite(g.id, 'Carol');
    await settle([alice, bob, carol]);
    expect(bob.groups.list()).toMatchObject([
      { id: g.id, status: 'invited', name: 'Birds', invitedBy: 'alice' },
    ]);
    await bob.groups.join(g.id);
    await carol.groups.join(g.id);
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) {
      const members = a.groups.members(g.id);
      expect(members).toHaveLength(3);
      expect(members.every((m) => m.linked)).toBe(true);
    }
    // Bob and Carol are not contacts of each other.
    expect(bob.contacts().map((c) => c.alias)).toEqual(['alice']);
    expect(carol.contacts().map((c) => c.alias)).toEqual(['alice']);

    await bob.groups.send(g.id, 'hello from bob');
    await settle([alice, bob, carol]);
    await carol.groups.send(g.id, 'hi bob', { kind: 'action' });
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) {
      expect(texts(await a.groups.history(g.id))).toEqual(['hello from bob', 'hi bob']);
    }
    expect(texts(await alice.takeUnshown())).toEqual(['hello from bob', 'hi bob']);
    await alice.groups.markRead(g.id);
    await carol.groups.markRead(g.id);
    await settle([alice, bob, carol]);
    const [mine] = await bob.groups.history(g.id);
    expect(mine).toMatchObject({ dir: 'out', deliveredCount: 2, readCount: 2, status: 'read' });

    await alice.groups.kick(g.id, toHex(carol.groups.resolved(g.id).members.get(meKey(carol, g.id))!.key));
    await settle([alice, bob, carol]);
    expect(bob.groups.members(g.id)).toHaveLength(2);
    expect(carol.groups.get(g.id).status).toBe('removed');
    await bob.groups.send(g.id, 'after the kick');
    await settle([alice, bob, carol]);
    expect(texts(await alice.groups.history(g.id))).toContain('after the kick');
    expect(texts(await carol.groups.history(g.id))).not.toContain('after the kick');
  });

  it('pins an announcement that every member sees, from moderator power as topic', async () => {
    const [alice, bob, carol] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    // A member (power 0) may not pin; nothing changes anywhere.
    await expect(bob.groups.setPinned(g, '明天停課')).rejects.toThrow(/not allowed/);
    await expect(alice.groups.setPinned(g, '   ')).rejects.toThrow(UsageError);
    await alice.groups.setPinned(g, '  週六 10:00 在公園集合  ');
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) expect(a.groups.get(g).pinned).toBe('週六 10:00 在公園集合');
    // A moderator may pin too; the later pin wins for everyone.
    await alice.groups.setRole(g, meKey(bob, g), 'moderator');
    await settle([alice, bob, carol]);
    await bob.groups.setPinned(g, '改到 11:00');
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) expect(a.groups.get(g).pinned).toBe('改到 11:00');
    // Taken down with null.
    await bob.groups.setPinned(g, null);
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol]) expect(a.groups.get(g).pinned).toBeUndefined();
  });

  it('tells the author when the read counts of its messages change', async () => {
    const [alice, bob, carol] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    const changes: string[] = [];
    alice.events.on('group', (c) => {
      if (c.group === g) changes.push(c.change);
    });
    await alice.groups.send(g, 'anyone?');
    await settle([alice, bob, carol]);
    expect(changes).toContain('receipts');
    changes.length = 0;
    await bob.groups.markRead(g);
    await settle([alice, bob, carol]);
    expect(changes).toEqual(['receipts']);
    expect((await alice.groups.history(g))[0]).toMatchObject({ readCount: 1 });
  });

  it('keeps a removed member from reading anything sent after the removal', async () => {
    const [alice, bob, carol, stores] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    await bob.groups.send(g, 'before');
    await settle([alice, bob, carol]);
    expect(texts(await carol.groups.history(g))).toEqual(['before']);
    const carolKey = carol.groups.members(g).find((m) => m.me)!.key;
    await alice.groups.kick(g, carolKey);
    await settle([alice, bob, carol]);
    await bob.groups.send(g, 'after');
    await settle([alice, bob, carol]);
    expect(texts(await alice.groups.history(g))).toEqual(['before', 'after']);
    expect(texts(await carol.groups.history(g))).toEqual(['before']);
    // Bob's chain was replaced on the removal: a message under it opens with none of the
    // sender keys Carol holds (she would need the new chain's key, which she never got).
    const bobRecord = decodeGroupRecord((await stores.bob.get(GC.groups, g))!);
    expect(bobRecord.chain).toBeUndefined(); // kept apart: it changes with every message
    const chain = decodeSenderChain((await stores.bob.get(GC.chains, g))!);
    const wire = senderEncrypt(chain, padToBucket(utf8('secret after kick')), bobRecord.id).message;
    const held = await stores.carol.list(GC.receivers(bobRecord.id));
    expect(held.length).toBeGreaterThan(0);
    for (const { value } of held) {
      const state = decodeSenderReceiverState(decodeReceiver(value).state);
      expect(() => senderDecrypt(state, wire, bobRecord.id)).toThrow(ProtocolError);
    }
  });

  it('does not let a new member read earlier messages', async () => {
    const [alice, bob, carol] = await trio();
    const g = (await alice.groups.create('Later')).id;
    await alice.groups.invite(g, 'Bob');
    await settle([alice, bob]);
    await bob.groups.join(g);
    await settle([alice, bob]);
    await alice.groups.send(g, 'old news');
    await settle([alice, bob]);
    await alice.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    await carol.groups.join(g);
    await settle([alice, bob, carol]);
    await alice.groups.send(g, 'fresh news');
    await settle([alice, bob, carol]);
    expect(texts(await bob.groups.history(g))).toEqual(['old news', 'fresh news']);
    expect(texts(await carol.groups.history(g))).toEqual(['fresh news']);
  });

  it('rejects forged events and events from members without the power, changing nothing', async () => {
    const [alice, bob, carol, stores] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    const carolKey = carol.groups.members(g).find((m) => m.me)!.key;
    const before = JSON.stringify(stateOf(alice, g, false));
    // Locally refused: a member may not kick.
    await expect(bob.groups.kick(g, carolKey)).rejects.toThrow(UsageError);
    await expect(bob.groups.setTopic(g, 'mine now')).rejects.toThrow(UsageError);
    // Crafted with Bob's own member key and relayed anyway.
    const bobRecord = decodeGroupRecord((await stores.bob.get(GC.groups, g))!);
    const st = bob.groups.resolved(g);
    const base = { group: bobRecord.id, parents: st.heads, lamport: st.lamport + 1, ts: Date.now() };
    const unpowered = createGroupEvent({
      ...base,
      author: { secretKey: bobRecord.me, publicKey: bobRecord.me.slice(32) },
      type: 'kick',
      content: { member: fromHex(carolKey) },
    });
    // Signed by a stranger.
    const stranger = createGroupEvent({
      ...base,
      author: generateSignKeyPair(systemRandom),
      type: 'topic',
      content: { topic: 'stranger' },
    });
    // A valid promotion by the creator, with its signature broken.
    const aliceRecord = decodeGroupRecord((await stores.alice.get(GC.groups, g))!);
    const forged = encodeGroupEvent(
      createGroupEvent({
        ...base,
        author: { secretKey: aliceRecord.me, publicKey: aliceRecord.me.slice(32) },
        type: 'role',
        content: { member: bobRecord.me.slice(32), role: 'admin' },
      }),
    );
    forged[forged.length - 5]! ^= 0x40;
    await bob.groups.relayEvents(g, [encodeGroupEvent(unpowered), encodeGroupEvent(stranger), forged]);
    await settle([alice, bob, carol]);
    // Nothing changes but the DAG's heads (the refused events are kept as received).
    expect(JSON.stringify(stateOf(alice, g, false))).toBe(before);
    expect(JSON.stringify(stateOf(carol, g, false))).toBe(before);
    const rejected = alice.groups.resolved(g).rejected.map((r) => [toHex(r.id), r.reason]);
    expect(rejected).toContainEqual([toHex(unpowered.id), 'unauthorised']);
    expect(rejected).toContainEqual([toHex(stranger.id), 'unauthorised']);
    expect(alice.groups.members(g).map((m) => m.role)).toEqual(['creator', 'member', 'member']);
  });

  it('a refused event, whatever clock it claims, moves neither the heads nor the clock (issue 11)', async () => {
    const [alice, bob, carol, stores] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    const bobRecord = decodeGroupRecord((await stores.bob.get(GC.groups, g))!);
    const st = bob.groups.resolved(g);
    const before = { heads: st.heads.map(toHex), lamport: st.lamport };
    // A stranger's topic far ahead (inside the receive window), and a member's beyond the core's
    // bound: both relayed by Bob.
    const stranger = createGroupEvent({
      group: bobRecord.id,
      parents: st.heads,
      lamport: st.lamport + 900_000,
      ts: Date.now(),
      author: generateSignKeyPair(systemRandom),
      type: 'topic',
      content: { topic: 'stranger' },
    });
    await bob.groups.relayEvents(g, [encodeGroupEvent(stranger)]);
    await settle([alice, bob, carol]);
    for (const who of [alice, carol]) {
      const s = who.groups.resolved(g);
      expect(s.rejected.map((r) => [toHex(r.id), r.reason])).toContainEqual([
        toHex(stranger.id),
        'unauthorised',
      ]);
      expect(s.heads.map(toHex)).toEqual(before.heads);
      expect(s.lamport).toBe(before.lamport);
    }
    // The group goes on signing from the accepted events.
    await alice.groups.setTopic(g, 'still ours');
    await settle([alice, bob, carol]);
    expect(carol.groups.get(g).topic).toBe('still ours');
    expect(carol.groups.resolved(g).lamport).toBe(before.lamport + 1);
  });

  it('lets a member step down from their own role, never up (issue 11)', async () => {
    const [alice, bob, carol] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    const bobKey = bob.groups.members(g).find((m) => m.me)!.key;
    await alice.groups.setRole(g, bobKey, 'moderator');
    await settle([alice, bob, carol]);
    await bob.groups.setRole(g, bobKey, 'member');
    await settle([alice, bob, carol]);
    for (const who of [alice, bob, carol])
      expect(who.groups.members(g).find((m) => m.key === bobKey)!.role).toBe('member');
    await expect(bob.groups.setRole(g, bobKey, 'moderator')).rejects.toThrow(UsageError);
  });

  it('converges when two admins change things concurrently', async () => {
    const [alice, bob, carol] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    const bobKey = bob.groups.members(g).find((m) => m.me)!.key;
    const carolKey = carol.groups.members(g).find((m) => m.me)!.key;
    await alice.groups.setRole(g, bobKey, 'admin');
    await settle([alice, bob, carol]);
    expect(bob.groups.members(g).find((m) => m.me)!.role).toBe('admin');
    // Concurrently, before either hears of the other: the creator demotes Bob and sets the
    // topic; Bob kicks Carol and sets the topic too.
    await alice.groups.setRole(g, bobKey, 'member');
    await alice.groups.setTopic(g, 'topic by alice');
    await bob.groups.kick(g, carolKey);
    await bob.groups.setTopic(g, 'topic by bob');
    await settle([alice, bob, carol]);
    const reference = JSON.stringify(stateOf(alice, g));
    expect(JSON.stringify(stateOf(bob, g))).toBe(reference);
    expect(JSON.stringify(stateOf(carol, g))).toBe(reference);
    // The higher power goes first: Bob's demotion stands, so his kick and topic do not count.
    expect(alice.groups.members(g).map((m) => m.role)).toEqual(['creator', 'member', 'member']);
    expect(alice.groups.get(g).topic).toBe('topic by alice');
    expect(carol.groups.get(g).status).toBe('joined');
  });

  it('places a message claiming long-superseded parents where it arrived, marked', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    // Carol's clock stays behind, so her message also claims an early time.
    const start = clock;
    const carolNow = (): number => start - 60_000;
    const carolStore = new KeptStore();
    const alice = await account('Alice', new MemoryStore(), now);
    const bob = await account('Bob', new MemoryStore(), now);
    let carol = await account('Carol', carolStore, carolNow);
    await befriend(alice, bob, 'alice');
    await befriend(alice, carol, 'alice');
    const g = await groupOfThree(alice, bob, carol);
    await alice.groups.send(g, 'm1');
    await settle([alice, bob, carol]);
    await carol.close();
    await bob.groups.send(g, 'm2');
    await settle([alice, bob]);
    clock += 2 * 60 * 60 * 1000;
    carol = await world.reopen({ store: carolStore, now: carolNow });
    // Written before Carol hears of m2: its only parent is m1, superseded two hours ago. By its
    // clock and time it would sort before m2; it is placed where it arrived instead.
    await carol.groups.send(g, 'claims to follow m1');
    await carol.start();
    await settle([alice, bob, carol]);
    const history = await alice.groups.history(g);
    expect(texts(history)).toEqual(['m1', 'm2', 'claims to follow m1']);
    expect(history.map((m) => m.late ?? false)).toEqual([false, false, true]);
  });

  it('bans and unbans; nicks, names and topics reach everyone', async () => {
    const [alice, bob, carol] = await trio();
    const g = await groupOfThree(alice, bob, carol);
    await bob.groups.setNick(g, 'Bobby');
    await alice.groups.setName(g, 'Three birds');
    await alice.groups.setTopic(g, '日出時集合');
    await settle([alice, bob, carol]);
    expect(carol.groups.members(g).map((m) => m.name)).toContain('Bobby');
    expect(carol.groups.get(g)).toMatchObject({ name: 'Three birds', topic: '日出時集合' });
    await alice.groups.ban(g, 'Carol');
    await settle([alice, bob, carol]);
    expect(carol.groups.get(g).status).toBe('removed');
    expect(bob.groups.resolved(g).banned.size).toBe(1);
    await expect(alice.groups.invite(g, 'Carol')).rejects.toThrow(UsageError);
    await alice.groups.unban(g, 'Carol');
    await alice.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    expect(carol.groups.get(g).status).toBe('invited');
    await carol.groups.join(g);
    await settle([alice, bob, carol]);
    expect(bob.groups.members(g)).toHaveLength(3);
    await carol.groups.send(g, 'back again');
    await settle([alice, bob, carol]);
    expect(texts(await bob.groups.history(g))).toEqual(['back again']);
  });

  it('keeps payloads that overtake their invitation, and reads them once it arrives', async () => {
    const aliceStore = new KeptStore();
    const bobStore = new MemoryStore();
    let alice = await account('Alice', aliceStore);
    const bob = await account('Bob', bobStore);
    await befriend(alice, bob, 'alice');
    await alice.close();
    // Alice offline (not started): her invitation waits in her outbox, in order.
    alice = await world.reopen({ store: aliceStore });
    const g = (await alice.groups.create('Out of order')).id;
    await alice.groups.invite(g, 'Bob');
    const bodies = (await aliceStore.list('outbox'))
      .map((e) => decodeEnvelope(decodeOutbox(e.value).envelope))
      .filter((env) => env.kind === 'group')
      .map((env) => env.body);
    expect(bodies.map((b) => (b as { t: string }).t)).toEqual(['invite', 'ev']);
    // Delivered to Bob's engine the wrong way round, as a refused-then-resent invite would be.
    const internals = bob as unknown as {
      contactsById: Map<string, ContactRecord>;
      lock: { run: <T>(f: () => Promise<T>) => Promise<T> };
    };
    const c = [...internals.contactsById.values()][0]!;
    for (const body of [...bodies].reverse()) {
      await internals.lock.run(async () => {
        const ops: StoreOp[] = [];
        const after: Array<() => void> = [];
        await bob.groups.receive(c, body, ops, after);
        await bobStore.batch(ops);
        for (const f of after) f();
      });
    }
    await bob.takeUnshown(); // waits for the lock: the kept payload has been read by then
    expect(await bobStore.list('gpend')).toEqual([]);
    expect(bob.groups.get(g)).toMatchObject({ status: 'invited', name: 'Out of order' });
    expect(bob.groups.members(g)).toHaveLength(1);
    expect(bob.groups.resolved(g).invited.size).toBe(1);
  });

  it('answers an introduction that overtook its maker’s invitation once the invitation arrives', async () => {
    const [alice, bob, carol, stores] = await trio();
    const g = (await alice.groups.create('Overtaken')).id;
    await alice.groups.invite(g, 'Bob');
    await settle([alice, bob, carol]);
    await bob.groups.join(g);
    await settle([alice, bob, carol]);
    // Bob's engine sets aside every state event from Alice, as if they were still on their way
    // (a relay that refuses one send and takes the next reorders a session's sends this way).
    type Receive = (
      c: ContactRecord,
      body: unknown,
      ops: StoreOp[],
      after: Array<() => void>,
    ) => Promise<void>;
    const engine = bob.groups as unknown as { receive: Receive };
    const receive = engine.receive.bind(engine);
    const held: Array<{ c: ContactRecord; body: unknown }> = [];
    let intros = 0;
    engine.receive = async (c, body, ops, after) => {
      const t = (body as { t: string }).t;
      if (t === 'ev') return void held.push({ c, body });
      if (t === 'intro') intros++;
      return receive(c, body, ops, after);
    };
    await alice.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    await carol.groups.join(g);
    await settle([alice, bob, carol]);
    expect(intros).toBe(1); // Carol's card, forwarded by Alice, before Bob knows of Carol
    expect(bob.groups.members(g)).toHaveLength(2);
    // The events arrive after all.
    engine.receive = receive;
    const internals = bob as unknown as { lock: { run: <T>(f: () => Promise<T>) => Promise<T> } };
    for (const { c, body } of held) {
      await internals.lock.run(async () => {
        const ops: StoreOp[] = [];
        const after: Array<() => void> = [];
        await receive(c, body, ops, after);
        await stores.bob.batch(ops);
        for (const f of after) f();
      });
    }
    await until(
      [alice, bob, carol],
      () =>
        [alice, bob, carol].every((a) => {
          const members = a.groups.members(g);
          return members.length === 3 && members.every((m) => m.linked);
        }),
      60_000,
    );
  }, 120_000);

  it('keeps cards from strangers waiting, bounded, never crowding out a member’s card', async () => {
    const [alice, bob, carol, stores] = await trio();
    const dave = await account('Dave');
    await befriend(alice, dave, 'alice');
    const g = await groupOfThree(alice, bob, carol);
    await alice.groups.invite(g, 'Dave');
    await settle([alice, bob, carol, dave]);
    const [daveKey] = [...bob.groups.resolved(g).invited];
    const { link } = await carol.createInvite();
    const intro = (from: Uint8Array): CborMap => ({
      t: 'intro',
      g: fromHex(g),
      to: fromHex(meKey(bob, g)),
      from,
      link,
    });
    const waiting = async (): Promise<string[]> =>
      decodeGroupRecord((await stores.bob.get(GC.groups, g))!).accept.map((a) => toHex(a.m));
    // Alice (a member) forwards cards of keys nobody in the group has (yet): they wait.
    for (let i = 0; i < 3; i++)
      await deliverFromMember(bob, stores.bob, g, meKey(alice, g), intro(systemRandom.bytes(32)));
    await deliverFromMember(bob, stores.bob, g, meKey(alice, g), intro(fromHex(daveKey!)));
    expect(await waiting()).toHaveLength(4);
    expect((await waiting())[3]).toBe(daveKey);
    // A link that is no card does not count, and changes nothing.
    await expect(
      deliverFromMember(bob, stores.bob, g, meKey(alice, g), {
        ...intro(fromHex(daveKey!)),
        link: 'parus:xyz',
      }),
    ).rejects.toThrow(ProtocolError);
    expect(await waiting()).toHaveLength(4);
    // The bound (MAX_GROUP_MEMBERS cards; here on short lists): a full list makes way for one more by
    // dropping its oldest card from someone unknown, and refuses it when all are known.
    const unknown = (k: string): boolean => k.startsWith('x');
    expect(withRoom(['a', 'x1', 'b', 'x2'], 4, unknown)).toEqual(['a', 'b', 'x2']);
    expect(withRoom(['a', 'x1'], 4, unknown)).toEqual(['a', 'x1']);
    expect(() => withRoom(['a', 'b', 'c'], 3, unknown)).toThrow(QuotaError);
  });

  it('shows invitations, lets the invitee decline, and refuses unknown groups', async () => {
    const [alice, bob] = await trio();
    const g = (await alice.groups.create('Maybe')).id;
    await alice.groups.invite(g, 'Bob');
    await settle([alice, bob]);
    expect(bob.groups.list()).toMatchObject([{ id: g, status: 'invited', name: 'Maybe' }]);
    await bob.groups.decline(g);
    await settle([alice, bob]);
    expect(bob.groups.list()).toEqual([]);
    expect(alice.groups.resolved(g).invited.size).toBe(0);
    await expect(bob.groups.join(g)).rejects.toThrow(NotFoundError);
    await expect(alice.groups.invite(g, 'nobody')).rejects.toThrow(NotFoundError);
  });
});

async function trio(): Promise<
  [Account, Account, Account, { alice: MemoryStore; bob: MemoryStore; carol: MemoryStore }]
> {
  const stores = { alice: new MemoryStore(), bob: new MemoryStore(), carol: new MemoryStore() };
  const alice = await account('Alice', stores.alice);
  const bob = await account('Bob', stores.bob);
  const carol = await account('Carol', stores.carol);
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  return [alice, bob, carol, stores];
}

/** Alice's group with Bob and Carol in it, every pair linked. */
async function groupOfThree(alice: Account, bob: Account, carol: Account): Promise<string> {
  const g = (await alice.groups.create('Three')).id;
  await alice.groups.invite(g, 'Bob');
  await alice.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await bob.groups.join(g);
  await carol.groups.join(g);
  await settle([alice, bob, carol]);
  for (const a of [alice, bob, carol]) expect(a.groups.members(g).every((m) => m.linked)).toBe(true);
  return g;
}

function meKey(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}

describe('a 50-member group', () => {
  it('ends with identical state everywhere and every message exactly once in one causal order', async () => {
    const n = 50;
    const creator = await account('Creator');
    const others: Account[] = [];
    for (let i = 1; i < n; i++) {
      const a = await account(`M${i}`);
      const { link } = await creator.createInvite();
      await a.acceptInvite(link, { alias: 'creator' });
      others.push(a);
    }
    const all = [creator, ...others];
    await Promise.all(all.map((a) => a.sync({ timeoutMs: 120_000 })));
    await creator.sync({ timeoutMs: 120_000 });
    const g = await creator.groups.create('Fifty');
    for (let i = 1; i < n; i++) await creator.groups.invite(g.id, `M${i}`);
    // Wait (by condition, not time) until every invitation has fully arrived.
    await until(all, () =>
      others.every((a) => {
        const mine = a.groups.list().find((x) => x.id === g.id);
        return mine?.status === 'invited' && a.groups.members(g.id).length === 1;
      }),
    );
    await settle(all, { parallel: true, timeoutMs: 300_000 });
    for (const a of others) await a.groups.join(g.id);
    await until(all, () =>
      all.every((a) => {
        const members = a.groups.members(g.id);
        return members.length === n && members.every((m) => m.linked);
      }),
    );
    await settle(all, { parallel: true, timeoutMs: 300_000 });
    const reference = JSON.stringify(stateOf(creator, g.id));
    for (const a of all) {
      expect(JSON.stringify(stateOf(a, g.id))).toBe(reference);
      expect(a.groups.members(g.id).every((m) => m.linked)).toBe(true);
    }
    for (let i = 0; i < n; i += 7) await all[i]!.groups.send(g.id, `message ${i}`);
    const count = Math.ceil(n / 7);
    await until(all, async () =>
      (await Promise.all(all.map(async (a) => (await a.groups.history(g.id)).length))).every(
        (k) => k === count,
      ),
    );
    await settle(all, { parallel: true, timeoutMs: 300_000 });
    const order = texts(await creator.groups.history(g.id));
    expect(order).toHaveLength(Math.ceil(n / 7));
    for (const [i, a] of all.entries()) {
      expect(texts(await a.groups.history(g.id))).toEqual(order);
      // What `read` shows: everyone else's messages, each once, in the same order.
      const shown = texts(await a.takeUnshown());
      expect(shown).toEqual(order.filter((t) => t !== `message ${i}`));
      expect(await a.takeUnshown()).toEqual([]);
    }
  }, 600_000);
});

describe('sender key rotation', () => {
  it('replaces the chain once it is 7 days old', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const bobStore = new MemoryStore();
    const alice = await account('Alice', new MemoryStore(), now);
    const bob = await account('Bob', bobStore, now);
    await befriend(alice, bob, 'alice');
    const g = (await alice.groups.create('Weekly')).id;
    await alice.groups.invite(g, 'Bob');
    await settle([alice, bob]);
    await bob.groups.join(g);
    await settle([alice, bob]);
    await alice.groups.send(g, 'monday');
    await settle([alice, bob]);
    expect(await bobStore.list(GC.receivers(fromHex(g)))).toHaveLength(1);
    clock += 7 * 24 * 60 * 60 * 1000;
    await alice.groups.send(g, 'next monday');
    await settle([alice, bob]);
    expect(texts(await bob.groups.history(g))).toEqual(['monday', 'next monday']);
    expect(await bobStore.list(GC.receivers(fromHex(g)))).toHaveLength(2);
  });

  it('replaces the chain after 100 messages, and members read across the change', async () => {
    const alice = await account('Alice');
    const bobStore = new MemoryStore();
    const bob = await account('Bob', bobStore);
    await befriend(alice, bob, 'alice');
    const g = (await alice.groups.create('Chatty')).id;
    await alice.groups.invite(g, 'Bob');
    await settle([alice, bob]);
    await bob.groups.join(g);
    await settle([alice, bob]);
    const sent: string[] = [];
    for (let i = 0; i < 101; i++) {
      sent.push(`n${i}`);
      await alice.groups.send(g, `n${i}`);
    }
    await settle([alice, bob]);
    expect(texts(await bob.groups.history(g))).toEqual(sent);
    // Bob holds two of Alice's chains: the first (100 messages) and its replacement.
    const chains = await bobStore.list(GC.receivers(fromHex(g)));
    expect(chains).toHaveLength(2);
  }, 120_000);
});
