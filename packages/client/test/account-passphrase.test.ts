// The account passphrase changed (account/account-passphrase.ts, decision 0061) and the ops of
// mine that lost a fork signed again: real accounts, a real relay on loopback.
import { describe, expect, it } from 'vitest';
import { AuthError, UsageError, toHex } from '@parus/core';
import type { Account } from '../src/index.ts';
import { relayWorld } from './support/group-harness.ts';
import { LIGHT, PASS, aliceOnTwoDevices as twoDevices, syncAll } from './support/device-harness.ts';

const world = relayWorld('account-passphrase');
const NEW = 'a new passphrase 四五六';

const logHex = async (a: Account): Promise<string> => toHex((await a.devices.logBytes())!);
const idOf = async (a: Account): Promise<string> => (await a.devices.list()).find((d) => d.current)!.id;
const current = async (a: Account): Promise<string[]> =>
  (await a.devices.list())
    .filter((d) => !d.revoked)
    .map((d) => d.name)
    .sort();

describe('changing the account passphrase', () => {
  it('a wrong old passphrase or a short new one changes nothing; after the change only the new one counts, on both devices', async () => {
    const { laptop, phone, bob } = await twoDevices(world);
    const before = await logHex(laptop);
    await expect(laptop.changeAccountPassphrase('not the passphrase', NEW, { cost: LIGHT })).rejects.toThrow(
      AuthError,
    );
    await expect(laptop.changeAccountPassphrase(PASS, 'short', { cost: LIGHT })).rejects.toThrow(UsageError);
    expect(await logHex(laptop)).toBe(before);
    expect(await laptop.devices.isAccountPassphrase(PASS)).toBe(true);

    expect(await laptop.changeAccountPassphrase(PASS, NEW, { cost: LIGHT })).toBe('account');
    expect(await laptop.devices.isAccountPassphrase(NEW)).toBe(true);
    expect(await laptop.devices.isAccountPassphrase(PASS)).toBe(false);
    // The old passphrase revokes nothing any more.
    const phoneId = await idOf(phone);
    const changed = await logHex(laptop);
    await expect(laptop.revokeDevice(phoneId, PASS)).rejects.toThrow(AuthError);
    expect(await logHex(laptop)).toBe(changed);

    // The op reaches the phone, which takes it: same log, same account key.
    await syncAll(laptop, phone, laptop, phone);
    expect(await logHex(phone)).toBe(changed);
    expect(await phone.devices.isAccountPassphrase(NEW)).toBe(true);
    // Its sealed secrets are still under the old key until it is given the old passphrase
    // (the CLI's store passphrase at its next command).
    expect((await phone.settleDevices([NEW])).sealedBehind).toBe(true);
    expect(await phone.settleDevices([PASS])).toMatchObject({ resealed: true, sealedBehind: false });
    // A thief who knows the old passphrase cannot revoke from the phone either.
    const laptopId = await idOf(laptop);
    await expect(phone.revokeDevice(laptopId, PASS)).rejects.toThrow(AuthError);
    expect(await logHex(phone)).toBe(changed);
    // With the new one the phone revokes the laptop, and tells Bob with the pre-rotated identity,
    // which it opens with the new account key (sealed again above).
    await phone.revokeDevice(laptopId, NEW);
    expect(await current(phone)).toEqual(['phone']);
    await syncAll(phone, bob, phone, bob);
    expect(bob.contactDeviceList('alice')).toHaveLength(1);
  });

  it('the device that changed it opens its sealed next identities and group keys with the new key', async () => {
    const { laptop, phone, bob } = await twoDevices(world);
    const group = await laptop.groups.create('birds');
    await laptop.groups.invite(group.id, 'Bob');
    await syncAll(laptop, bob);
    await laptop.changeAccountPassphrase(PASS, NEW, { cost: LIGHT });
    await syncAll(laptop, phone);
    // The group's next member key opens with the new account key (sealed again in the change).
    expect(await laptop.rotateGroupMemberKeys(NEW)).toBe(1);
    // The revocation opens the sealed next identity toward Bob with the new key: my identity
    // toward him becomes the committed one (it would be a VerificationError under the old key).
    const before = laptop.safetyNumber('Bob').digits;
    await laptop.revokeDevice(await idOf(phone), NEW);
    expect(laptop.safetyNumber('Bob').digits).not.toBe(before);
    expect(await current(laptop)).toEqual(['laptop']);
  });

  it('a stolen device, revoked and then the passphrase changed: what it signs with the old passphrase lands nowhere', async () => {
    const { laptop, phone } = await twoDevices(world);
    const laptopId = await idOf(laptop);
    await laptop.revokeDevice(await idOf(phone), PASS);
    await laptop.changeAccountPassphrase(PASS, NEW, { cost: LIGHT });
    const kept = await logHex(laptop);
    // The thief's phone has not heard of either; with the old passphrase it revokes the laptop
    // on its own log and syncs.
    await phone.revokeDevice(laptopId, PASS);
    await syncAll(phone, laptop, phone, laptop);
    expect(await logHex(laptop)).toBe(kept);
    // Its log handed over directly loses the fork to the passphrase change: nothing changes.
    const merged = await laptop.devices.mergeLog((await phone.devices.logBytes())!);
    expect(merged.changed).toBe(false);
    expect(await logHex(laptop)).toBe(kept);
    expect(await current(laptop)).toEqual(['laptop']);
    expect(await laptop.devices.pendingOps()).toEqual([]);
  });

  it('on a device where it was changed elsewhere, old + new catch this device up without a second op', async () => {
    const { laptop, phone } = await twoDevices(world);
    await laptop.changeAccountPassphrase(PASS, NEW, { cost: LIGHT });
    await syncAll(laptop, phone, laptop, phone);
    const log = await logHex(phone);
    // Neither is the account passphrase: refused.
    await expect(
      phone.changeAccountPassphrase('wrong old one', 'wrong new one', { cost: LIGHT }),
    ).rejects.toThrow(AuthError);
    expect(await phone.changeAccountPassphrase(PASS, NEW, { cost: LIGHT })).toBe('device');
    expect(await logHex(phone)).toBe(log);
    expect((await phone.settleDevices([])).sealedBehind).toBe(false);
  });
});

describe('ops that lost a fork between my devices', () => {
  /** Alice on four devices (no contacts): a laptop, then a phone, a tablet and a desk restored from it. */
  async function fourDevices(): Promise<Account[]> {
    const laptop = await world.account('Alice');
    await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
    const all = [laptop];
    for (const name of ['phone', 'tablet', 'desk']) {
      const d = await world.account('Alice');
      await d.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: name });
      await d.sync();
      all.push(d);
      await syncAll(...all);
    }
    await syncAll(...all);
    const logs = new Set(await Promise.all(all.map(logHex)));
    expect(logs.size).toBe(1);
    return all;
  }

  it('two devices revoke different devices while offline from each other: the loser signs its revoke again, both logs end equal', async () => {
    const [laptop, phone, tablet, desk] = await fourDevices();
    const tabletId = await idOf(tablet!);
    const deskId = await idOf(desk!);
    // Neither has synced since: both extend the same head.
    await laptop!.revokeDevice(tabletId, PASS);
    await phone!.revokeDevice(deskId, PASS);
    await syncAll(laptop!, phone!, laptop!, phone!);
    const waiting = [
      (await laptop!.devices.pendingOps()).length,
      (await phone!.devices.pendingOps()).length,
    ].sort();
    expect(waiting).toEqual([0, 1]);
    // The op waits for the passphrase; a wrong one signs nothing.
    for (const d of [laptop!, phone!]) expect((await d.settleDevices(['not it at all'])).resigned).toBe(0);
    const settled = [await laptop!.settleDevices([PASS]), await phone!.settleDevices([PASS])];
    expect(settled.map((s) => s.resigned).sort()).toEqual([0, 1]);
    expect(settled.every((s) => s.waiting === 0)).toBe(true);
    await syncAll(laptop!, phone!, laptop!, phone!);
    expect(await logHex(laptop!)).toBe(await logHex(phone!));
    for (const d of [laptop!, phone!]) expect(await current(d)).toEqual(['laptop', 'phone']);
  });

  it('two devices revoke the same device at once: the lost revoke no longer holds and is dropped', async () => {
    const [laptop, phone, tablet] = await fourDevices();
    const tabletId = await idOf(tablet!);
    await laptop!.revokeDevice(tabletId, PASS);
    await phone!.revokeDevice(tabletId, PASS);
    await syncAll(laptop!, phone!, laptop!, phone!);
    expect((await laptop!.devices.pendingOps()).length + (await phone!.devices.pendingOps()).length).toBe(0);
    expect(await logHex(laptop!)).toBe(await logHex(phone!));
    expect(await current(laptop!)).toEqual(['desk', 'laptop', 'phone']);
  });

  it('a revoke beside a passphrase change loses whatever the hashes, and is signed again with the new passphrase', async () => {
    const [laptop, phone, tablet] = await fourDevices();
    await laptop!.changeAccountPassphrase(PASS, NEW, { cost: LIGHT });
    await phone!.revokeDevice(await idOf(tablet!), PASS);
    await syncAll(laptop!, phone!, laptop!, phone!);
    expect(await phone!.devices.pendingOps()).toHaveLength(1);
    // The old passphrase no longer signs it.
    expect((await phone!.settleDevices([PASS])).resigned).toBe(0);
    expect((await phone!.settleDevices([NEW])).resigned).toBe(1);
    await syncAll(phone!, laptop!, phone!, laptop!);
    expect(await logHex(laptop!)).toBe(await logHex(phone!));
    expect(await current(laptop!)).toEqual(['desk', 'laptop', 'phone']);
    expect(await laptop!.devices.isAccountPassphrase(NEW)).toBe(true);
  });
});
