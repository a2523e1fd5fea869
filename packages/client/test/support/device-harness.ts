// What the multi-device tests share (contact-devices, own-sync): the account passphrase and
// its least Argon2id cost, syncing several accounts, a conversation as lines, and Alice on two
// devices (a laptop befriended with Bob, a phone restored from the laptop's snapshot).
import type { Account } from '../../src/index.ts';
import { befriend, type relayWorld } from './group-harness.ts';

/** libsodium's least Argon2id cost: these tests are about devices, not the cost. */
export const LIGHT = { opsLimit: 1, memLimit: 8192 };
export const PASS = 'alice passphrase 一二三';

/** Two rounds of `sync` over the accounts, in the order given. */
export async function syncAll(...accounts: Account[]): Promise<void> {
  for (let i = 0; i < 2; i++) for (const a of accounts) await a.sync();
}

/** A 1:1 conversation as `dir:text` lines, in causal order. */
export async function texts(a: Account, alias: string): Promise<string[]> {
  return (await a.history(alias)).map((m) => `${m.dir}:${m.text}`);
}

/**
 * Alice's laptop and Bob as contacts (device sets both ways), then Alice's phone restored from
 * the laptop's snapshot: introduced to Bob's device and to the laptop.
 */
export async function aliceOnTwoDevices(
  world: ReturnType<typeof relayWorld>,
): Promise<{ laptop: Account; phone: Account; bob: Account }> {
  const laptop = await world.account('Alice');
  const bob = await world.account('Bob');
  await laptop.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
  await befriend(laptop, bob, 'alice');
  await syncAll(laptop, bob);
  const phone = await world.account('Alice');
  await phone.restoreSnapshot(await laptop.snapshot(), { passphrase: PASS, deviceName: 'phone' });
  await phone.sync(); // introduces the phone to Bob's device and opens its session with the laptop
  await syncAll(bob, phone, laptop, phone, laptop);
  return { laptop, phone, bob };
}
