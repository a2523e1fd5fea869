// Public rooms and private chat requests end to end (docs/decisions/0013): in-process accounts
// over real WebSockets to a real relay (port 0, temporary data). No part of the engine is replaced.
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  ParusError,
  ProtocolError,
  QuotaError,
  UsageError,
  VerificationError,
  createGroup,
  createGroupEvent,
  defaultGroupSettings,
  fromBase64Url,
  generateSignKeyPair,
  parseRoomLink,
  resolveGroupState,
  systemRandom,
  toBase64Url,
  toHex,
  ROOM_LINK_PREFIX,
} from '@parus/core';
import { Account, MemoryStore, type AccountOptions } from '../src/index.ts';
import { decodeContact } from '../src/records.ts';
import { checkRoomAdmission, roomJoinRequest } from '../src/groups/room-door.ts';
import { befriend, settle, stateOf, until, relayWorld } from './support/group-harness.ts';

const world = relayWorld('rooms');

const account = (name: string, opts: Partial<AccountOptions> = {}): Promise<Account> =>
  world.account(name, opts);

function errors(a: Account): ParusError[] {
  const list: ParusError[] = [];
  a.events.on('error', (e) => list.push(e.error));
  return list;
}

function myKey(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}

/** The public halves of the per-contact identity keys this account uses. */
async function contactKeys(a: Account): Promise<string[]> {
  const store = (a as unknown as { store: MemoryStore }).store;
  return (await store.list('contacts')).map((e) => toHex(decodeContact(e.value).identity.slice(32)));
}

describe('public rooms', () => {
  it('two people who are nobody’s contacts join by link with fresh keys, chat, and agree on the state', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const carol = await account('Carol');
    const dave = await account('Dave');
    await befriend(dave, bob, 'dave'); // Bob has a contact: his room key must not be that key
    const room = await alice.groups.create('Lobby', { public: true });
    expect(room.public).toBe(true);
    const link = await alice.groups.roomLink(room.id);
    expect(link.startsWith(ROOM_LINK_PREFIX)).toBe(true);
    expect(await alice.groups.roomLink(room.id)).toBe(link); // the same door until rotated

    const joining = await bob.groups.joinRoom(link, { nick: 'bob' });
    expect(joining.status).toBe('invited');
    await carol.groups.joinRoom(link, { nick: 'carol' });
    await until([alice, bob, carol], () =>
      [bob, carol].every(
        (x) => x.groups.get(room.id).status === 'joined' && x.groups.members(room.id).length === 3,
      ),
    );
    await until([alice, bob, carol], () =>
      [alice, bob, carol].every((x) => x.groups.members(room.id).every((m) => m.linked)),
    );
    // Nobody became anybody's contact.
    expect(alice.contacts()).toEqual([]);
    expect(carol.contacts()).toEqual([]);
    expect(bob.contacts().map((c) => c.alias)).toEqual(['dave']);

    const bobKey = myKey(bob, room.id);
    expect(await contactKeys(bob)).not.toContain(bobKey);
    expect(bob.groups.members(room.id).map((m) => m.nick ?? m.name)).toContain('bob');

    await bob.groups.send(room.id, 'hello lobby');
    await carol.groups.send(room.id, 'hi bob');
    await settle([alice, bob, carol]);
    for (const x of [alice, bob, carol])
      expect((await x.groups.history(room.id)).map((m) => m.text).sort()).toEqual(['hello lobby', 'hi bob']);
    const s = stateOf(alice, room.id);
    expect(stateOf(bob, room.id)).toEqual(s);
    expect(stateOf(carol, room.id)).toEqual(s);

    // Leaving and joining again draws another key.
    await bob.groups.leave(room.id);
    await settle([alice, bob, carol]);
    await bob.groups.joinRoom(link);
    await until([alice, bob, carol], () => bob.groups.get(room.id).status === 'joined');
    const again = myKey(bob, room.id);
    expect(again).not.toBe(bobKey);
    expect(await contactKeys(bob)).not.toContain(again);
    await settle([alice, bob, carol]);
    expect(stateOf(bob, room.id)).toEqual(stateOf(alice, room.id));
    expect(stateOf(carol, room.id)).toEqual(stateOf(alice, room.id));
  });

  it('refuses forged links, old links after rotation, private groups and joins beyond the door’s rate', async () => {
    const alice = await account('Alice', { roomLimits: { joins: 1 } });
    const bob = await account('Bob');
    const carol = await account('Carol');
    const dave = await account('Dave');
    const aliceErrors = errors(alice);
    const room = await alice.groups.create('Lobby', { public: true });
    const old = await alice.groups.roomLink(room.id);

    // A link whose secret was changed no longer verifies; garbage does not decode.
    const bytes = fromBase64Url(old.slice(ROOM_LINK_PREFIX.length));
    const i = bytes.length - 100;
    bytes[i] = bytes[i]! ^ 1;
    const forged = ROOM_LINK_PREFIX + toBase64Url(bytes);
    await expect(bob.groups.joinRoom(forged)).rejects.toBeInstanceOf(ParusError);
    await expect(bob.groups.joinRoom('parus:room/AAAA')).rejects.toBeInstanceOf(DecodeError);
    expect(bob.groups.list()).toEqual([]);

    // Private groups have no link.
    const priv = await alice.groups.create('Private');
    await expect(alice.groups.roomLink(priv.id)).rejects.toBeInstanceOf(UsageError);

    // Rotation: the old link's proof fails at the door; nothing is made for the joiner.
    const fresh = await alice.groups.roomLink(room.id, { rotate: true });
    expect(fresh).not.toBe(old);
    await bob.groups.joinRoom(old);
    await until([alice, bob], () => aliceErrors.some((e) => e instanceof VerificationError));
    // (Bob is told so: room-refusals.test.ts follows the refusals to the joiner.)
    await alice.sync();
    await bob.sync();
    expect(bob.groups.get(room.id).status).toBe('invited');
    expect(alice.groups.members(room.id)).toHaveLength(1);
    expect(alice.groups.resolved(room.id).invited.size).toBe(0);

    // The new link works once; the door admits one join per window here, so the next one waits.
    await carol.groups.joinRoom(fresh);
    await until([alice, carol], () => carol.groups.get(room.id).status === 'joined');
    await dave.groups.joinRoom(fresh);
    await until([alice, dave], () => aliceErrors.some((e) => e instanceof QuotaError));
    await settle([alice, carol]);
    await dave.sync();
    expect(dave.groups.get(room.id).status).toBe('invited');
    expect(alice.groups.members(room.id)).toHaveLength(2);
    // A joiner who gives up forgets the room.
    await dave.groups.decline(room.id);
    expect(dave.groups.list()).toEqual([]);
  });

  it('the door’s checks: forged proof, another session, banned key, private group', async () => {
    const rng = systemRandom;
    const creator = generateSignKeyPair(rng);
    const joiner = generateSignKeyPair(rng);
    const banned = generateSignKeyPair(rng);
    const create = createGroup({
      author: creator,
      name: 'Lobby',
      ts: 1,
      rng,
      settings: defaultGroupSettings({ public: true }),
    });
    const ev = (type: 'invite' | 'ban', member: Uint8Array, parents: Uint8Array[], lamport: number) =>
      createGroupEvent({
        author: creator,
        group: create.group,
        parents,
        lamport,
        ts: lamport,
        type,
        content: { member },
      });
    const inv = ev('invite', banned.publicKey, [create.id], 2);
    const ban = ev('ban', banned.publicKey, [inv.id], 3);
    const state = resolveGroupState([create, inv, ban], { group: create.group });
    const secret = rng.bytes(32);
    const conv = rng.bytes(32);
    const ok = roomJoinRequest(secret, create.group, joiner, conv) as {
      m: Uint8Array;
      proof: Uint8Array;
      sig: Uint8Array;
    };
    expect(() => checkRoomAdmission({ state, secret, conv, request: ok })).not.toThrow();
    // Another secret, another session (conversation) or a flipped bit: the proof fails.
    expect(() => checkRoomAdmission({ state, secret: rng.bytes(32), conv, request: ok })).toThrow(
      VerificationError,
    );
    expect(() => checkRoomAdmission({ state, secret, conv: rng.bytes(32), request: ok })).toThrow(
      VerificationError,
    );
    const flipped = ok.proof.slice();
    flipped[0] = flipped[0]! ^ 1;
    expect(() => checkRoomAdmission({ state, secret, conv, request: { ...ok, proof: flipped } })).toThrow(
      VerificationError,
    );
    // The right proof for a key whose holder did not sign: refused.
    const other = generateSignKeyPair(rng);
    const stolen = roomJoinRequest(secret, create.group, other, conv) as typeof ok;
    expect(() => checkRoomAdmission({ state, secret, conv, request: { ...stolen, sig: ok.sig } })).toThrow(
      VerificationError,
    );
    // A banned key, with a perfect proof.
    const b = roomJoinRequest(secret, create.group, banned, conv) as typeof ok;
    expect(() => checkRoomAdmission({ state, secret, conv, request: b })).toThrow(ProtocolError);
    // A private group takes no joins by link.
    const priv = createGroup({ author: creator, name: 'Private', ts: 1, rng });
    const privState = resolveGroupState([priv], { group: priv.group });
    const p = roomJoinRequest(secret, priv.group, joiner, conv) as typeof ok;
    expect(() => checkRoomAdmission({ state: privState, secret, conv, request: p })).toThrow(ProtocolError);
    // The link itself is signed by its keeper.
    expect(() => parseRoomLink('parus:room/' + toBase64Url(new Uint8Array([0xa0])))).toThrow(DecodeError);
  });

  it('limits the message rate on both sides', async () => {
    const alice = await account('Alice', { roomLimits: { messages: 3 } });
    const bob = await account('Bob', { roomLimits: { messages: 100 } }); // a client that does not hold back
    const aliceErrors = errors(alice);
    const room = await alice.groups.create('Lobby', { public: true });
    await bob.groups.joinRoom(await alice.groups.roomLink(room.id));
    await until([alice, bob], () => bob.groups.get(room.id).status === 'joined');
    await settle([alice, bob]);
    // The sender's own limit.
    for (let i = 0; i < 3; i++) await alice.groups.send(room.id, `a${i}`);
    await expect(alice.groups.send(room.id, 'a3')).rejects.toBeInstanceOf(QuotaError);
    // A sender beyond the receiver's limit: the rest is not shown, and each is an error event.
    for (let i = 0; i < 5; i++) await bob.groups.send(room.id, `b${i}`);
    await settle([alice, bob]);
    const seen = (await alice.groups.history(room.id)).filter((m) => m.dir === 'in').map((m) => m.text);
    expect(seen).toHaveLength(3);
    expect(aliceErrors.filter((e) => e instanceof QuotaError).length).toBeGreaterThanOrEqual(2);
    expect((await bob.groups.history(room.id)).filter((m) => m.dir === 'in').map((m) => m.text)).toEqual([
      'a0',
      'a1',
      'a2',
    ]);
  });
});

describe('private chat requests from a member list', () => {
  it('asks, accepts (a new contact with fresh keys), declines, and refuses a banned member', async () => {
    const alice = await account('Alice');
    const bob = await account('Bob');
    const carol = await account('Carol');
    const room = await alice.groups.create('Lobby', { public: true });
    const link = await alice.groups.roomLink(room.id);
    await bob.groups.joinRoom(link, { nick: 'bob' });
    await carol.groups.joinRoom(link, { nick: 'carol' });
    await until([alice, bob, carol], () =>
      [alice, bob, carol].every(
        (x) => x.groups.members(room.id).length === 3 && x.groups.members(room.id).every((m) => m.linked),
      ),
    );
    const seen: string[] = [];
    carol.events.on('group', (c) => {
      if (c.change === 'request') seen.push(c.group);
    });

    // Bob asks Carol; Carol sees a request, not a contact.
    await bob.groups.requestChat(room.id, 'carol', { note: 'hi, 私訊?' });
    await settle([alice, bob, carol]);
    expect(seen).toEqual([room.id]);
    const [req] = await carol.groups.chatRequests();
    expect(req).toMatchObject({ group: room.id, from: 'bob', note: 'hi, 私訊?' });
    expect(carol.contacts()).toEqual([]);
    expect((await carol.groups.takeChatRequests()).map((r) => r.id)).toEqual([req!.id]);
    expect(await carol.groups.takeChatRequests()).toEqual([]);

    const contact = await carol.groups.acceptChatRequest(req!.id.slice(0, 6), { alias: 'bob' });
    expect(contact.alias).toBe('bob');
    await until([bob, carol], () => bob.contacts().some((c) => c.status === 'active'));
    expect(await carol.groups.chatRequests()).toEqual([]);
    const bobAlias = bob.contacts()[0]!.alias;
    await carol.sendText('bob', 'private hello');
    await bob.sendText(bobAlias, 'private hi');
    await until([bob, carol], async () => (await bob.history(bobAlias)).length === 2);
    expect((await carol.history('bob')).map((m) => m.text).sort()).toEqual(['private hello', 'private hi']);
    // Fresh per-contact keys: not the room keys.
    expect(await contactKeys(carol)).not.toContain(myKey(carol, room.id));

    // Declined: dropped, and Alice is told nothing.
    await alice.groups.requestChat(room.id, 'carol');
    await settle([alice, bob, carol]);
    const [second] = await carol.groups.chatRequests();
    await carol.groups.declineChatRequest(second!.id);
    expect(await carol.groups.chatRequests()).toEqual([]);
    await expect(carol.groups.acceptChatRequest(second!.id)).rejects.toBeInstanceOf(Error);
    await settle([alice, bob, carol]);
    expect(alice.contacts()).toEqual([]);

    // A banned member's request never stands, whichever comes first; and they cannot send one.
    await carol.close();
    world.closed(carol);
    await bob.groups.requestChat(room.id, 'Alice');
    await alice.groups.ban(room.id, myKey(bob, room.id));
    await settle([alice, bob]);
    expect(await alice.groups.chatRequests()).toEqual([]);
    await expect(bob.groups.requestChat(room.id, 'Alice')).rejects.toBeInstanceOf(UsageError);
    expect(bob.groups.get(room.id).status).toBe('removed');
  });
});
