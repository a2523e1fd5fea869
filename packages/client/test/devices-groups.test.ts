// Groups and rooms across devices (docs/decisions/0040): the groups section of the account
// snapshot, a restored device taking the groups over, its refusals. Real accounts over a real
// relay on loopback; nothing of the engine is replaced.
import { describe, expect, it } from 'vitest';
import {
  AuthError,
  DecodeError,
  ProtocolError,
  VerificationError,
  asArray,
  asMap,
  createGroup,
  createGroupEvent,
  decodeCbor,
  decodeSenderChain,
  fromHex,
  memberKeyChange,
  signKeyPairFromSeed,
  encodeCbor,
  encodeGroupEvent,
  generateSignKeyPair,
  systemRandom,
  toHex,
  type CborMap,
} from '@parus/core';
import { Account, MemoryStore, decodeSnapshot, encodeSnapshot, type AccountSnapshot } from '../src/index.ts';
import { GC, decodeGroupRecord } from '../src/groups/group-records.ts';
import { befriend, relayWorld, settle, stateOf, until } from './support/group-harness.ts';

const world = relayWorld('devices-groups');
const PASS = 'alice passphrase';
const LIGHT = { opsLimit: 1, memLimit: 8192 };

const storeOf = (a: Account): MemoryStore => (a as unknown as { store: MemoryStore }).store;
const myKey = (a: Account, g: string): string => a.groups.members(g).find((m) => m.me)!.key;
const texts = async (a: Account, g: string): Promise<string[]> =>
  (await a.groups.history(g)).map((m) => m.text).sort();

/** A snapshot of `a` as it would travel (encoded, then decoded strictly). */
async function travelled(a: Account): Promise<AccountSnapshot> {
  await a.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'old laptop' });
  return decodeSnapshot(encodeSnapshot(await a.snapshot()));
}

/** A fresh account of the same person, made a new device of `snapshot`'s account. */
async function restore(snapshot: AccountSnapshot, deviceName = 'new laptop'): Promise<Account> {
  const a = await world.account(snapshot.name);
  await a.restoreSnapshot(snapshot, { passphrase: PASS, deviceName });
  return a;
}

/** Alice made a group with Bob (contact) and Carol (Bob's contact, Alice's hidden peer) and a room. */
async function aliceWithGroups(): Promise<{
  alice: Account;
  bob: Account;
  carol: Account;
  g: string;
  room: string;
  link: string;
}> {
  const alice = await world.account('Alice');
  const bob = await world.account('Bob');
  const carol = await world.account('Carol');
  await befriend(alice, bob, 'alice');
  await befriend(bob, carol, 'bob');
  const g = (await alice.groups.create('Birds')).id;
  await alice.groups.invite(g, 'Bob');
  await settle([alice, bob]);
  await bob.groups.join(g);
  await settle([alice, bob]);
  await bob.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await carol.groups.join(g);
  await until([alice, bob, carol], () =>
    [alice, bob, carol].every(
      (a) => a.groups.members(g).length === 3 && a.groups.members(g).every((m) => m.linked),
    ),
  );
  await alice.groups.setTopic(g, 'songs');
  await alice.groups.setPinned(g, 'no cats');
  await alice.groups.setRole(g, myKey(bob, g), 'admin');
  await alice.groups.send(g, 'before the restore');
  await settle([alice, bob, carol]);
  const room = (await alice.groups.create('Lobby', { public: true })).id;
  const link = await alice.groups.roomLink(room);
  return { alice, bob, carol, g, room, link };
}

describe('groups in the account snapshot', () => {
  it('a group and a room restore on a new device: same member key and state, a chain of its own, peers kept, the door kept', async () => {
    const { alice, g, room, link } = await aliceWithGroups();
    const snapshot = await travelled(alice);
    expect(snapshot.groups?.map((x) => toHex(x.id)).sort()).toEqual([g, room].sort());
    // No sender chain of any device travels: neither my chain nor the chains I read with.
    const bytes = encodeSnapshot(await alice.snapshot());
    const secrets = [
      ...(await storeOf(alice).list(GC.chains)).map((e) => e.value),
      ...(await storeOf(alice).list(GC.receivers(Buffer.from(g, 'hex')))).map((e) => e.value),
    ];
    expect(secrets.length).toBeGreaterThan(1);
    for (const s of secrets) expect(Buffer.from(bytes).includes(Buffer.from(s))).toBe(false);

    const restored = await restore(snapshot);
    const info = restored.groups.get(g);
    expect(info).toMatchObject({ id: g, name: 'Birds', status: 'joined', topic: 'songs', pinned: 'no cats' });
    expect(stateOf(restored, g)).toEqual(stateOf(alice, g));
    expect(myKey(restored, g)).toBe(myKey(alice, g));
    expect(restored.groups.members(g).find((m) => m.role === 'admin')).toBeDefined();
    // Bob is a contact and Carol a hidden peer of Alice: neither has a session with this device yet.
    expect(
      restored.groups
        .members(g)
        .filter((m) => !m.me)
        .every((m) => !m.linked),
    ).toBe(true);
    const peers = await restored.groups.restoredPeers();
    expect(peers.map((p) => toHex(p.group))).toEqual([g]);
    // The new device draws its own chain.
    const oldChain = (await storeOf(alice).get(GC.chains, g))!;
    const newChain = (await storeOf(restored).get(GC.chains, g))!;
    expect(newChain).toBeDefined();
    expect(toHex(newChain)).not.toBe(toHex(oldChain));
    // The room keeps its door: the link handed out is this device's link.
    expect(restored.groups.get(room)).toMatchObject({ status: 'joined', public: true });
    expect(await restored.groups.roomLink(room)).toBe(link);
    // A snapshot of the restored device carries the same groups on.
    const again = decodeSnapshot(encodeSnapshot(await restored.snapshot()));
    // (Bob, a contact this device holds only as restored, waits for the contacts' sessions.)
    expect(again.groups?.find((x) => toHex(x.id) === g)?.links.length).toBe(1);
  });

  it('the restored keeper’s door admits a newcomer by the old link, and they chat', async () => {
    const alice = await world.account('Alice');
    const room = (await alice.groups.create('Lobby', { public: true })).id;
    const link = await alice.groups.roomLink(room);
    const snapshot = await travelled(alice);
    await alice.close(); // the old device is lost
    world.closed(alice);
    const restored = await restore(snapshot);
    const dave = await world.account('Dave');
    await dave.groups.joinRoom(link, { nick: 'dave' });
    await until([restored, dave], () => dave.groups.get(room).status === 'joined');
    // (Not `settle`: the restored device's sync to the lost one, such as the device set it signs
    // toward Dave (decision 0067), waits in its outbox for a device that never answers.)
    await until(
      [restored, dave],
      () => restored.groups.members(room).length === 2 && dave.groups.members(room).length === 2,
    );
    await dave.groups.send(room, 'hello keeper');
    await restored.groups.send(room, 'welcome');
    await until(
      [restored, dave],
      async () => (await texts(restored, room)).length === 2 && (await texts(dave, room)).length === 2,
    );
    expect(await texts(restored, room)).toEqual(['hello keeper', 'welcome']);
    expect(await texts(dave, room)).toEqual(['hello keeper', 'welcome']);
    expect(dave.groups.members(room)).toHaveLength(2);
  });
});

describe('forged group sections are refused, nothing restored', () => {
  /** The snapshot as a CBOR map, its first group changed by `edit`, encoded again. */
  async function forged(edit: (group: CborMap) => void): Promise<Uint8Array> {
    const alice = await world.account('Alice');
    await alice.groups.create('Birds');
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    const m = asMap(decodeCbor(encodeSnapshot(await alice.snapshot()), { maxDepth: 8 }), 'snapshot');
    const groups = asArray(m.groups, 'groups', 10);
    edit(asMap(groups[0], 'group'));
    return encodeCbor(m);
  }

  it('an event whose signature was changed', async () => {
    const bytes = await forged((g) => {
      const events = asArray(g.events, 'events', 10) as Uint8Array[];
      const e = asMap(decodeCbor(events[0]!), 'event');
      const sig = Uint8Array.from(e.sig as Uint8Array);
      sig[5] = sig[5]! ^ 1;
      e.sig = sig;
      events[0] = encodeCbor(e);
    });
    expect(() => decodeSnapshot(bytes)).toThrow(VerificationError);
  });

  it('a group whose events are another group’s', async () => {
    const other = createGroup({
      author: generateSignKeyPair(systemRandom),
      name: 'Other',
      ts: 1,
      rng: systemRandom,
    });
    const bytes = await forged((g) => {
      g.events = [encodeGroupEvent(other)];
    });
    expect(() => decodeSnapshot(bytes)).toThrow(ProtocolError);
  });

  it('a member key whose public half is another key’s', async () => {
    const bytes = await forged((g) => {
      const me = Uint8Array.from(g.me as Uint8Array);
      me.set(generateSignKeyPair(systemRandom).publicKey, 32);
      g.me = me;
    });
    expect(() => decodeSnapshot(bytes)).toThrow(VerificationError);
  });

  it('a link naming nobody the snapshot holds, an unknown field, no create', async () => {
    const nobody = await forged((g) => {
      g.links = [{ m: new Uint8Array(32).fill(1), t: new Uint8Array(32).fill(2) }];
    });
    expect(() => decodeSnapshot(nobody)).toThrow(DecodeError);
    const unknown = await forged((g) => {
      g.chain = new Uint8Array(32);
    });
    expect(() => decodeSnapshot(unknown)).toThrow(DecodeError);
    const empty = await forged((g) => {
      g.events = [];
    });
    expect(() => decodeSnapshot(empty)).toThrow(DecodeError);
  });
});

describe('revocation replaces my member key by the committed one (pre-rotation)', () => {
  it('the others see one member under the new key, with its role; chat goes on; the stolen device’s old key counts no more', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    const carol = await world.account('Carol');
    await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(alice, bob, 'alice');
    await befriend(bob, carol, 'bob');
    const g = (await alice.groups.create('Birds')).id; // the create commits to my next key
    await alice.groups.invite(g, 'Bob');
    await settle([alice, bob]);
    await bob.groups.join(g);
    await settle([alice, bob]);
    await bob.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    await carol.groups.join(g);
    await until([alice, bob, carol], () =>
      [alice, bob, carol].every(
        (a) => a.groups.members(g).every((m) => m.linked) && a.groups.members(g).length === 3,
      ),
    );
    // A second device of Alice's (restored from a backup), then stolen.
    const phone = await restore(await travelled(alice), 'phone');
    const phoneId = (await alice.devices.acceptAdd(await phone.devices.lastOp())).id; // as a link does
    const stolen = decodeGroupRecord((await storeOf(phone).get(GC.groups, g))!).me;
    const oldKey = myKey(alice, g);
    expect(toHex(stolen.subarray(32))).toBe(oldKey);

    await alice.devices.revoke(phoneId, PASS);
    await expect(alice.rotateGroupMemberKeys('not the passphrase')).rejects.toThrow(AuthError);
    expect(await alice.rotateGroupMemberKeys(PASS)).toBe(1);
    const newKey = myKey(alice, g);
    expect(newKey).not.toBe(oldKey);
    await settle([alice, bob, carol]);
    for (const a of [bob, carol]) {
      const alices = a.groups.members(g).filter((m) => m.key === newKey || m.key === oldKey);
      expect(alices).toEqual([expect.objectContaining({ key: newKey, role: 'creator', linked: true })]);
      expect(a.groups.members(g)).toHaveLength(3);
    }
    expect(stateOf(bob, g)).toEqual(stateOf(alice, g));
    await alice.groups.send(g, 'after the revocation');
    await bob.groups.send(g, 'still here');
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol])
      expect(await texts(a, g)).toEqual(['after the revocation', 'still here']);
    expect((await bob.groups.history(g)).find((m) => m.text === 'after the revocation')?.dir).toBe('in');

    // The thief holds the old member key: a change to a key of its own, and a topic signed with
    // the old key, relayed by a member, count nothing anywhere.
    const old = signKeyPairFromSeed(stolen.subarray(0, 32));
    const thief = signKeyPairFromSeed(new Uint8Array(32).fill(7));
    const st = bob.groups.resolved(g);
    const base = {
      author: old,
      group: fromHex(g),
      parents: st.heads,
      lamport: st.lamport + 1,
      ts: Date.now(),
    };
    const forgedRekey = createGroupEvent({
      ...base,
      type: 'rekey',
      content: memberKeyChange({
        group: fromHex(g),
        author: old.publicKey,
        next: thief,
        following: new Uint8Array(32),
      }),
    });
    const forgedTopic = createGroupEvent({ ...base, type: 'topic', content: { topic: 'stolen' } });
    await carol.groups.relayEvents(g, [encodeGroupEvent(forgedRekey), encodeGroupEvent(forgedTopic)]);
    await settle([alice, bob, carol]);
    // (Carol relayed them without taking them; Alice and Bob received them.)
    for (const a of [alice, bob]) {
      const s = a.groups.resolved(g);
      expect(s.members.has(toHex(thief.publicKey))).toBe(false);
      expect(s.members.get(newKey)?.role).toBe('creator');
      expect(s.topic).not.toBe('stolen');
      expect(s.rejected.map((r) => toHex(r.id))).toEqual(
        expect.arrayContaining([toHex(forgedRekey.id), toHex(forgedTopic.id)]),
      );
    }
  });
});

/** Alice (laptop, then a restored phone), Bob and Carol (Alice's contacts) in one group. */
async function aliceOnTwoDevicesInAGroup(): Promise<{
  alice: Account;
  bob: Account;
  carol: Account;
  phone: Account;
  g: string;
}> {
  const alice = await world.account('Alice');
  const bob = await world.account('Bob');
  const carol = await world.account('Carol');
  await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  const g = (await alice.groups.create('Birds')).id;
  await alice.groups.invite(g, 'Bob');
  await alice.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await bob.groups.join(g);
  await carol.groups.join(g);
  await until([alice, bob, carol], () =>
    [alice, bob, carol].every(
      (a) => a.groups.members(g).length === 3 && a.groups.members(g).every((m) => m.linked),
    ),
  );
  await bob.groups.send(g, 'before');
  await settle([alice, bob, carol]);
  const phone = await restore(await travelled(alice), 'phone');
  await until([alice, bob, carol, phone], () => phone.groups.members(g).every((m) => m.linked), 120_000);
  await settle([alice, bob, carol, phone]);
  return { alice, bob, carol, phone, g };
}

describe('a restored device is another device of the same member', () => {
  it('the group works there both ways, the others see one member, and a message reaches both of Alice’s devices once', async () => {
    const { alice, bob, carol, phone, g } = await aliceOnTwoDevicesInAGroup();
    // One member, not two, for everyone.
    for (const a of [bob, carol]) expect(a.groups.members(g)).toHaveLength(3);
    expect(myKey(phone, g)).toBe(myKey(alice, g));

    await phone.groups.send(g, 'from the phone');
    await bob.groups.send(g, 'to both of them');
    await until(
      [alice, bob, carol, phone],
      async () =>
        (await texts(bob, g)).includes('from the phone') &&
        (await texts(carol, g)).includes('from the phone') &&
        (await texts(phone, g)).includes('to both of them') &&
        (await texts(alice, g)).includes('to both of them'),
    );
    await settle([alice, bob, carol, phone]);
    for (const a of [bob, carol]) {
      const m = (await a.groups.history(g)).filter((x) => x.text === 'from the phone');
      expect(m).toHaveLength(1);
      expect(m[0]!.dir).toBe('in');
    }
    for (const a of [alice, phone])
      expect((await texts(a, g)).filter((t) => t === 'to both of them')).toHaveLength(1);
  });

  it('after the laptop is revoked, new group messages do not reach it and it holds no chain to read them; the others chat on', async () => {
    const { alice: laptop, bob, carol, phone, g } = await aliceOnTwoDevicesInAGroup();
    const laptopId = (await phone.devices.list()).find((d) => d.name === 'laptop')!.id;
    const chainsBefore = new Set((await storeOf(laptop).list(GC.receivers(fromHex(g)))).map((e) => e.key));
    await phone.revokeDevice(laptopId, PASS);
    await settle([phone, bob, carol]);
    // Alice's member key moved to the committed one; still one member for Bob and Carol.
    const newKey = myKey(phone, g);
    for (const a of [bob, carol]) {
      expect(a.groups.members(g)).toHaveLength(3);
      expect(a.groups.members(g).find((m) => m.key === newKey)?.role).toBe('creator');
    }
    await bob.groups.send(g, 'after the revocation');
    await carol.groups.send(g, 'me too');
    await phone.groups.send(g, 'from the phone, after');
    await until(
      [phone, bob, carol],
      async () =>
        (await texts(phone, g)).includes('me too') &&
        (await texts(bob, g)).includes('from the phone, after') &&
        (await texts(carol, g)).includes('after the revocation'),
    );
    await settle([phone, bob, carol]);
    await laptop.sync({ timeoutMs: 60_000 }).catch(() => undefined);
    await settle([phone, bob, carol]);
    await laptop.sync({ timeoutMs: 60_000 }).catch(() => undefined);
    const seen = await texts(laptop, g);
    for (const t of ['after the revocation', 'me too', 'from the phone, after'])
      expect(seen).not.toContain(t);
    // Bob's and Carol's chains were replaced (removal rotation) and the new ones never reached
    // it: it could not open their new messages even if it got the ciphertexts.
    const chainsAfter = (await storeOf(laptop).list(GC.receivers(fromHex(g)))).map((e) => e.key);
    expect(chainsAfter.filter((k) => !chainsBefore.has(k))).toEqual([]);
    for (const a of [bob, carol, phone]) {
      const current = toHex(decodeSenderChain((await storeOf(a).get(GC.chains, g))!).chainId);
      expect(chainsAfter).not.toContain(current);
    }
  });
});
