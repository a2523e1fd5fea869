// Confirming late (backdated) group messages (seed 003; docs/decisions/0014): in-process accounts
// over real WebSockets to a real relay. A message whose parents were superseded long before it
// arrived is placed where it arrived and marked; an admin's confirmation, or k members', puts it
// at its claimed place for everyone, whatever order the confirmations and the message came in.
import { describe, expect, it } from 'vitest';
import { NotFoundError, UsageError, VerificationError, fromHex, sign, type CborValue } from '@parus/core';
import { Account, MemoryStore, type MessageInfo } from '../src/index.ts';
import { GC, decodeGroupRecord } from '../src/groups/group-records.ts';
import { LC, confirmMessage } from '../src/groups/late-confirm.ts';
import { KeptStore, befriend, settle, relayWorld, deliverFromMember } from './support/group-harness.ts';

const world = relayWorld('group-late');

const HOUR = 60 * 60 * 1000;

function account(name: string, store: MemoryStore, now: () => number): Promise<Account> {
  return world.account(name, { store, now });
}

function reopen(store: MemoryStore, now: () => number): Promise<Account> {
  return world.reopen({ store, now });
}

function texts(list: MessageInfo[]): string[] {
  return list.map((m) => m.text);
}

function keyOf(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}

async function memberSecret(store: MemoryStore, g: string): Promise<Uint8Array> {
  return decodeGroupRecord((await store.get(GC.groups, g))!).me;
}

/** A confirmation payload signed with a member secret key (seed || public). */
function confirmation(g: string, id: string, secret: Uint8Array): CborValue {
  return {
    t: 'lc',
    g: fromHex(g),
    id: fromHex(id),
    by: secret.slice(32),
    sig: sign(secret, confirmMessage(fromHex(g), fromHex(id))),
  };
}

async function lateOne(a: Account, g: string, text: string): Promise<MessageInfo> {
  return (await a.groups.history(g)).find((m) => m.text === text)!;
}

describe('late messages', () => {
  it('go to their claimed place once k members confirm, the same for everyone', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const start = clock;
    // Dave's clock stays behind, so his message also claims an early time.
    const daveNow = (): number => start - 60_000;
    const stores = {
      alice: new KeptStore(),
      bob: new KeptStore(),
      carol: new KeptStore(),
      dave: new KeptStore(),
    };
    const alice = await account('Alice', stores.alice, now);
    const bob = await account('Bob', stores.bob, now);
    let carol = await account('Carol', stores.carol, now);
    let dave = await account('Dave', stores.dave, daveNow);
    for (const a of [bob, carol, dave]) await befriend(alice, a, 'alice');
    const g = (await alice.groups.create('Four')).id;
    for (const alias of ['Bob', 'Carol', 'Dave']) await alice.groups.invite(g, alias);
    await settle([alice, bob, carol, dave]);
    for (const a of [bob, carol, dave]) await a.groups.join(g);
    await settle([alice, bob, carol, dave]);
    for (const a of [alice, bob, carol, dave]) expect(a.groups.members(g).every((m) => m.linked)).toBe(true);

    await alice.groups.send(g, 'm1');
    await settle([alice, bob, carol, dave]);
    await dave.close();
    await bob.groups.send(g, 'm2');
    await settle([alice, bob, carol]);
    clock += 2 * HOUR;
    // Dave writes before hearing of m2: its only parent, m1, was superseded two hours ago.
    dave = await reopen(stores.dave, daveNow);
    const late = await dave.groups.send(g, 'late words');
    // Carol is away while the message and Bob's confirmation go out.
    await carol.close();
    await dave.start();
    await settle([alice, bob, dave]);
    for (const a of [alice, bob]) {
      expect(texts(await a.groups.history(g))).toEqual(['m1', 'm2', 'late words']);
      expect(await lateOne(a, g, 'late words')).toMatchObject({
        late: true,
        confirmations: 0,
        confirmationsNeeded: 2, // min(3, ⌈4 / 2⌉)
      });
    }
    // Locally refused: my own message, a message that is not late, an unknown one.
    await expect(dave.groups.confirmLate(g, late.id)).rejects.toThrow(UsageError);
    const m1 = (await alice.groups.history(g))[0]!;
    await expect(bob.groups.confirmLate(g, m1.id)).rejects.toThrow(UsageError);
    await expect(bob.groups.confirmLate(g, '00000000deadbeef')).rejects.toThrow(NotFoundError);

    // Bob confirms, twice: it counts once.
    await bob.groups.confirmLate(g, late.id.slice(0, 12));
    await bob.groups.confirmLate(g, late.id);
    await settle([alice, bob, dave]);
    expect(await lateOne(alice, g, 'late words')).toMatchObject({ late: true, confirmations: 1 });
    // Replayed by hand too: still once.
    const bobsConfirmation = confirmation(g, late.id, await memberSecret(stores.bob, g));
    await deliverFromMember(alice, stores.alice, g, keyOf(bob, g), bobsConfirmation);
    expect(await lateOne(alice, g, 'late words')).toMatchObject({ late: true, confirmations: 1 });

    // Carol comes back: Bob's confirmation reaches her engine before the message it confirms.
    carol = await reopen(stores.carol, now);
    await deliverFromMember(carol, stores.carol, g, keyOf(bob, g), bobsConfirmation);
    expect(await stores.carol.list(LC.pending(fromHex(g)))).toHaveLength(1);
    await carol.start();
    await settle([alice, bob, carol, dave]);
    expect(await stores.carol.list(LC.pending(fromHex(g)))).toEqual([]);
    expect(texts(await carol.groups.history(g))).toEqual(['m1', 'm2', 'late words']);
    expect(await lateOne(carol, g, 'late words')).toMatchObject({ late: true, confirmations: 1 });

    // The second member's confirmation makes k: everyone moves it to its claimed place.
    await carol.groups.confirmLate(g, late.id);
    await settle([alice, bob, carol, dave]);
    // Claimed: m1's child with the same clock as m2 and an earlier time, so before m2.
    const claimed = ['m1', 'late words', 'm2'];
    for (const a of [alice, bob, carol, dave]) expect(texts(await a.groups.history(g))).toEqual(claimed);
    for (const a of [alice, bob, carol]) {
      const m = await lateOne(a, g, 'late words');
      expect(m.late).toBeUndefined();
      expect(m).toMatchObject({ confirmed: true, confirmations: 2 });
    }
  }, 300_000);

  it('goes to its place on an admin’s confirmation alone; forged confirmations change nothing', async () => {
    let clock = Date.now();
    const now = (): number => clock;
    const start = clock;
    const carolNow = (): number => start - 60_000;
    const stores = { alice: new KeptStore(), bob: new KeptStore(), carol: new KeptStore() };
    const alice = await account('Alice', stores.alice, now);
    const bob = await account('Bob', stores.bob, now);
    let carol = await account('Carol', stores.carol, carolNow);
    await befriend(alice, bob, 'alice');
    await befriend(alice, carol, 'alice');
    const g = (await alice.groups.create('Three')).id;
    await alice.groups.invite(g, 'Bob');
    await alice.groups.invite(g, 'Carol');
    await settle([alice, bob, carol]);
    await bob.groups.join(g);
    await carol.groups.join(g);
    await settle([alice, bob, carol]);
    await alice.groups.send(g, 'm1');
    await settle([alice, bob, carol]);
    await carol.close();
    await bob.groups.send(g, 'm2');
    await settle([alice, bob]);
    clock += 2 * HOUR;
    carol = await reopen(stores.carol, carolNow);
    const late = await carol.groups.send(g, 'claims to follow m1');
    await carol.start();
    await settle([alice, bob, carol]);
    expect(await lateOne(alice, g, 'claims to follow m1')).toMatchObject({ late: true, confirmations: 0 });
    const before = JSON.stringify(await alice.groups.history(g));

    const bobSecret = await memberSecret(stores.bob, g);
    // A broken signature.
    const forged = confirmation(g, late.id, bobSecret) as { sig: Uint8Array };
    forged.sig[3]! ^= 1;
    await expect(deliverFromMember(alice, stores.alice, g, keyOf(bob, g), forged)).rejects.toThrow(
      VerificationError,
    );
    // Carol's confirmation of her own message, sent over Bob's session: it names another member.
    const carolSecret = await memberSecret(stores.carol, g);
    await expect(
      deliverFromMember(alice, stores.alice, g, keyOf(bob, g), confirmation(g, late.id, carolSecret)),
    ).rejects.toThrow(VerificationError);
    // Over her own session it is authentic, but the author's own confirmation never counts.
    await deliverFromMember(alice, stores.alice, g, keyOf(carol, g), confirmation(g, late.id, carolSecret));
    // A confirmation of a message that is not late here: ignored.
    const m1 = (await alice.groups.history(g))[0]!;
    await deliverFromMember(alice, stores.alice, g, keyOf(bob, g), confirmation(g, m1.id, bobSecret));
    expect(await lateOne(alice, g, 'claims to follow m1')).toMatchObject({ late: true, confirmations: 0 });
    expect(JSON.stringify(await alice.groups.history(g))).toBe(before);

    // The creator (admin power) confirms: enough alone, for everyone.
    await alice.groups.confirmLate(g, late.id);
    await settle([alice, bob, carol]);
    for (const a of [alice, bob, carol])
      expect(texts(await a.groups.history(g))).toEqual(['m1', 'claims to follow m1', 'm2']);
    expect(await lateOne(bob, g, 'claims to follow m1')).toMatchObject({ confirmed: true, confirmations: 1 });
  }, 300_000);
});
