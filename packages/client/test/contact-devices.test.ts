// The contact side of multi-device (account/contact-devices.ts, decision 0038): device sets
// toward contacts, one session per device pair, a restored device introducing itself, and
// revocation with pre-rotation; real accounts over a real relay on loopback.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  VerificationError,
  generateSignKeyPair,
  initCrypto,
  systemRandom,
  type ParusError,
} from '@parus/core';
import { startRelay } from '@parus/relay';
import { Account, MemoryStore } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { befriend } from './support/group-harness.ts';

type Relay = Awaited<ReturnType<typeof startRelay>>;
let relay: Relay;
let dataDir: string;
const open: Account[] = [];
const LIGHT = { opsLimit: 1, memLimit: 8192 };
const PASS = 'alice passphrase 一二三';

beforeAll(async () => {
  await initCrypto();
  dataDir = mkdtempSync(join(tmpdir(), 'parus-contact-devices-'));
  relay = await startRelay({ host: '127.0.0.1', port: 0, dataDir });
});

afterAll(async () => {
  for (const a of open) await a.close();
  await relay.close();
  rmSync(dataDir, { recursive: true, force: true });
});

async function account(name: string): Promise<Account> {
  const a = await Account.create({
    store: new MemoryStore(),
    transport: nodeTransport(),
    name,
    relay: relay.address,
  });
  open.push(a);
  return a;
}

async function syncAll(...accounts: Account[]): Promise<void> {
  for (let i = 0; i < 2; i++) for (const a of accounts) await a.sync();
}

async function texts(a: Account, alias: string): Promise<string[]> {
  return (await a.history(alias)).map((m) => `${m.dir}:${m.text}`);
}

/** Alice (laptop) and Bob as contacts, then Alice restored from a snapshot as a second device. */
async function aliceOnTwoDevices(): Promise<{ laptop: Account; phone: Account; bob: Account }> {
  const laptop = await account('Alice');
  const bob = await account('Bob');
  await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
  await befriend(laptop, bob, 'alice');
  await syncAll(laptop, bob); // the device sets go both ways
  const phone = await account('Alice');
  await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
  await phone.sync(); // introduces the phone to Bob's device
  await syncAll(bob, phone, laptop);
  return { laptop, phone, bob };
}

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
    await laptop.sendText('Bob', 'from laptop');
    await phone.sendText('Bob', 'from phone');
    await syncAll(laptop, phone, bob);
    const got = await texts(bob, 'alice');
    expect(got.filter((t) => t === 'in:from laptop')).toHaveLength(1);
    expect(got.filter((t) => t === 'in:from phone')).toHaveLength(1);
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

    // A device set signed by the old identity (the laptop still holds it) is refused.
    errors.length = 0;
    await laptop.republishDeviceSet('Bob');
    await syncAll(laptop, bob);
    expect(bob.contactDeviceList('alice')).toHaveLength(1);

    // Phone and Bob keep chatting both ways.
    await phone.sendText('Bob', 'still here');
    await syncAll(phone, bob, phone);
    expect(await texts(bob, 'alice')).toContain('in:still here');
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
