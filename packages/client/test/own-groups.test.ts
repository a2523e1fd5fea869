// My groups on all my devices (docs/decisions/0054, groups/own-group-sync.ts): what I send in a
// group from one device shows on the other as mine, once and in order; 已讀, delete for me and
// state edits (the group's picture too, decision 0066) follow; after a rekey my other device writes under the new member key. Real
// accounts over a real relay on loopback; nothing of the engine is replaced.
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  ProtocolError,
  QuotaError,
  UsageError,
  VerificationError,
  asArray,
  asMap,
  createEnvelope,
  decodeCbor,
  encodeCbor,
  fromHex,
  generateSignKeyPair,
  signKeyPairFromSeed,
  systemRandom,
  toHex,
  type CborMap,
  type SyncOp,
} from '@parus/core';
import type { Account, MessageInfo } from '../src/index.ts';
import type { StoreOp } from '../src/store.ts';
import { encodeGroupBody } from '../src/groups/group-body.ts';
import { encodeSnapshotGroup } from '../src/snapshot-groups.ts';
import { befriend, relayWorld, settle, until } from './support/group-harness.ts';
import { LIGHT, PASS } from './support/device-harness.ts';

const world = relayWorld('own-groups');

/** A PNG's signature and IHDR chunk (what core's header check reads), then `extra` bytes. */
function png(width: number, height: number, extra = 16): Uint8Array {
  const b = new Uint8Array(33 + extra);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  return b;
}

const myKey = (a: Account, g: string): string => a.groups.members(g).find((m) => m.me)!.key;
const lines = async (a: Account, g: string): Promise<string[]> =>
  (await a.groups.history(g)).map((m: MessageInfo) => `${m.dir}:${m.text}`);
const count = async (a: Account, g: string, line: string): Promise<number> =>
  (await lines(a, g)).filter((x) => x === line).length;

/** Alice's laptop, Bob and Carol in one group; then Alice's phone restored from the laptop. */
async function aliceOnTwoDevicesInAGroup(): Promise<{
  laptop: Account;
  phone: Account;
  bob: Account;
  carol: Account;
  g: string;
}> {
  const laptop = await world.account('Alice');
  const bob = await world.account('Bob');
  const carol = await world.account('Carol');
  await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
  await befriend(laptop, bob, 'alice');
  await befriend(laptop, carol, 'alice');
  const g = (await laptop.groups.create('Birds')).id;
  await laptop.groups.invite(g, 'Bob');
  await laptop.groups.invite(g, 'Carol');
  await settle([laptop, bob, carol]);
  await bob.groups.join(g);
  await carol.groups.join(g);
  await until([laptop, bob, carol], () =>
    [laptop, bob, carol].every(
      (a) => a.groups.members(g).length === 3 && a.groups.members(g).every((m) => m.linked),
    ),
  );
  const phone = await world.account('Alice');
  await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
  await until(
    [laptop, bob, carol, phone],
    () =>
      phone.groups.members(g).every((m) => m.linked) &&
      laptop.ownSessions().some((s) => s.active) &&
      phone.ownSessions().some((s) => s.active),
    120_000,
  );
  await settle([laptop, bob, carol, phone]);
  return { laptop, phone, bob, carol, g };
}

describe('my group messages on my other devices', () => {
  it('sent on one device, shown on the other as mine, once, in the same order; messages from others reach both once', async () => {
    const { laptop, phone, bob, carol, g } = await aliceOnTwoDevicesInAGroup();
    const all = [laptop, phone, bob, carol];
    await laptop.groups.send(g, 'one from the laptop');
    await until(all, async () => (await count(bob, g, 'in:one from the laptop')) === 1);
    await bob.groups.send(g, 'two from Bob');
    await until(all, async () => (await count(laptop, g, 'in:two from Bob')) === 1);
    await phone.groups.send(g, 'three from the phone');
    await until(all, async () => (await count(carol, g, 'in:three from the phone')) === 1);
    await carol.groups.send(g, 'four from Carol');
    await until(
      all,
      async () =>
        (await count(phone, g, 'in:four from Carol')) === 1 &&
        (await count(laptop, g, 'in:four from Carol')) === 1 &&
        (await count(laptop, g, 'out:three from the phone')) === 1 &&
        (await count(phone, g, 'out:one from the laptop')) === 1,
    );
    await settle(all);
    const expected = ['one from the laptop', 'two from Bob', 'three from the phone', 'four from Carol'];
    // Causal order (each was sent after the one before had arrived), once each, mine as mine.
    expect(await lines(laptop, g)).toEqual([
      'out:one from the laptop',
      'in:two from Bob',
      'out:three from the phone',
      'in:four from Carol',
    ]);
    expect(await lines(phone, g)).toEqual(await lines(laptop, g));
    expect((await bob.groups.history(g)).map((m) => m.text)).toEqual(expected);
    expect((await carol.groups.history(g)).map((m) => m.text)).toEqual(expected);
    // Bob and Carol see one Alice: the phone's message is from the same member as the laptop's.
    const froms = (await bob.groups.history(g))
      .filter((m) => m.text.includes('laptop') || m.text.includes('phone'))
      .map((m) => m.from);
    expect(new Set(froms).size).toBe(1);
    expect(bob.groups.members(g)).toHaveLength(3);
  }, 240_000);

  it('已讀 on one device reads the group on the other; delete for me follows; a late copy stays deleted', async () => {
    const { laptop, phone, bob, carol, g } = await aliceOnTwoDevicesInAGroup();
    const all = [laptop, phone, bob, carol];
    const hello = await bob.groups.send(g, 'hello both');
    await until(
      all,
      async () =>
        (await count(laptop, g, 'in:hello both')) === 1 && (await count(phone, g, 'in:hello both')) === 1,
    );
    const statusOf = async (a: Account, id: string) =>
      (await a.groups.history(g)).find((m) => m.id === id)?.status;
    expect(await statusOf(laptop, hello.id)).toBe('received');
    expect(await phone.groups.markRead(g)).toBe(1);
    await until(all, async () => (await statusOf(laptop, hello.id)) === 'read');
    // Read there: nothing left to read here, and no second read receipt to Bob.
    expect(await laptop.groups.markRead(g)).toBe(0);

    const mine = await phone.groups.send(g, 'to be deleted');
    await until(all, async () => (await count(laptop, g, 'out:to be deleted')) === 1);
    await laptop.groups.deleteForMe(g, mine.id);
    await laptop.groups.deleteForMe(g, hello.id);
    await until(all, async () => (await lines(phone, g)).length === 0);
    expect(await lines(laptop, g)).toEqual([]);
    // Bob still has both (a delete for me is mine).
    expect(await count(bob, g, 'in:to be deleted')).toBe(1);
  }, 240_000);

  it('state edits made on one device show on the other', async () => {
    const { laptop, phone, bob, carol, g } = await aliceOnTwoDevicesInAGroup();
    const all = [laptop, phone, bob, carol];
    await phone.groups.setTopic(g, 'songs at dawn');
    await laptop.groups.setName(g, 'Songbirds');
    await laptop.groups.setRole(g, myKey(bob, g), 'admin');
    await phone.groups.setPinned(g, 'no cats');
    await until(all, () =>
      [laptop, phone, bob].every((a) => {
        const s = a.groups.resolved(g);
        return (
          s.topic === 'songs at dawn' &&
          s.name === 'Songbirds' &&
          s.pinned?.text === 'no cats' &&
          s.members.get(myKey(bob, g))?.role === 'admin'
        );
      }),
    );
    expect(phone.groups.get(g).name).toBe('Songbirds');
    expect(laptop.groups.get(g).topic).toBe('songs at dawn');

    // The group's picture (decision 0066): set on one device, on every member's devices.
    const picture = png(96, 96);
    await phone.groups.setAvatar(g, picture);
    await until(all, () => all.every((a) => a.groups.get(g).avatar === true));
    for (const a of all) expect(a.groups.avatar(g)).toEqual(picture);
    // Refused before anything is signed: a member without the power, not a picture, too large.
    await expect(carol.groups.setAvatar(g, png(8, 8))).rejects.toThrow(UsageError);
    await expect(laptop.groups.setAvatar(g, new TextEncoder().encode('GIF89a'))).rejects.toThrow(DecodeError);
    await expect(laptop.groups.setAvatar(g, png(129, 129))).rejects.toThrow(QuotaError);
    await expect(laptop.groups.setAvatar(g, png(64, 64, 7000))).rejects.toThrow(QuotaError);
    expect(laptop.groups.avatar(g)).toEqual(picture);
    expect(carol.groups.avatar(g)).toEqual(picture);
    // An admin (Bob) takes it down.
    await bob.groups.setAvatar(g, null);
    await until(all, () => all.every((a) => a.groups.get(g).avatar === undefined));
    expect(phone.groups.avatar(g)).toBeUndefined();
  }, 240_000);
});

describe('a rekey reaches my other devices', () => {
  it('after a revocation the phone takes the new member key and still writes as Alice; the others see one member under it', async () => {
    const { laptop, phone, bob, carol, g } = await aliceOnTwoDevicesInAGroup();
    // A third device of Alice's, in the log (as a link adds it), then lost.
    const tablet = await world.account('Alice');
    await tablet.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'tablet' });
    const tabletId = (await laptop.devices.acceptAdd(await tablet.devices.lastOp())).id;
    await tablet.close();
    const oldKey = myKey(laptop, g);
    await laptop.revokeDevice(tabletId, PASS);
    const newKey = myKey(laptop, g);
    expect(newKey).not.toBe(oldKey);
    const live = [laptop, phone, bob, carol];
    await until(live, () => myKey(phone, g) === newKey);
    await settle(live);
    await phone.groups.send(g, 'the phone after the rekey');
    await until(
      live,
      async () =>
        [bob, carol].every(
          (a) => a.groups.members(g).length === 3 && a.groups.members(g).some((m) => m.key === newKey),
        ) && (await count(carol, g, 'in:the phone after the rekey')) === 1,
    );
    await bob.groups.send(g, 'after the revocation');
    await until(
      live,
      async () =>
        (await count(bob, g, 'in:the phone after the rekey')) === 1 &&
        (await count(laptop, g, 'out:the phone after the rekey')) === 1 &&
        (await count(phone, g, 'in:after the revocation')) === 1 &&
        (await count(laptop, g, 'in:after the revocation')) === 1,
    );
    // The phone's message is from Alice's new key, the one member Alice, for the others.
    for (const a of [bob, carol]) {
      const m = (await a.groups.history(g)).find((x) => x.text === 'the phone after the rekey')!;
      expect(m.from).toBe(a.groups.members(g).find((x) => x.key === newKey)!.name);
    }
    expect(myKey(phone, g)).toBe(newKey);
    // Bob and Carol took the laptop's rotation (decision 0067): the revoked tablet is not among
    // Alice's devices, the laptop and the phone are, and the phone took the new identity.
    const current = (await laptop.devices.list()).filter((d) => !d.revoked).map((d) => d.id);
    expect(current).not.toContain(tabletId);
    await until(live, () =>
      [bob, carol].every(
        (a) =>
          a.safetyNumber('alice').digits === phone.safetyNumber(a === bob ? 'Bob' : 'Carol').digits &&
          a
            .contactDeviceList('alice')
            .map((d) => d.id)
            .sort()
            .join() === [...current].sort().join(),
      ),
    );
  }, 360_000);
});

describe('own-device group sync: refusals change nothing', () => {
  it('a member key that is not its seed’s, a key that is no member, a copy signed by another member', async () => {
    const { laptop, g } = await aliceOnTwoDevicesInAGroup();
    const before = myKey(laptop, g);
    const stamp = { l: 1, d: new Uint8Array(8) };
    const ops: StoreOp[] = [];
    const after: Array<() => void> = [];
    const other = generateSignKeyPair(systemRandom);
    const halves = new Uint8Array(64);
    halves.set(signKeyPairFromSeed(new Uint8Array(32).fill(1)).secretKey.subarray(0, 32));
    halves.set(other.publicKey, 32);
    const op = (key: Uint8Array): Extract<SyncOp, { t: 'group' }> => ({
      ...stamp,
      t: 'group',
      g: fromHex(g),
      key,
    });
    await expect(laptop.groups.ownGroup(op(halves), ops, after)).rejects.toThrow(VerificationError);
    await expect(laptop.groups.ownGroup(op(other.secretKey), ops, after)).rejects.toThrow(ProtocolError);
    // A "sent copy" of mine signed by a key that is not mine in this group.
    const forger = generateSignKeyPair(systemRandom);
    const wire = encodeGroupBody({ kind: 'text', text: 'forged as mine' });
    const env = createEnvelope({
      device: forger,
      conv: fromHex(g),
      parents: [],
      lamport: 1,
      ts: Date.now(),
      kind: wire.kind,
      body: wire.body,
    });
    await expect(laptop.groups.ownSent(env, false, ops, after)).rejects.toThrow(VerificationError);
    expect(ops).toEqual([]);
    expect(after).toEqual([]);
    expect(myKey(laptop, g)).toBe(before);
    expect(await lines(laptop, g)).toEqual([]);
  }, 240_000);
});

/** Alice's laptop with Bob and Carol as contacts, then her phone restored before any group exists. */
async function aliceLinkedBeforeTheGroup(): Promise<{
  laptop: Account;
  phone: Account;
  bob: Account;
  carol: Account;
}> {
  const laptop = await world.account('Alice');
  const bob = await world.account('Bob');
  const carol = await world.account('Carol');
  await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
  await befriend(laptop, bob, 'alice');
  await befriend(laptop, carol, 'alice');
  await settle([laptop, bob, carol]);
  const phone = await world.account('Alice');
  await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
  await until(
    [laptop, bob, carol, phone],
    () =>
      laptop.ownSessions().some((s) => s.active) &&
      phone.ownSessions().some((s) => s.active) &&
      phone.contacts().length === 2,
    120_000,
  );
  await settle([laptop, bob, carol, phone]);
  return { laptop, phone, bob, carol };
}

describe('a group made or joined after my other device was linked (decision 0060)', () => {
  it('made on the laptop: the phone has it with its members, roles and keys, and writes and reads at once', async () => {
    const { laptop, phone, bob, carol } = await aliceLinkedBeforeTheGroup();
    const all = [laptop, phone, bob, carol];
    const g = (await laptop.groups.create('Late birds')).id;
    await laptop.groups.invite(g, 'Bob');
    await settle(all);
    await bob.groups.join(g);
    await until(
      all,
      () =>
        phone.groups.list().some((x) => x.id === g && x.status === 'joined') &&
        phone.groups.members(g).length === 2 &&
        phone.groups.members(g).every((m) => m.linked),
      120_000,
    );
    expect(myKey(phone, g)).toBe(myKey(laptop, g));
    expect(phone.groups.get(g).role).toBe('creator');
    await phone.groups.send(g, 'from the phone');
    await until(all, async () => (await count(bob, g, 'in:from the phone')) === 1);
    await bob.groups.send(g, 'from Bob');
    await until(
      all,
      async () =>
        (await count(phone, g, 'in:from Bob')) === 1 &&
        (await count(laptop, g, 'in:from Bob')) === 1 &&
        (await count(laptop, g, 'out:from the phone')) === 1,
    );
    // Carol joins later: the phone reaches her too.
    await phone.groups.invite(g, 'Carol');
    await settle(all);
    await carol.groups.join(g);
    await until(all, () =>
      [laptop, phone].every(
        (a) => a.groups.members(g).length === 3 && a.groups.members(g).every((m) => m.linked),
      ),
    );
    await carol.groups.send(g, 'from Carol');
    await until(
      all,
      async () =>
        (await count(phone, g, 'in:from Carol')) === 1 && (await count(laptop, g, 'in:from Carol')) === 1,
    );
    expect(bob.groups.members(g)).toHaveLength(3);
  }, 300_000);

  it('an invitation accepted on the laptop: the phone has the group and writes in it', async () => {
    const { laptop, phone, bob, carol } = await aliceLinkedBeforeTheGroup();
    const all = [laptop, phone, bob, carol];
    const g = (await bob.groups.create('Bob’s')).id;
    await bob.groups.invite(g, 'alice');
    await settle(all);
    await laptop.groups.join(g);
    await until(
      all,
      () =>
        phone.groups.list().some((x) => x.id === g && x.status === 'joined') &&
        phone.groups.members(g).length === 2 &&
        phone.groups.members(g).every((m) => m.linked),
      120_000,
    );
    await phone.groups.send(g, 'joined from the laptop, written on the phone');
    await bob.groups.send(g, 'welcome');
    await until(
      all,
      async () =>
        (await count(bob, g, 'in:joined from the laptop, written on the phone')) === 1 &&
        (await count(phone, g, 'in:welcome')) === 1 &&
        (await count(laptop, g, 'in:welcome')) === 1,
    );
    expect(bob.groups.members(g)).toHaveLength(2);
  }, 300_000);
});

describe('hidden group peers reach my restored or linked device (decision 0060)', () => {
  /** Alice's laptop with Bob; Carol is Bob's contact only, so a hidden peer of Alice's in the group. */
  async function withHiddenCarol(
    laptop: Account,
    bob: Account,
    carol: Account,
    name = 'Carol',
  ): Promise<string> {
    await befriend(bob, carol, 'bob');
    const g = (await laptop.groups.create('Through Bob')).id;
    await laptop.groups.invite(g, 'Bob');
    await settle([laptop, bob]);
    await bob.groups.join(g);
    await settle([laptop, bob]);
    await bob.groups.invite(g, name);
    await settle([laptop, bob, carol]);
    await carol.groups.join(g);
    await until([laptop, bob, carol], () =>
      [laptop, bob, carol].every(
        (a) => a.groups.members(g).length === 3 && a.groups.members(g).every((m) => m.linked),
      ),
    );
    return g;
  }

  it('restored after the group was made: the phone is introduced to the hidden peer and both chat', async () => {
    const laptop = await world.account('Alice');
    const bob = await world.account('Bob');
    const carol = await world.account('Carol');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(laptop, bob, 'alice');
    const g = await withHiddenCarol(laptop, bob, carol);
    await settle([laptop, bob, carol]);
    const phone = await world.account('Alice');
    await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
    const all = [laptop, phone, bob, carol];
    await until(all, () => phone.groups.members(g).every((m) => m.linked), 120_000);
    // Carol is still no contact of Alice's, on either device.
    expect(phone.contacts().map((c) => c.alias)).toEqual(['Bob']);
    await phone.groups.send(g, 'phone to all');
    await until(all, async () => (await count(carol, g, 'in:phone to all')) === 1, 120_000);
    await carol.groups.send(g, 'Carol to all');
    await until(all, async () => (await count(phone, g, 'in:Carol to all')) === 1, 120_000);
    expect(carol.groups.members(g)).toHaveLength(3);
  }, 300_000);

  it('linked before the group: a peer who joined through Bob reaches the phone too', async () => {
    const { laptop, phone, bob, carol } = await aliceLinkedBeforeTheGroup();
    // Carol is a contact of Alice's there; Dave is only Bob's.
    const dave = await world.account('Dave');
    const all = [laptop, phone, bob, carol, dave];
    const g = await withHiddenCarol(laptop, bob, dave, 'Dave');
    await until(
      all,
      () => phone.groups.members(g).length === 3 && phone.groups.members(g).every((m) => m.linked),
      120_000,
    );
    await phone.groups.send(g, 'phone to Dave');
    await until(all, async () => (await count(dave, g, 'in:phone to Dave')) === 1, 120_000);
    await dave.groups.send(g, 'Dave to Alice');
    await until(
      all,
      async () =>
        (await count(phone, g, 'in:Dave to Alice')) === 1 &&
        (await count(laptop, g, 'in:Dave to Alice')) === 1,
      120_000,
    );
  }, 300_000);
});

describe('group sections from my other device: refusals change nothing (decision 0060)', () => {
  it('a forged event, a member key that is not its seed’s, a section naming another group', async () => {
    const { laptop, phone } = await aliceLinkedBeforeTheGroup();
    // A real section of a group the laptop made, as the phone would receive it, then changed.
    const made = (await laptop.groups.create('Forged ones')).id;
    const section = (await laptop.snapshot()).groups!.find((x) => toHex(x.id) === made)!;
    const groupsBefore = phone.groups.list().map((x) => x.id);
    const ops: StoreOp[] = [];
    const after: Array<() => void> = [];
    const sec = (edit: (m: CborMap) => void): Uint8Array => {
      const m = asMap(decodeCbor(encodeCbor(encodeSnapshotGroup(section))), 'section');
      edit(m);
      return encodeCbor(m);
    };
    const op = (bytes: Uint8Array, g = fromHex(made)): Extract<SyncOp, { t: 'group' }> => ({
      l: 1,
      d: new Uint8Array(8),
      t: 'group',
      g,
      sec: bytes,
    });
    const badSig = sec((m) => {
      const events = asArray(m.events, 'events', 10) as Uint8Array[];
      const e = asMap(decodeCbor(events[0]!), 'event');
      const sig = Uint8Array.from(e.sig as Uint8Array);
      sig[3] = sig[3]! ^ 1;
      e.sig = sig;
      events[0] = encodeCbor(e);
    });
    await expect(phone.groups.ownGroup(op(badSig), ops, after)).rejects.toThrow(VerificationError);
    const badKey = sec((m) => {
      const me = Uint8Array.from(m.me as Uint8Array);
      me.set(generateSignKeyPair(systemRandom).publicKey, 32);
      m.me = me;
    });
    await expect(phone.groups.ownGroup(op(badKey), ops, after)).rejects.toThrow(VerificationError);
    await expect(
      phone.groups.ownGroup(
        op(
          sec(() => undefined),
          new Uint8Array(16).fill(7),
        ),
        ops,
        after,
      ),
    ).rejects.toThrow(ProtocolError);
    await expect(phone.groups.ownGroup(op(new Uint8Array([0xa1, 0x01])), ops, after)).rejects.toThrow(
      DecodeError,
    );
    expect(ops).toEqual([]);
    expect(after).toEqual([]);
    expect(phone.groups.list().map((x) => x.id)).toEqual(groupsBefore);
  }, 240_000);
});
