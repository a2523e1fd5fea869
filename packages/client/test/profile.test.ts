// Display names and avatars sent to contacts end to end (account/profiles.ts, decision 0056):
// real accounts, a real relay on loopback. A malformed profile comes from a real session whose
// own engine writes it (what a modified client could send).
import { describe, expect, it } from 'vitest';
import { DecodeError, QuotaError, UsageError, type CborMap, type MessageKind } from '@parus/core';
import type { Account } from '../src/index.ts';
import type { ContactRecord } from '../src/records.ts';
import type { StoreOp } from '../src/store.ts';
import { KeptStore, befriend, relayWorld } from './support/group-harness.ts';
import { aliceOnTwoDevices, syncAll } from './support/device-harness.ts';

const world = relayWorld('profile');

/** A PNG's signature and IHDR (what the engine checks of an avatar), then some bytes. */
function png(width: number, height: number, extra = 64): Uint8Array {
  const b = new Uint8Array(33 + extra);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  new DataView(b.buffer).setUint32(16, width);
  new DataView(b.buffer).setUint32(20, height);
  b.set([8, 6, 0, 0, 0], 24);
  for (let i = 33; i < b.length; i++) b[i] = i & 255;
  return b;
}

interface Internals {
  contactsById: Map<string, ContactRecord>;
  lock: { run: <T>(f: () => Promise<T>) => Promise<T> };
  store: { batch(ops: StoreOp[]): Promise<void> };
  outbox: { control(c: ContactRecord, kind: MessageKind, body: CborMap): StoreOp };
}

async function sendControl(from: Account, alias: string, kind: MessageKind, body: CborMap): Promise<void> {
  const i = from as unknown as Internals;
  const c = [...i.contactsById.values()].find((x) => x.alias === alias)!;
  await i.lock.run(() => i.store.batch([i.outbox.control(c, kind, body)]));
  await from.sync();
}

const contact = (a: Account, alias: string) => a.contacts().find((c) => c.alias === alias)!;

describe('profiles', () => {
  it('Bob sees Alice’s new name and avatar; his alias for her stays', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'ally');
    const avatar = png(128, 96);
    const changed: string[] = [];
    bob.events.on('contact', (e) => void (e.change === 'profile' && changed.push(e.info.profileName!)));
    await alice.setProfile({ name: '陳愛麗', avatar });
    expect(alice.name).toBe('陳愛麗');
    expect(await alice.profile()).toEqual({ name: '陳愛麗', avatar });
    await syncAll(alice, bob);
    expect(contact(bob, 'ally')).toMatchObject({ alias: 'ally', profileName: '陳愛麗', avatar: true });
    expect(await bob.contactAvatar('ally')).toEqual(avatar);
    expect(changed).toContain('陳愛麗');
    // Removing the avatar reaches him too; the name stays.
    await alice.setProfile({ avatar: null });
    await syncAll(alice, bob);
    expect(contact(bob, 'ally').avatar).toBeUndefined();
    expect(contact(bob, 'ally').profileName).toBe('陳愛麗');
    expect(await bob.contactAvatar('ally')).toBeUndefined();
  });

  it('an offline Bob gets it later, and a new contact gets my current profile after the handshake', async () => {
    const alice = await world.account('Alice');
    const store = new KeptStore();
    const bob = await world.account('Bob', { store });
    await befriend(alice, bob, 'alice');
    await bob.close();
    world.closed(bob);
    await alice.setProfile({ name: 'Alice Lin', avatar: png(40, 40) });
    await alice.sync();
    const bobAgain = await world.reopen({ store });
    await syncAll(bobAgain, alice, bobAgain);
    expect(contact(bobAgain, 'alice').profileName).toBe('Alice Lin');
    expect(await bobAgain.contactAvatar('alice')).toEqual(png(40, 40));

    const carol = await world.account('Carol');
    await befriend(alice, carol, 'alice');
    await syncAll(alice, carol, alice, carol);
    expect(contact(carol, 'alice')).toMatchObject({ profileName: 'Alice Lin', avatar: true });
  });

  it('a bad name or avatar is refused when set and changes nothing', async () => {
    const alice = await world.account('Alice');
    await alice.setProfile({ name: 'Alice', avatar: png(10, 10) });
    await expect(alice.setProfile({ name: 'a\u202Eb' })).rejects.toThrow(UsageError);
    await expect(alice.setProfile({ avatar: new TextEncoder().encode('not an image') })).rejects.toThrow(
      DecodeError,
    );
    await expect(alice.setProfile({ avatar: png(512, 512) })).rejects.toThrow(QuotaError);
    await expect(alice.setProfile({ avatar: png(64, 64, 48 * 1024) })).rejects.toThrow(QuotaError);
    expect(await alice.profile()).toEqual({ name: 'Alice', avatar: png(10, 10) });
    expect(alice.name).toBe('Alice');
  });

  it('a malformed profile from a contact is refused and changes nothing', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    await alice.setProfile({ name: 'Alice' });
    await syncAll(alice, bob);
    const errors: string[] = [];
    bob.events.on('error', (e) => errors.push(e.error.name));
    await sendControl(alice, 'Bob', 'profile', { name: 'Mallory', avatar: new Uint8Array(2000) });
    await sendControl(alice, 'Bob', 'profile', { name: 'x\u0007y' });
    await sendControl(alice, 'Bob', 'profile', { name: 'Mallory', avatar: png(4096, 4096) });
    await syncAll(bob, alice);
    expect(errors).toContain('DecodeError');
    expect(errors).toContain('QuotaError');
    expect(contact(bob, 'alice').profileName).toBe('Alice');
    expect(contact(bob, 'alice').avatar).toBeUndefined();
    expect(await bob.contactAvatar('alice')).toBeUndefined();
  });

  it('my other device takes the profile I set on this one', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices(world);
    await phone.setProfile({ name: 'Alice on the go', avatar: png(200, 200) });
    await syncAll(phone, laptop, bob);
    expect(laptop.name).toBe('Alice on the go');
    expect(await laptop.profile()).toEqual({ name: 'Alice on the go', avatar: png(200, 200) });
    expect(contact(bob, 'alice').profileName).toBe('Alice on the go');
  });
});
