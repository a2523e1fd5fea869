// The contact side of multi-device (account/contact-devices.ts, decision 0038): device sets
// toward contacts, one session per device pair, a restored device introducing itself, and
// revocation with pre-rotation; real accounts over a real relay on loopback.
import { describe, expect, it } from 'vitest';
import {
  VerificationError,
  createDeviceSet,
  decodeDeviceSet,
  encodeDeviceSet,
  generateSignKeyPair,
  recertifyDeviceSetEntry,
  systemRandom,
  type ParusError,
} from '@parus/core';
import type { Account } from '../src/index.ts';
import type { ContactDevices } from '../src/account/contact-devices.ts';
import type { ContactRecord } from '../src/records.ts';
import { befriend, relayWorld } from './support/group-harness.ts';
import { LIGHT, PASS, aliceOnTwoDevices as twoDevices, syncAll, texts } from './support/device-harness.ts';

const world = relayWorld('contact-devices');
const account = (name: string): Promise<Account> => world.account(name);
const aliceOnTwoDevices = () => twoDevices(world);

describe('contacts see one person with several devices', () => {
  it('a restored device chats with an existing contact both ways; the old one keeps working; the safety number stays', async () => {
    const laptop = await account('Alice');
    const bob = await account('Bob');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(laptop, bob, 'alice');
    await syncAll(laptop, bob);
    const safety = bob.safetyNumber('alice').digits;
    expect(bob.contactDeviceList('alice')).toHaveLength(1);

    const phone = await account('Alice');
    await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
    expect(phone.contacts()).toHaveLength(0);
    await phone.sync();
    expect(phone.contacts().map((c) => c.alias)).toEqual(['Bob']);
    expect(await phone.restoredContacts()).toEqual([]);
    await syncAll(bob, phone);
    expect(bob.contactDeviceList('alice')).toHaveLength(2);
    expect(bob.safetyNumber('alice').digits).toBe(safety);
    expect(phone.safetyNumber('Bob').digits).toBe(laptop.safetyNumber('Bob').digits);

    // From the new device to Bob, and Bob's reply to both of Alice's devices.
    const sent = await phone.sendText('Bob', 'from the phone');
    await syncAll(phone, bob, phone);
    expect(await texts(bob, 'alice')).toContain('in:from the phone');
    expect((await phone.history('Bob')).find((m) => m.id === sent.id)?.status).toBe('delivered');
    await bob.sendText('alice', 'hello both');
    await syncAll(bob, phone, laptop);
    expect((await texts(phone, 'Bob')).filter((t) => t === 'in:hello both')).toHaveLength(1);
    expect((await texts(laptop, 'Bob')).filter((t) => t === 'in:hello both')).toHaveLength(1);
    // The old device still writes to Bob.
    await laptop.sendText('Bob', 'still the laptop');
    await syncAll(laptop, bob);
    expect(await texts(bob, 'alice')).toContain('in:still the laptop');
  });

  it('a contact with two devices gets each message once on each, and both replies reach me once', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    for (let i = 0; i < 3; i++) await bob.sendText('alice', `m${i}`);
    await syncAll(bob, laptop, phone, bob);
    for (const a of [laptop, phone])
      expect((await texts(a, 'Bob')).filter((t) => t.startsWith('in:m'))).toEqual([
        'in:m0',
        'in:m1',
        'in:m2',
      ]);
    // Every copy's receipt came back: nothing waits in Bob's outbox.
    expect((await bob.outboxSize()).relayed).toBe(0);
    expect(
      (await bob.history('alice')).filter((m) => m.dir === 'out').every((m) => m.status === 'delivered'),
    ).toBe(true);
    // The laptop still knows only the set it signed before the phone's (seq 1): signed again it
    // is seq 2, which Bob holds already from the phone. Bob takes it for the laptop's own entry
    // only (decision 0062): no error, and the phone is not forgotten.
    const errors: ParusError[] = [];
    bob.events.on('error', ({ error }) => errors.push(error));
    const devices = bob.contactDeviceList('alice');
    await laptop.republishDeviceSet('Bob');
    await syncAll(laptop, bob);
    expect(errors).toEqual([]);
    expect(bob.contactDeviceList('alice')).toEqual(devices);
    await laptop.sendText('Bob', 'from laptop');
    await phone.sendText('Bob', 'from phone');
    await syncAll(laptop, phone, bob);
    const got = await texts(bob, 'alice');
    expect(got.filter((t) => t === 'in:from laptop')).toHaveLength(1);
    expect(got.filter((t) => t === 'in:from phone')).toHaveLength(1);
  });

  it('a third device restored from the first one’s backup while the second exists: Bob reaches all three', async () => {
    // Issue 12's bug: the tablet extends the laptop's set (seq 1) to seq 2, the seq Bob holds
    // from the phone, so Bob refused its introduction (ReplayError) and never knew the tablet.
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const tablet = await account('Alice');
    await tablet.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'tablet' });
    const errors: ParusError[] = [];
    bob.events.on('error', ({ error }) => errors.push(error));
    await tablet.sync();
    await syncAll(bob, tablet, laptop, phone, bob);
    expect(errors).toEqual([]);
    expect(bob.contactDeviceList('alice')).toHaveLength(3);
    await bob.sendText('alice', 'to all three');
    await syncAll(bob, laptop, phone, tablet, bob);
    for (const a of [laptop, phone, tablet])
      expect((await texts(a, 'Bob')).filter((t) => t === 'in:to all three')).toHaveLength(1);
    expect((await bob.outboxSize()).relayed).toBe(0);
    // Each of them writes to Bob, and a later set from the tablet (which never heard of the
    // phone's) does not make Bob forget the phone.
    await tablet.republishDeviceSet('Bob');
    await syncAll(tablet, bob);
    expect(bob.contactDeviceList('alice')).toHaveLength(3);
    for (const [a, t] of [
      [laptop, 'from laptop'],
      [phone, 'from phone'],
      [tablet, 'from tablet'],
    ] as const)
      await a.sendText('Bob', t);
    await syncAll(laptop, phone, tablet, bob);
    const got = await texts(bob, 'alice');
    for (const t of ['from laptop', 'from phone', 'from tablet'])
      expect(got.filter((x) => x === `in:${t}`)).toHaveLength(1);
  });

  it('revocation: the contact takes the pre-rotated identity and never encrypts to the revoked device again', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const before = bob.safetyNumber('alice').digits;
    const laptopId = (await phone.devices.list()).find((d) => d.name === 'laptop')!.id;
    await phone.revokeDevice(laptopId, PASS);
    await syncAll(phone, bob);
    // Bob took the set signed by the committed next identity: one device left, a new identity.
    expect(bob.contactDeviceList('alice').map((d) => d.id)).toEqual(
      (await phone.devices.list()).filter((d) => d.current).map((d) => d.id),
    );
    expect(bob.safetyNumber('alice').digits).not.toBe(before);
    expect(bob.safetyNumber('alice').digits).toBe(phone.safetyNumber('Bob').digits);

    // Bob's messages now reach the phone only; the laptop's queue gets nothing new.
    const laptopBefore = await texts(laptop, 'Bob');
    await bob.sendText('alice', 'after the revocation');
    await syncAll(bob, phone, laptop, bob);
    expect(await texts(phone, 'Bob')).toContain('in:after the revocation');
    expect(await texts(laptop, 'Bob')).toEqual(laptopBefore);
    expect((await bob.outboxSize()).relayed).toBe(0);

    // The revoked laptop writing late: Bob has no session with it any more; nothing is stored.
    const errors: ParusError[] = [];
    bob.events.on('error', ({ error }) => errors.push(error));
    await laptop.sendText('Bob', 'late from the laptop');
    await syncAll(laptop, bob);
    expect(await texts(bob, 'alice')).not.toContain('in:late from the laptop');
    expect(errors.length).toBeGreaterThan(0);

    // A device set signed by the old identity (the laptop still holds it) cannot reach Bob
    // through a session any more, and Bob's view stays as it is.
    errors.length = 0;
    await laptop.republishDeviceSet('Bob');
    await syncAll(laptop, bob);
    expect(bob.contactDeviceList('alice')).toHaveLength(1);
    expect(errors.length).toBeGreaterThan(0);

    // Phone and Bob keep chatting both ways.
    await phone.sendText('Bob', 'still here');
    await syncAll(phone, bob, phone);
    expect(await texts(bob, 'alice')).toContain('in:still here');
  });

  it('a third device revoked from the laptop after the phone used a seq: Bob drops it only, and keeps chatting with both', async () => {
    // Issue 12 (decision 0067): the laptop's own set was seq 1, the phone's introduction seq 2.
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const tablet = await account('Alice');
    await tablet.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'tablet' });
    await tablet.sync();
    await syncAll(bob, tablet, laptop, phone, bob, laptop, phone);
    expect(bob.contactDeviceList('alice')).toHaveLength(3);
    const tabletId = (await laptop.devices.list()).find((d) => d.name === 'tablet')!.id;
    const before = bob.safetyNumber('alice').digits;
    const errors: ParusError[] = [];
    bob.events.on('error', ({ error }) => errors.push(error));
    await laptop.revokeDevice(tabletId, PASS);
    await syncAll(laptop, phone, bob, laptop, phone);
    expect(errors).toEqual([]);
    const current = (await laptop.devices.list()).filter((d) => !d.revoked).map((d) => d.id);
    expect(current).toHaveLength(2);
    expect(
      bob
        .contactDeviceList('alice')
        .map((d) => d.id)
        .sort(),
    ).toEqual([...current].sort());
    // The phone took the rotated identity: the same safety number as Bob's, a new one.
    expect(bob.safetyNumber('alice').digits).not.toBe(before);
    expect(phone.safetyNumber('Bob').digits).toBe(bob.safetyNumber('alice').digits);
    expect(laptop.safetyNumber('Bob').digits).toBe(bob.safetyNumber('alice').digits);

    // Both ways with both devices; the tablet gets nothing new.
    const tabletBefore = await texts(tablet, 'Bob');
    await bob.sendText('alice', 'after the revocation');
    await phone.sendText('Bob', 'from phone');
    await laptop.sendText('Bob', 'from laptop');
    await syncAll(bob, laptop, phone, tablet, bob);
    for (const a of [laptop, phone])
      expect((await texts(a, 'Bob')).filter((t) => t === 'in:after the revocation')).toHaveLength(1);
    expect(await texts(tablet, 'Bob')).toEqual(tabletBefore);
    const got = await texts(bob, 'alice');
    expect(got.filter((t) => t === 'in:from phone')).toHaveLength(1);
    expect(got.filter((t) => t === 'in:from laptop')).toHaveLength(1);
    expect((await bob.outboxSize()).relayed).toBe(0);

    // A set the phone signs now is by the new identity and above the laptop's: Bob takes it.
    await phone.republishDeviceSet('Bob');
    await syncAll(phone, bob);
    expect(errors).toEqual([]);
    expect(bob.contactDeviceList('alice')).toHaveLength(2);
  }, 240_000);

  it('a rotation over sync that the held set does not commit to, or not signed by the key it brings, changes nothing', async () => {
    const { laptop, phone } = await aliceOnTwoDevices();
    const cd = (laptop as unknown as { contactDevices: ContactDevices }).contactDevices;
    const c = (laptop as unknown as { byAlias(a: string): ContactRecord }).byAlias('Bob');
    const forger = generateSignKeyPair(systemRandom);
    const mine = decodeDeviceSet(c.mySet!);
    const forged = encodeDeviceSet(
      createDeviceSet({
        identity: forger,
        seq: mine.seq + 1,
        devices: mine.devices.map((e) => recertifyDeviceSetEntry(e, forger, Date.now())),
        next: new Uint8Array(32).fill(7),
      }),
    );
    const all = (): boolean => true;
    // Signed by the key it brings, but not the committed next identity.
    expect(() => cd.mergeMine(c, { set: forged, id: forger.secretKey }, all)).toThrow(VerificationError);
    // The set of one key, the identity secret of another.
    const other = generateSignKeyPair(systemRandom);
    expect(() => cd.mergeMine(c, { set: forged, id: other.secretKey }, all)).toThrow(VerificationError);
    // Nothing changed: the laptop still speaks with its identity, Bob and the phone agree.
    const after = (laptop as unknown as { byAlias(a: string): ContactRecord }).byAlias('Bob');
    expect(after.identity).toEqual(c.identity);
    expect(after.mySet).toEqual(c.mySet);
    expect(laptop.safetyNumber('Bob').digits).toBe(phone.safetyNumber('Bob').digits);
  }, 240_000);

  it('a snapshot contact whose set is not by its identity waits, with an error; sync still ends', async () => {
    const laptop = await account('Alice');
    const bob = await account('Bob');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    await befriend(laptop, bob, 'alice');
    await syncAll(laptop, bob);
    const snapshot = await laptop.snapshot();
    const bad = {
      ...snapshot,
      contacts: snapshot.contacts.map((c) => ({
        ...c,
        theirIdentity: generateSignKeyPair(systemRandom).publicKey,
      })),
    };
    const phone = await account('Alice');
    await phone.restoreSnapshot(bad, { passphrase: PASS, deviceName: 'phone' });
    const errors: ParusError[] = [];
    phone.events.on('error', ({ error }) => errors.push(error));
    await phone.sync();
    expect(phone.contacts()).toHaveLength(0);
    expect(await phone.restoredContacts()).toHaveLength(1);
    expect(errors.some((e) => e instanceof VerificationError)).toBe(true);
  });

  it('refuses an introduction whose set another identity signed, and changes nothing', async () => {
    const { laptop, bob } = await aliceOnTwoDevices();
    // A thief with Alice's snapshot (and passphrase) but another identity toward Bob: the set
    // it signs and its introduction are not by the identity Bob knows.
    const snapshot = await laptop.snapshot();
    const forged = {
      ...snapshot,
      contacts: snapshot.contacts.map((c) => ({
        ...c,
        identity: generateSignKeyPair(systemRandom).secretKey,
      })),
    };
    const thief = await account('Alice');
    await thief.restoreSnapshot(forged, { passphrase: PASS, deviceName: 'thief' });
    const errors: ParusError[] = [];
    bob.events.on('error', ({ error }) => errors.push(error));
    await thief.sync();
    await syncAll(bob);
    expect(bob.contactDeviceList('alice')).toHaveLength(2);
    expect(errors.some((e) => e instanceof VerificationError)).toBe(true);
  });
});
