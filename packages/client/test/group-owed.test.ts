// Owed messages (docs/decisions/0019): a group message sent while a member had no session with
// the sender yet reaches them once their session is bound. In-process accounts over real
// WebSockets to a real relay (port 0, temporary data); the inviter is closed to hold back the
// newcomer's join and introduction, so the newcomer and the other member stay unlinked.
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  VerificationError,
  createEnvelope,
  encodeEnvelope,
  fromHex,
  generateSignKeyPair,
  initCrypto,
  systemRandom,
  toHex,
  type GroupState,
  type SignKeyPair,
} from '@parus/core';
import { Account, MemoryStore, type MessageInfo } from '../src/index.ts';
import { GC, decodeGroupRecord } from '../src/groups/group-records.ts';
import {
  MAX_OWED_BYTES,
  MAX_OWED_MESSAGES,
  OC,
  OwedMessages,
  decodeOwed,
} from '../src/groups/owed-messages.ts';
import {
  KeptStore,
  befriend,
  deliverFromMember,
  relayWorld,
  settle,
  until,
} from './support/group-harness.ts';

const world = relayWorld('group-owed');

interface People {
  alice: Account;
  bob: Account;
  carol: Account;
  stores: { alice: KeptStore; bob: MemoryStore; carol: MemoryStore };
  g: string;
}

function keyOf(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}

function texts(list: MessageInfo[], from?: string): string[] {
  return list.filter((m) => from === undefined || m.from === from).map((m) => m.text);
}

/** The clock has moved on past `t` (so a later message's time is after an earlier event's). */
async function after(t: number): Promise<void> {
  while (Date.now() <= t) await new Promise((resolve) => setTimeout(resolve, 1));
}

/**
 * Alice's group with Bob a member and Carol invited (Bob has seen the invite), then Alice
 * closed: what Carol sends Alice (her join, her card for Bob) waits in Alice's queue.
 */
async function start(opts: { bobAdmin?: boolean } = {}): Promise<People> {
  const stores = { alice: new KeptStore(), bob: new MemoryStore(), carol: new MemoryStore() };
  const alice = await world.account('Alice', { store: stores.alice });
  const bob = await world.account('Bob', { store: stores.bob });
  const carol = await world.account('Carol', { store: stores.carol });
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  const g = (await alice.groups.create('Owed')).id;
  await alice.groups.invite(g, 'Bob');
  await settle([alice, bob]);
  await bob.groups.join(g);
  await settle([alice, bob]);
  if (opts.bobAdmin) await alice.groups.setRole(g, keyOf(bob, g), 'admin');
  await alice.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await alice.close();
  world.closed(alice);
  return { alice, bob, carol, stores, g };
}

async function owed(store: MemoryStore, g: string): Promise<Array<{ to: string[] }>> {
  return (await store.list(OC.owed(fromHex(g)))).map((e) => ({
    to: decodeOwed(e.value).to.map((t) => toHex(t.m)),
  }));
}

async function aliceAgain(p: People): Promise<Account> {
  const alice = await world.reopen({ store: p.stores.alice });
  await alice.start();
  return alice;
}

describe('owed group messages', () => {
  it('a member linked late gets, once and in order, what was sent between their join and our link', async () => {
    const p = await start();
    const { bob, carol, stores, g } = p;
    // Before Carol's join: history for her (the group does not share it), never owed to her.
    await bob.groups.send(g, 'before Carol joined');
    await after(Date.now());
    await carol.groups.join(g);
    await after(Date.now());
    const sent = [];
    for (const text of ['one', 'two', 'three']) sent.push(await bob.groups.send(g, text));
    await carol.groups.send(g, 'hello from Carol');
    await settle([bob, carol]);
    // No session between them yet: each keeps its messages for the other.
    expect(bob.groups.members(g).some((m) => m.key === keyOf(carol, g) && m.linked)).toBe(false);
    expect(await owed(stores.bob, g)).toEqual(Array(4).fill({ to: [keyOf(carol, g)] }));
    expect(await owed(stores.carol, g)).toEqual([{ to: [keyOf(bob, g)] }]);
    expect(texts(await carol.groups.history(g), 'Bob')).toEqual([]);
    await carol.takeUnshown();

    // Alice is back: Carol's join and her card reach Bob, their session is bound, what was owed goes.
    const alice = await aliceAgain(p);
    await until([alice, bob, carol], async () => texts(await carol.groups.history(g)).includes('three'));
    await settle([alice, bob, carol]);
    const carolSees = await carol.groups.history(g);
    const fromBob = carolSees.filter((m) => m.text !== 'hello from Carol');
    expect(texts(fromBob)).toEqual(['one', 'two', 'three']);
    expect(fromBob.map((m) => m.id)).toEqual(sent.map((m) => m.id));
    expect(fromBob.every((m) => !m.history && !m.late && m.dir === 'in')).toBe(true);
    // News, not history: `parus read` shows them.
    expect(texts(await carol.takeUnshown()).filter((t) => t !== 'hello from Carol')).toEqual([
      'one',
      'two',
      'three',
    ]);
    expect(texts(await bob.groups.history(g))).toContain('hello from Carol');
    expect(texts(await bob.groups.history(g)).filter((t) => t === 'hello from Carol')).toHaveLength(1);
    // Receipts came back: Alice and Carol for the owed ones, Alice alone for the one before the join.
    const counts = Object.fromEntries(
      (await bob.groups.history(g)).filter((m) => m.dir === 'out').map((m) => [m.text, m.deliveredCount]),
    );
    expect(counts).toEqual({ 'before Carol joined': 1, one: 2, two: 2, three: 2 });
    expect(await owed(stores.bob, g)).toEqual([]);
    expect(await owed(stores.carol, g)).toEqual([]);

    // Linked now: the next message goes by fan-out as for everyone, nothing is owed.
    await bob.groups.send(g, 'four');
    expect(await owed(stores.bob, g)).toEqual([]);
    await settle([alice, bob, carol]);
    expect(texts(await carol.groups.history(g), 'Bob')).toEqual(['one', 'two', 'three', 'four']);
  });

  it('a member removed before our link gets nothing owed', async () => {
    const p = await start({ bobAdmin: true });
    const { bob, carol, stores, g } = p;
    await carol.groups.join(g);
    const carolKey = keyOf(carol, g);
    await after(Date.now());
    await bob.groups.send(g, 'not for Carol after all');
    expect(await owed(stores.bob, g)).toEqual([{ to: [carolKey] }]);
    await bob.groups.kick(g, carolKey);
    await until([bob], async () => (await owed(stores.bob, g)).length === 0);
    const alice = await aliceAgain(p);
    await settle([alice, bob, carol]);
    expect(bob.groups.resolved(g).members.has(carolKey)).toBe(false);
    expect(texts(await carol.groups.history(g), 'Bob')).toEqual([]);
    expect(await owed(stores.bob, g)).toEqual([]);
  });

  it('refuses a forged owed envelope whole, and takes a genuine one once', async () => {
    const p = await start();
    const { bob, carol, stores, g } = p;
    await carol.groups.join(g);
    const alice = await aliceAgain(p);
    await settle([alice, bob, carol]);
    const group = fromHex(g);
    const rec = decodeGroupRecord((await stores.bob.get(GC.groups, g))!);
    const bobKey: SignKeyPair = { secretKey: rec.me, publicKey: rec.me.slice(32) };
    const envelope = (device: SignKeyPair, conv: Uint8Array, text: string): Uint8Array =>
      encodeEnvelope(
        createEnvelope({
          device,
          conv,
          parents: [],
          lamport: 1,
          ts: Date.now(),
          kind: 'text',
          body: { t: 'text', text },
        }),
      );
    const genuine = envelope(bobKey, group, 'genuine');
    const before = await carol.groups.history(g);
    const owe = (env: Uint8Array[]) =>
      deliverFromMember(carol, stores.carol, g, keyOf(bob, g), { t: 'owe', g: group, env });
    // Another author than the member of the session (refused with the genuine one beside it).
    const stranger = generateSignKeyPair(systemRandom);
    await expect(owe([genuine, envelope(stranger, group, 'posing')])).rejects.toThrow(VerificationError);
    // Alice's own signed message, handed on by Bob: not his to pass on.
    const aliceRec = decodeGroupRecord((await p.stores.alice.get(GC.groups, g))!);
    const aliceKey = { secretKey: aliceRec.me, publicKey: aliceRec.me.slice(32) };
    await expect(owe([envelope(aliceKey, group, 'Alice, via Bob')])).rejects.toThrow(VerificationError);
    // Bob's, of another group.
    await expect(owe([envelope(bobKey, systemRandom.bytes(group.length), 'elsewhere')])).rejects.toThrow(
      VerificationError,
    );
    // Its text changed after signing (same length).
    const broken = genuine.slice();
    const at = Buffer.from(broken).indexOf('genuine');
    broken[at]! ^= 1;
    await expect(owe([broken])).rejects.toThrow(VerificationError);
    expect(await carol.groups.history(g)).toEqual(before);

    // The genuine one is taken once, whatever number of times it comes.
    await owe([genuine]);
    await owe([genuine]);
    const now = await carol.groups.history(g);
    expect(texts(now).filter((t) => t === 'genuine')).toHaveLength(1);
    expect(now.find((m) => m.text === 'genuine')?.history).toBeUndefined();
  });

  it('refuses owed messages from a member who left', async () => {
    const p = await start();
    const { bob, carol, stores, g } = p;
    await carol.groups.join(g);
    const alice = await aliceAgain(p);
    await settle([alice, bob, carol]);
    const rec = decodeGroupRecord((await stores.bob.get(GC.groups, g))!);
    const bobKey = keyOf(bob, g);
    await bob.groups.leave(g);
    await settle([alice, bob, carol]);
    const before = await carol.groups.history(g);
    const env = encodeEnvelope(
      createEnvelope({
        device: { secretKey: rec.me, publicKey: rec.me.slice(32) },
        conv: fromHex(g),
        parents: [],
        lamport: 1,
        ts: Date.now(),
        kind: 'text',
        body: { t: 'text', text: 'after leaving' },
      }),
    );
    await expect(
      deliverFromMember(carol, stores.carol, g, bobKey, { t: 'owe', g: fromHex(g), env: [env] }),
    ).rejects.toThrow(ProtocolError);
    expect(await carol.groups.history(g)).toEqual(before);
  });
});

describe('the owed store', () => {
  const group = new Uint8Array(16).fill(7);
  const to = [{ m: new Uint8Array(32).fill(1), j: 3 }];

  async function fill(
    store: MemoryStore,
    owed: OwedMessages,
    n: number,
    text: string,
    from = 1,
  ): Promise<string[]> {
    const device = generateSignKeyPair(systemRandom);
    const ids: string[] = [];
    for (let i = from; i < from + n; i++) {
      const env = createEnvelope({
        device,
        conv: group,
        parents: [],
        lamport: i,
        ts: 1000 + i,
        kind: 'text',
        body: { t: 'text', text },
      });
      const { ops, after } = await owed.owe(group, env, to);
      await store.batch(ops);
      after();
      ids.push(toHex(env.id));
    }
    return ids;
  }

  it(`keeps at most ${MAX_OWED_MESSAGES} messages per group, the oldest dropped first`, async () => {
    await initCrypto();
    const store = new MemoryStore();
    const ids = await fill(store, new OwedMessages(store), MAX_OWED_MESSAGES + 5, 'x');
    const kept = (await store.list(OC.owed(group))).map((e) => e.key).sort();
    expect(kept).toEqual(ids.slice(5).sort());
    // A new engine reading the store again keeps to the same bound.
    const again = new OwedMessages(store);
    const more = await fill(store, again, 1, 'y', MAX_OWED_MESSAGES + 6);
    const now = (await store.list(OC.owed(group))).map((e) => e.key);
    expect(now).toHaveLength(MAX_OWED_MESSAGES);
    expect(now).toContain(more[0]);
  });

  it(`keeps at most ${MAX_OWED_BYTES} bytes per group, the oldest dropped first`, async () => {
    await initCrypto();
    const store = new MemoryStore();
    const big = 'x'.repeat(40 * 1024);
    const n = Math.ceil(MAX_OWED_BYTES / (40 * 1024)) + 3;
    const ids = await fill(store, new OwedMessages(store), n, big);
    const entries = await store.list(OC.owed(group));
    const bytes = entries.reduce((k, e) => k + e.value.length, 0);
    expect(bytes).toBeLessThanOrEqual(MAX_OWED_BYTES);
    const kept = entries.map((e) => e.key);
    expect(kept.length).toBeLessThan(n);
    // What is kept is the newest ones.
    expect(kept.sort()).toEqual(ids.slice(n - kept.length).sort());
  });

  it('forgets owed messages for members removed, and all of them once I am not a member', async () => {
    await initCrypto();
    const store = new MemoryStore();
    const owed = new OwedMessages(store);
    await fill(store, owed, 2, 'x');
    const st = { members: new Map(), invited: new Set() } as unknown as GroupState;
    const plan = await owed.plan(group, {
      joined: true,
      st,
      joinTime: () => undefined,
      linked: () => true,
    });
    expect(plan.sends).toEqual([]);
    await store.batch(plan.ops);
    plan.after();
    expect(await store.list(OC.owed(group))).toEqual([]);
    expect(await owed.any(group)).toBe(false);
  });
});
