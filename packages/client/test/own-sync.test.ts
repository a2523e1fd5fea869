// The own-device side of multi-device (account/own-devices.ts, decision 0039): each device's
// inbox and the sessions between a user's own devices, and the sync operations that ride them
// (sent copies, 已讀, deletes, 收回, aliases, revocation); real accounts, a real relay on loopback.
import { describe, expect, it } from 'vitest';
import { decodeDeviceInboxCard } from '@parus/core';
import type { Account } from '../src/index.ts';
import type { ContactSetup } from '../src/account/contact-setup.ts';
import { befriend, relayWorld } from './support/group-harness.ts';
import { LIGHT, PASS, aliceOnTwoDevices as twoDevices, syncAll, texts } from './support/device-harness.ts';

const world = relayWorld('own-sync');
const account = (name: string): Promise<Account> => world.account(name);
const aliceOnTwoDevices = () => twoDevices(world);

describe('own devices', () => {
  it('a restored device opens a session with the old one, whose log takes its add op: both logs end equal', async () => {
    const { laptop, phone } = await aliceOnTwoDevices();
    expect(laptop.ownSessions().map((s) => [s.name, s.active])).toEqual([['phone', true]]);
    expect(phone.ownSessions().map((s) => [s.name, s.active])).toEqual([['laptop', true]]);
    const ids = (a: Account) => a.devices.list().then((l) => l.map((d) => [d.id, d.name, d.revoked]));
    expect(await ids(laptop)).toEqual(await ids(phone));
    expect(await ids(laptop)).toHaveLength(2);
  });

  it('a message sent on one device shows on the other as mine, once; 收回 and 已讀 follow', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const sent = await laptop.sendText('Bob', 'from the laptop');
    await syncAll(laptop, phone, bob, phone);
    expect((await texts(phone, 'Bob')).filter((t) => t === 'out:from the laptop')).toHaveLength(1);
    expect((await texts(bob, 'alice')).filter((t) => t === 'in:from the laptop')).toHaveLength(1);
    // The copy keeps its place in the conversation: Bob's answer comes after it on both devices.
    await bob.sendText('alice', 'answer');
    await syncAll(bob, laptop, phone);
    for (const a of [laptop, phone])
      expect((await texts(a, 'Bob')).slice(-2)).toEqual(['out:from the laptop', 'in:answer']);
    expect(await phone.unreadCount('Bob')).toBe(1);
    await laptop.markRead('Bob');
    await syncAll(laptop, phone);
    expect(await phone.unreadCount('Bob')).toBe(0);

    // 收回 on the phone takes the laptop's message back everywhere.
    await phone.unsend('Bob', sent.id);
    await syncAll(phone, laptop, bob);
    for (const [a, alias] of [
      [laptop, 'Bob'],
      [phone, 'Bob'],
      [bob, 'alice'],
    ] as const)
      expect((await a.history(alias)).find((m) => m.id === sent.id)?.unsent).toBe(true);
    // Again and again: still once.
    await syncAll(phone, laptop, phone);
    expect((await phone.history('Bob')).filter((m) => m.id === sent.id)).toHaveLength(1);
  });

  it('delete for me and delete of a conversation reach the other device; a late copy stays deleted', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const mine = await phone.sendText('Bob', 'delete me');
    await bob.sendText('alice', 'keep me');
    await syncAll(phone, bob, laptop, phone);
    expect(await texts(laptop, 'Bob')).toContain('out:delete me');
    await laptop.deleteMessage('Bob', mine.id);
    expect(await texts(laptop, 'Bob')).not.toContain('out:delete me');
    await syncAll(laptop, phone);
    expect(await texts(phone, 'Bob')).not.toContain('out:delete me');
    expect(await texts(phone, 'Bob')).toContain('in:keep me');
    // Bob still has it: a delete for me is mine only.
    expect(await texts(bob, 'alice')).toContain('in:delete me');

    // Bob writes; the laptop gets it and deletes the whole conversation before the phone has it.
    await bob.sendText('alice', 'late one');
    await syncAll(bob);
    await laptop.sync();
    expect(await texts(laptop, 'Bob')).toContain('in:late one');
    await laptop.deleteConversation('Bob');
    expect(await laptop.history('Bob')).toEqual([]);
    await syncAll(laptop, phone, laptop, phone);
    // Whichever came first on the phone (Bob's copy or the delete), nothing of it shows.
    expect(await phone.history('Bob')).toEqual([]);
    // What comes after the delete shows on both.
    await bob.sendText('alice', 'after');
    await syncAll(bob, laptop, phone);
    expect(await texts(laptop, 'Bob')).toEqual(['in:after']);
    expect(await texts(phone, 'Bob')).toEqual(['in:after']);
  });

  it('two devices renaming a contact at once end with the same alias; mutes and pins sync', async () => {
    const { laptop, phone } = await aliceOnTwoDevices();
    await laptop.renameContact('Bob', 'Bobby');
    await phone.renameContact('Bob', 'Robert');
    await syncAll(laptop, phone, laptop, phone);
    const a = laptop.contacts().map((c) => c.alias);
    const b = phone.contacts().map((c) => c.alias);
    expect(a).toEqual(b);
    expect(['Bobby', 'Robert']).toContain(a[0]);
    const alias = a[0]!;
    await laptop.setMuted(alias, 2_000_000_000_000);
    await phone.setPinned(alias, true);
    await syncAll(laptop, phone, laptop);
    for (const d of [laptop, phone])
      expect(d.chatSettings(alias)).toEqual({ mutedUntil: 2_000_000_000_000, pinned: true });
  });

  it('after a revoke the devices drop their session with the revoked one and send it nothing; what it sends changes nothing', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const phoneId = (await phone.devices.list()).find((d) => d.current)!.id;
    await laptop.revokeDevice(phoneId, PASS);
    expect(laptop.ownSessions()).toEqual([]);
    await laptop.sendText('Bob', 'not for the phone');
    await syncAll(laptop, phone, bob);
    expect(await texts(phone, 'Bob')).not.toContain('out:not for the phone');
    await phone.renameContact('Bob', 'Thief').catch(() => undefined);
    await syncAll(phone, laptop);
    expect(laptop.contacts().map((c) => c.alias)).toEqual(['Bob']);
  });
});

describe('own devices: new contacts', () => {
  it('a contact made on one device becomes a contact of the other, which then chats with it', async () => {
    const { laptop, phone, bob } = await aliceOnTwoDevices();
    const carol = await account('Carol');
    await befriend(laptop, carol, 'alice');
    await syncAll(laptop, carol, laptop, phone, carol, phone, laptop, carol, phone);
    expect(
      phone
        .contacts()
        .map((c) => c.alias)
        .sort(),
    ).toEqual(['Bob', 'Carol']);
    await phone.sendText('Carol', 'hello from the phone');
    await syncAll(phone, carol, laptop);
    expect(await texts(carol, 'alice')).toContain('in:hello from the phone');
    // The laptop has it too, as mine.
    expect(await texts(laptop, 'Carol')).toContain('out:hello from the phone');
    expect(bob.contacts()).toHaveLength(1);
  });
});

describe('own devices: refusals', () => {
  it('a stranger that learnt my inbox card cannot open a session with it, nor push a log of another account', async () => {
    const { laptop } = await aliceOnTwoDevices();
    const card = (await laptop.snapshot()).inboxes![0]!;
    const refused: string[] = [];
    laptop.events.on('error', ({ error }) => refused.push(error.name));
    const before = laptop.ownSessions();
    const logBefore = await laptop.devices.list();

    // Mallory has no device log: her request names no device of Alice's account.
    const mallory = await account('Mallory');
    const inbox = decodeDeviceInboxCard(card);
    const setupOf = (a: Account) => (a as unknown as { setup: ContactSetup }).setup;
    await setupOf(mallory).answerInbox(inbox, 'laptop');
    await syncAll(mallory, laptop);
    // Eve has a device log of her own account: merging it is refused too.
    const eve = await account('Eve');
    await eve.devices.ensureLog({ passphrase: 'eve', cost: LIGHT, name: 'eve' });
    await setupOf(eve).answerInbox(inbox, 'laptop');
    await syncAll(eve, laptop);

    expect(refused).toEqual(['AuthError', 'ProtocolError']);
    expect(laptop.ownSessions()).toEqual(before);
    expect(await laptop.devices.list()).toEqual(logBefore);
  });
});
