// Idle and one-way 1:1 sessions are refreshed with a new DH ratchet step (docs/decisions/0026):
// the engines ask and answer over a real relay on loopback, with a scripted clock.
import { describe, expect, it } from 'vitest';
import { RATCHET_REFRESH_POLICY, decodeRatchetState, toHex, type RatchetState } from '@parus/core';
import type { Account } from '../src/index.ts';
import type { ContactRecord } from '../src/records.ts';
import { KeptStore, befriend, relayWorld } from './support/group-harness.ts';

// The relay answers each send once it is written (no wait for the recipient's ack, decision
// 0034), so that a sync's own sends are counted before the other side's engine answers them.
const world = relayWorld('refresh', { ackWaitMs: 0 });
const DAY = 24 * 60 * 60 * 1000;

function contactOf(a: Account, alias: string): ContactRecord {
  const byId = (a as unknown as { contactsById: Map<string, ContactRecord> }).contactsById;
  return [...byId.values()].find((c) => c.alias === alias)!;
}

function sessionOf(a: Account, alias: string): RatchetState {
  return decodeRatchetState(contactOf(a, alias).session);
}

const holds = (haystack: Uint8Array, needle: Uint8Array): boolean =>
  Buffer.from(haystack).includes(Buffer.from(needle));

describe('session refresh (decision 0026)', () => {
  it('after 7 days idle the sessions take a new DH ratchet step on both sides, and the old chain keys are gone', async () => {
    let clock = Date.UTC(2026, 11, 1);
    const now = (): number => clock;
    const alice = await world.account('Alice', { now });
    const bob = await world.account('Bob', { now });
    await befriend(alice, bob, 'alice');
    await alice.sendText('Bob', 'hello');
    await alice.sync();
    await bob.sync();
    await alice.sync();
    const before = { alice: sessionOf(alice, 'Bob'), bob: sessionOf(bob, 'alice') };
    const old = [before.alice, before.bob].flatMap((s) => [s.rootKey, s.sendChainKey!, s.recvChainKey!]);
    const stored = (): number => world.relay().stats().messagesStored;

    clock += 6 * DAY; // not yet
    let count = stored();
    await alice.sync();
    await bob.sync();
    expect(stored()).toBe(count);

    clock += DAY;
    count = stored();
    await alice.sync(); // asks, and sends the device set with this week's new prekey (decision 0062)
    expect(stored()).toBe(count + 2);
    await bob.sync(); // steps, answers
    await alice.sync(); // steps
    const after = { alice: sessionOf(alice, 'Bob'), bob: sessionOf(bob, 'alice') };
    expect(toHex(after.alice.dhSelf.publicKey)).not.toBe(toHex(before.alice.dhSelf.publicKey));
    expect(toHex(after.bob.dhSelf.publicKey)).not.toBe(toHex(before.bob.dhSelf.publicKey));
    expect(toHex(after.alice.rootKey)).not.toBe(toHex(before.alice.rootKey));
    for (const who of [contactOf(alice, 'Bob'), contactOf(bob, 'alice')]) {
      for (const key of old) expect(holds(who.session, key)).toBe(false);
      expect(who.stepAt).toBe(clock);
      expect(who.rekeyAsked).toBeUndefined();
    }
    // Refreshed: nothing more is asked, and nothing shows in the conversation.
    count = stored();
    await alice.sync();
    await bob.sync();
    expect(stored()).toBe(count);
    expect((await bob.history('alice')).map((m) => m.text)).toEqual(['hello']);
    expect(await bob.takeUnshown()).toHaveLength(1);
  });

  it('many messages one way ask once; a contact that never answers still gets every message', async () => {
    const clock = Date.UTC(2026, 11, 1);
    const now = (): number => clock;
    const bobStore = new KeptStore();
    const alice = await world.account('Alice', { now });
    const bob = await world.account('Bob', { now, store: bobStore });
    await befriend(alice, bob, 'alice');
    await bob.close();
    world.closed(bob);
    const n = RATCHET_REFRESH_POLICY.maxOneWay + 5;
    const count = world.relay().stats().messagesStored;
    const key = toHex(sessionOf(alice, 'Bob').dhSelf.publicKey);
    for (let i = 0; i < n; i++) await alice.sendText('Bob', `one way ${i}`);
    await alice.sync();
    // n messages and one request: asked once, and sending never waited for the answer.
    expect(world.relay().stats().messagesStored).toBe(count + n + 1);
    expect(contactOf(alice, 'Bob').rekeyAsked).toBe(clock);
    const back = await world.reopen({ store: bobStore, now });
    await back.sync();
    expect((await back.takeUnshown()).map((m) => m.text)).toEqual(
      Array.from({ length: n }, (_, i) => `one way ${i}`),
    );
    await alice.sync();
    expect(contactOf(alice, 'Bob').rekeyAsked).toBeUndefined();
    expect(toHex(sessionOf(alice, 'Bob').dhSelf.publicKey)).not.toBe(key);
  });
});
