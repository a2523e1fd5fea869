// Weekly rotation of each device's signed prekey (account/signed-prekeys.ts, decision 0062):
// with an injected clock, a device makes a new prekey every 7 days and sends its contacts a new
// device set; an introduction set up on the replaced prekey works during the 14-day grace
// period and is refused after it; at most MAX_OLD_PREKEYS replaced ones are kept; a replayed or
// backdated set changes nothing. Real accounts over a real relay on loopback.
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  ReplayError,
  asArray,
  asMap,
  decodeCbor,
  decodeDeviceSet,
  toHex,
  type ParusError,
} from '@parus/core';
import { MemoryStore, type Account } from '../src/index.ts';
import type { ContactRecord } from '../src/records.ts';
import type { StoreOp } from '../src/store.ts';
import { MAX_OLD_PREKEYS } from '../src/account/signed-prekeys.ts';
import { befriend, relayWorld } from './support/group-harness.ts';
import { LIGHT, PASS, syncAll, texts } from './support/device-harness.ts';

const world = relayWorld('prekey-rotation');
const DAY = 24 * 60 * 60 * 1000;

/** A clock the test moves; each account may have its own. */
function clock(): { t: number; now: () => number } {
  const c = { t: Date.now(), now: () => c.t };
  return c;
}

/** Alice and Bob (both with a device log, so Bob can restore), each on their own clock. */
async function pair(): Promise<{
  alice: Account;
  bob: Account;
  aliceClock: ReturnType<typeof clock>;
  bobClock: ReturnType<typeof clock>;
  aliceStore: MemoryStore;
}> {
  const aliceClock = clock();
  const bobClock = clock();
  const aliceStore = new MemoryStore();
  const alice = await world.account('Alice', { now: aliceClock.now, store: aliceStore });
  const bob = await world.account('Bob', { now: bobClock.now });
  await alice.devices.ensureLog({ passphrase: PASS, cost: LIGHT, name: 'laptop' });
  await bob.devices.ensureLog({ passphrase: 'bob passphrase', cost: LIGHT, name: 'bob' });
  await befriend(alice, bob, 'alice');
  await syncAll(alice, bob);
  return { alice, bob, aliceClock, bobClock, aliceStore };
}

/** The prekey of Alice's device in the set Bob holds (what Bob's new devices would use). */
async function heldPrekey(bob: Account): Promise<string> {
  const c = (await bob.snapshot()).contacts.find((x) => x.alias === 'alice')!;
  return toHex(decodeDeviceSet(c.theirSet!).devices[0]!.prekey);
}

/** Both moved on by `ms`. */
function advance(ms: number, ...clocks: Array<ReturnType<typeof clock>>): void {
  for (const c of clocks) c.t += ms;
}

/** A new device of Bob's restored from `snapshot` (taken earlier), introduced to Alice. */
async function restoredBob(
  snapshot: Awaited<ReturnType<Account['snapshot']>>,
  now: () => number,
): Promise<Account> {
  const b = await world.account('Bob', { now });
  await b.restoreSnapshot(snapshot, { passphrase: 'bob passphrase', deviceName: 'bob again' });
  await b.sync();
  return b;
}

/** Sends `set` to `alias` as a `devices` message over the account's sessions (what no honest device sends). */
async function sendSet(a: Account, alias: string, set: Uint8Array): Promise<void> {
  const parts = a as unknown as {
    contactDevices: {
      ctx: {
        lock: { run: <T>(f: () => Promise<T>) => Promise<T> };
        mustContact(alias: string): ContactRecord;
        saveContact(c: ContactRecord, ops: StoreOp[]): Promise<void>;
        control(c: ContactRecord, kind: 'devices', body: { set: Uint8Array }): StoreOp;
      };
    };
  };
  const ctx = parts.contactDevices.ctx;
  await ctx.lock.run(async () => {
    const c = ctx.mustContact(alias);
    await ctx.saveContact(c, [ctx.control(c, 'devices', { set })]);
  });
}

describe('weekly signed prekeys', () => {
  it('a week on, a new prekey reaches the contact; a session set up on the old one in its grace period works', async () => {
    const { alice, bob, aliceClock, bobClock } = await pair();
    const first = await heldPrekey(bob);
    const before = await bob.snapshot(); // Bob's new device will hold Alice's first prekey
    advance(6 * DAY, aliceClock, bobClock);
    await syncAll(alice, bob);
    expect(await heldPrekey(bob)).toBe(first);
    advance(DAY, aliceClock, bobClock);
    await syncAll(alice, bob);
    const second = await heldPrekey(bob);
    expect(second).not.toBe(first);

    // Ten days after the rotation, a Bob device restored from the older snapshot introduces
    // itself to Alice on her first prekey: still held, the session opens and carries messages.
    advance(10 * DAY, aliceClock, bobClock);
    const bob2 = await restoredBob(before, bobClock.now);
    await syncAll(alice, bob2, bob, alice);
    expect(alice.contactDeviceList('Bob')).toHaveLength(2);
    await alice.sendText('Bob', 'to both of Bob');
    await syncAll(alice, bob, bob2, alice);
    for (const b of [bob, bob2])
      expect((await texts(b, 'alice')).filter((t) => t === 'in:to both of Bob')).toHaveLength(1);
    await bob2.sendText('alice', 'from the new one');
    await syncAll(bob2, alice);
    expect(await texts(alice, 'Bob')).toContain('in:from the new one');
  });

  it('after the grace period an introduction on the replaced prekey is refused and changes nothing', async () => {
    const { alice, bob, aliceClock, bobClock } = await pair();
    const before = await bob.snapshot();
    advance(7 * DAY, aliceClock, bobClock);
    await syncAll(alice, bob);
    // Replaced at day 7, kept 14 days: gone at day 21.
    advance(14 * DAY + 1, aliceClock, bobClock);
    await syncAll(alice, bob);
    const errors: ParusError[] = [];
    alice.events.on('error', ({ error }) => errors.push(error));
    const late = await restoredBob(before, bobClock.now);
    await syncAll(alice, late, alice);
    expect(errors.some((e) => e instanceof ProtocolError)).toBe(true);
    expect(alice.contactDeviceList('Bob')).toHaveLength(1);
    // Alice and Bob's first device still chat.
    await alice.sendText('Bob', 'still here');
    await syncAll(alice, bob);
    expect(await texts(bob, 'alice')).toContain('in:still here');
  });

  it(`keeps at most ${MAX_OLD_PREKEYS} replaced prekeys, and wipes the first (the log's keys) after its grace`, async () => {
    const { alice, bob, aliceClock, bobClock, aliceStore } = await pair();
    const seen = new Set([await heldPrekey(bob)]);
    for (let week = 0; week < 6; week++) {
      advance(7 * DAY, aliceClock, bobClock);
      await syncAll(alice, bob);
      seen.add(await heldPrekey(bob));
      const stored = asMap(decodeCbor((await aliceStore.get('devices', 'prekeys'))!), 'prekeys');
      const old = asArray(stored.old, 'old', 16);
      expect(old.length).toBeLessThanOrEqual(MAX_OLD_PREKEYS);
      expect(old.length).toBe(Math.min(week + 1, 2)); // weekly, each kept 14 days
    }
    expect(seen.size).toBe(7);
    expect(await aliceStore.get('devices', 'keys')).toBeUndefined();
    // A clock that jumps far ahead wipes every replaced one at once.
    advance(365 * DAY, aliceClock, bobClock);
    await alice.flush();
    const stored = asMap(decodeCbor((await aliceStore.get('devices', 'prekeys'))!), 'prekeys');
    expect(asArray(stored.old, 'old', 16)).toHaveLength(1); // the one this jump replaced
  });

  it('a replayed older set, and a rotation dated before the one held, change nothing', async () => {
    const { alice, bob, aliceClock, bobClock } = await pair();
    const old = (await alice.snapshot()).contacts[0]!.mySet!;
    advance(7 * DAY, aliceClock, bobClock);
    await syncAll(alice, bob);
    const rotated = await heldPrekey(bob);
    const errors: ParusError[] = [];
    bob.events.on('error', ({ error }) => errors.push(error));
    // The first set again, in a fresh message over Alice's session: an old prekey brought back.
    await sendSet(alice, 'Bob', old);
    await syncAll(alice, bob);
    expect(errors.some((e) => e instanceof ReplayError)).toBe(true);
    expect(await heldPrekey(bob)).toBe(rotated);
    // Alice's clock set back three days: her new set's entry is older than the one Bob holds.
    errors.length = 0;
    aliceClock.t -= 3 * DAY;
    await alice.republishDeviceSet('Bob');
    await syncAll(alice, bob);
    expect(errors.some((e) => e instanceof ReplayError)).toBe(true);
    expect(await heldPrekey(bob)).toBe(rotated);
    await alice.sendText('Bob', 'after all that');
    await syncAll(alice, bob);
    expect(await texts(bob, 'alice')).toContain('in:after all that');
  });
});
