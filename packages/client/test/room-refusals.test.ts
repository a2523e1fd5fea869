// A room door answers the joins it refuses (docs/decisions/0017): old link, banned key, beyond the
// door's join rate; bounded by that rate; and refusals nobody but the door could make. In-process
// accounts over real WebSockets to a real relay (port 0, temporary data).
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  ParusError,
  ProtocolError,
  QuotaError,
  StorageError,
  VerificationError,
  cardId,
  createEnvelope,
  encodeEnvelope,
  fromHex,
  generateSignKeyPair,
  initRatchetSender,
  padToBucket,
  parseRoomLink,
  ratchetEncrypt,
  systemRandom,
  toHex,
  type Random,
} from '@parus/core';
import { Account, type AccountOptions } from '../src/index.ts';
import { decodeContact, type ContactRecord } from '../src/records.ts';
import { GC, decodeGroupRecord } from '../src/groups/group-records.ts';
import { RC, decodeRoomRecord, encodeRoomRecord, type RoomRecord } from '../src/groups/room-records.ts';
import { decodeRoomRefusal, encodeRoomRefusal, refusing } from '../src/groups/room-refusal.ts';
import { KeptStore, relayWorld, settle, until } from './support/group-harness.ts';

const world = relayWorld('refusals');

const account = (name: string, opts: Partial<AccountOptions> = {}): Promise<Account> =>
  world.account(name, opts);

function errors(a: Account): ParusError[] {
  const list: ParusError[] = [];
  a.events.on('error', (e) => list.push(e.error));
  return list;
}

function storeOf(a: Account): KeptStore {
  return (a as unknown as { store: KeptStore }).store;
}

/** The hidden peer sessions (room doors, group peers) an account keeps. */
async function peerSessions(a: Account): Promise<ContactRecord[]> {
  return (await storeOf(a).list('contacts')).map((e) => decodeContact(e.value)).filter((c) => c.peer);
}

const refusedOf = (a: Account, g: string): string | undefined =>
  a.groups.list().find((x) => x.id === g)?.refused;

/** The system's randomness, except that the next 32-byte draw can be scripted (a key seed). */
class ScriptedRandom implements Random {
  next: Uint8Array | undefined;
  bytes(length: number): Uint8Array {
    const scripted = this.next;
    if (scripted && length === scripted.length) {
      this.next = undefined;
      return scripted.slice();
    }
    return systemRandom.bytes(length);
  }
}

describe('refused joins are answered', () => {
  it('an old link after rotation: the joiner is told, drops the session, and may join again', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const aliceErrors = errors(alice);
    const refusals: string[] = [];
    bob.events.on('group', (c) => {
      if (c.change === 'refused') refusals.push(c.group);
    });
    const room = await alice.groups.create('Lobby', { public: true });
    const old = await alice.groups.roomLink(room.id);
    const fresh = await alice.groups.roomLink(room.id, { rotate: true });

    await bob.groups.joinRoom(old, { nick: 'bob' });
    await until([alice, bob], () => refusedOf(bob, room.id) !== undefined);
    expect(refusedOf(bob, room.id)).toBe('link-invalid');
    expect(refusals).toEqual([room.id]);
    expect(bob.groups.get(room.id)).toMatchObject({ status: 'invited', refused: 'link-invalid' });
    // The door still reports the refused request as before, and made nothing for it.
    expect(aliceErrors.some((e) => e instanceof VerificationError)).toBe(true);
    expect(alice.groups.members(room.id)).toHaveLength(1);
    expect(alice.groups.resolved(room.id).invited.size).toBe(0);
    // The session the request opened is gone on both sides, with nothing left to send.
    expect(await peerSessions(bob)).toEqual([]);
    expect(await peerSessions(alice)).toEqual([]);
    expect((await bob.outboxSize()).queued).toBe(0);
    // Kept across a restart (the room record holds it).
    const stored = decodeRoomRecord((await storeOf(bob).get(RC.rooms, room.id))!);
    expect(stored.join?.refused?.why).toBe('link-invalid');

    // Joining again with the current link starts over, with no need to decline first.
    await bob.groups.joinRoom(fresh, { nick: 'bob' });
    expect(bob.groups.get(room.id).refused).toBeUndefined();
    await until([alice, bob], () => bob.groups.get(room.id).status === 'joined');
    await settle([alice, bob]);
    expect(alice.groups.members(room.id).map((m) => m.nick ?? m.name)).toContain('bob');
  });

  it('a banned key is not allowed back in (a client that reuses its banned key)', async () => {
    const alice = await account('Alice');
    const rng = new ScriptedRandom();
    const bob = await account('Bob', { rng });
    const room = await alice.groups.create('Lobby', { public: true });
    const link = await alice.groups.roomLink(room.id);
    await bob.groups.joinRoom(link);
    await until([alice, bob], () => bob.groups.get(room.id).status === 'joined');
    await settle([alice, bob]);
    const bobKey = bob.groups.members(room.id).find((m) => m.me)!.key;
    await alice.groups.ban(room.id, bobKey);
    await until([alice, bob], () => bob.groups.get(room.id).status === 'removed');

    // Bob's client draws the banned key again (scripted): the door says it may not join.
    const keyOf = async (): Promise<Uint8Array> =>
      decodeGroupRecord((await storeOf(bob).get(GC.groups, room.id))!).me;
    rng.next = (await keyOf()).slice(0, 32);
    await bob.groups.joinRoom(link);
    expect(toHex((await keyOf()).slice(32))).toBe(bobKey);
    await until([alice, bob], () => refusedOf(bob, room.id) !== undefined);
    expect(refusedOf(bob, room.id)).toBe('not-allowed');
    expect(alice.groups.resolved(room.id).banned.has(bobKey)).toBe(true);
    // Giving up forgets the room and its refusal.
    await bob.groups.decline(room.id);
    expect(bob.groups.list()).toEqual([]);
    expect(decodeRoomRecord((await storeOf(bob).get(RC.rooms, room.id))!).join).toBeUndefined();
  });

  it('beyond the door’s join rate: “too many joins”, and no more refusals than joins per window', async () => {
    const alice = await account('Alice', { roomLimits: { joins: 1 } });
    const carol = await account('Carol');
    const dave = await account('Dave');
    const erin = await account('Erin');
    const aliceErrors = errors(alice);
    const room = await alice.groups.create('Lobby', { public: true });
    const link = await alice.groups.roomLink(room.id);
    await carol.groups.joinRoom(link);
    await until([alice, carol], () => carol.groups.get(room.id).status === 'joined');

    await dave.groups.joinRoom(link);
    await until([alice, dave], () => refusedOf(dave, room.id) !== undefined);
    expect(refusedOf(dave, room.id)).toBe('too-many-joins');

    // The door's one refusal of this window is spent: Erin's request is dropped unanswered.
    await erin.groups.joinRoom(link);
    await until([alice, erin], () => aliceErrors.filter((e) => e instanceof QuotaError).length >= 2);
    await settle([alice, carol]);
    await erin.sync();
    await erin.sync();
    expect(erin.groups.get(room.id)).toMatchObject({ status: 'invited' });
    expect(refusedOf(erin, room.id)).toBeUndefined();
    expect(alice.groups.members(room.id)).toHaveLength(2);

    // The same bound, asked directly: errors the door's checks did not tag get no answer at all.
    const id = cardId(parseRoomLink(link).door);
    expect(
      alice.groups.roomRefusal(id, refusing('link-invalid', new VerificationError('x'))),
    ).toBeUndefined();
    expect(alice.groups.roomRefusal(id, new ProtocolError('not a join request'))).toBeUndefined();
  });

  it('refusals nobody but the door could make are rejected, and the join goes on', async () => {
    const store = new KeptStore();
    const alice = await account('Alice', { store });
    const bob = await account('Bob');
    const mallory = await account('Mallory');
    const bobErrors = errors(bob);
    const room = await alice.groups.create('Lobby', { public: true });
    const link = await alice.groups.roomLink(room.id);
    const door = parseRoomLink(link).door;
    // The door is offline while Bob asks.
    await alice.close();
    world.closed(alice);
    await bob.groups.joinRoom(link);
    await bob.sync();
    const [session] = await peerSessions(bob);
    expect(session).toBeDefined();

    // Mallory learned Bob's queue for that session (as its relay could) and seals a refusal in a
    // session of her own towards the door's card: Bob's session does not open it.
    const own = initRatchetSender({
      sharedSecret: systemRandom.bytes(32),
      peerRatchetKey: door.signedPrekey,
      sharedHeaderKey: systemRandom.bytes(32),
      nextHeaderKey: systemRandom.bytes(32),
      rng: systemRandom,
    });
    const env = createEnvelope({
      device: generateSignKeyPair(systemRandom),
      conv: session!.conv,
      parents: [],
      lamport: 0,
      ts: Date.now(),
      kind: 'group',
      body: encodeRoomRefusal({ g: fromHex(room.id), refusal: 'not-allowed' }),
    });
    const forged = ratchetEncrypt(
      own,
      padToBucket(encodeEnvelope(env)),
      systemRandom.bytes(32),
      systemRandom,
    );
    const relay = await (
      mallory as unknown as {
        connected(a: string): Promise<{ command(f: object): Promise<unknown> }>;
      }
    ).connected(session!.recv.relay);
    await relay.command({ t: 'send', sid: session!.recv.sid, body: forged.message });
    await until([bob], () => bobErrors.length > 0);
    expect(bobErrors[0]).toBeInstanceOf(VerificationError);
    expect(refusedOf(bob, room.id)).toBeUndefined();

    // A refusal in a session that is not this join's door session (here: handed to the engine
    // as if another door had sent it) changes nothing either.
    const other: ContactRecord = { ...session!, id: systemRandom.bytes(16) };
    const payload = encodeRoomRefusal({ g: fromHex(room.id), refusal: 'not-allowed' });
    await expect(bob.groups.receiveRoomRefusal(other, payload)).rejects.toBeInstanceOf(ProtocolError);
    await expect(
      bob.groups.receiveRoomRefusal(session!, { t: 'refuse', g: fromHex(room.id), c: 9 }),
    ).rejects.toBeInstanceOf(DecodeError);
    expect(refusedOf(bob, room.id)).toBeUndefined();

    // The door comes back and lets Bob in.
    const back = await world.reopen({ store });
    await back.start();
    await until([back, bob], () => bob.groups.get(room.id).status === 'joined');
  });
});

describe('the refusal and the room record codecs', () => {
  const g = systemRandom.bytes(16);

  it('a refusal round-trips; unknown codes, other fields and bad ids do not decode', () => {
    for (const refusal of ['link-invalid', 'not-allowed', 'too-many-joins'] as const)
      expect(decodeRoomRefusal(encodeRoomRefusal({ g, refusal }))).toEqual({ g, refusal });
    const ok = encodeRoomRefusal({ g, refusal: 'not-allowed' });
    for (const bad of [
      { ...ok, c: 0 },
      { ...ok, c: 4 },
      { ...ok, why: 'because' },
      { ...ok, t: 'bind' },
      { ...ok, g: g.slice(1) },
      { t: 'refuse', g },
      'refuse',
    ])
      expect(() => decodeRoomRefusal(bad)).toThrow(DecodeError);
  });

  it('a room record keeps the join’s door session and its refusal; a damaged one is a StorageError', () => {
    const rec: RoomRecord = {
      g,
      join: {
        k: systemRandom.bytes(32),
        nick: 'mei',
        c: systemRandom.bytes(16),
        refused: { why: 'link-invalid', at: 5 },
      },
    };
    expect(decodeRoomRecord(encodeRoomRecord(rec))).toEqual(rec);
    const plain: RoomRecord = { g, join: { k: rec.join!.k } };
    expect(decodeRoomRecord(encodeRoomRecord(plain))).toEqual(plain);
    const bytes = encodeRoomRecord({
      ...rec,
      join: { ...rec.join!, refused: { why: 'nope' as 'link-invalid', at: 5 } },
    });
    expect(() => decodeRoomRecord(bytes)).toThrow(StorageError);
    expect(() => decodeRoomRecord(encodeRoomRecord(rec).slice(0, 20))).toThrow(StorageError);
  });
});
