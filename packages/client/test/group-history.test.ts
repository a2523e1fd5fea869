// History sharing (docs/decisions/0014): in-process accounts over real WebSockets to a real relay
// (port 0, temporary data). Off by default: a newcomer reads nothing from before its join, even
// holding the ciphertexts. On: it receives, from its inviter alone, the messages written since the
// switch, as their authors' signed envelopes; bad bundles are refused whole.
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  ReplayError,
  UsageError,
  VerificationError,
  asBytes,
  asMap,
  createEnvelope,
  decodeCbor,
  decodeEnvelope,
  decodeSenderReceiverState,
  encodeEnvelope,
  fromHex,
  senderDecrypt,
  toHex,
} from '@parus/core';
import { Account, MemoryStore, type MessageInfo } from '../src/index.ts';
import { decodeFanoutMessage } from '../src/groups/fanout-outbox.ts';
import { GC, decodeGroupRecord, decodeReceiver } from '../src/groups/group-records.ts';
import { decodeGroupFanoutFrame } from '../src/groups/group-wire.ts';
import { HC } from '../src/groups/history-share.ts';
import { befriend, settle, relayWorld, deliverFromMember } from './support/group-harness.ts';

const world = relayWorld('group-history');

function account(name: string, store: MemoryStore): Promise<Account> {
  return world.account(name, { store });
}

function texts(list: MessageInfo[]): string[] {
  return list.map((m) => m.text);
}

interface People {
  alice: Account;
  bob: Account;
  carol: Account;
  stores: { alice: MemoryStore; bob: MemoryStore; carol: MemoryStore };
}

/** Alice, Bob and Carol, Bob and Carol contacts of Alice; a group of Alice and Bob. */
async function start(): Promise<People & { g: string }> {
  const stores = { alice: new MemoryStore(), bob: new MemoryStore(), carol: new MemoryStore() };
  const alice = await account('Alice', stores.alice);
  const bob = await account('Bob', stores.bob);
  const carol = await account('Carol', stores.carol);
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  const g = (await alice.groups.create('Archive')).id;
  await alice.groups.invite(g, 'Bob');
  await settle([alice, bob]);
  await bob.groups.join(g);
  await settle([alice, bob]);
  return { alice, bob, carol, stores, g };
}

async function addCarol(p: People, g: string): Promise<void> {
  await p.alice.groups.invite(g, 'Carol');
  await settle([p.alice, p.bob, p.carol]);
  await p.carol.groups.join(g);
  await settle([p.alice, p.bob, p.carol]);
}

/** A genuine group envelope signed with `who`'s member key, as `send` would make it. */
async function signedBy(store: MemoryStore, g: string, text: string, ts: number): Promise<Uint8Array> {
  const rec = decodeGroupRecord((await store.get(GC.groups, g))!);
  return encodeEnvelope(
    createEnvelope({
      device: { secretKey: rec.me, publicKey: rec.me.slice(32) },
      conv: rec.id,
      parents: [],
      lamport: 1,
      ts,
      kind: 'text',
      body: { t: 'text', text },
    }),
  );
}

function keyOf(a: Account, g: string): string {
  return a.groups.members(g).find((m) => m.me)!.key;
}

describe('history sharing', () => {
  it('is off by default: a newcomer cannot read earlier messages, even holding their ciphertexts', async () => {
    const p = await start();
    const { alice, bob, carol, stores, g } = p;
    expect(alice.groups.get(g).shareHistory).toBe(false);
    await alice.groups.send(g, 'old news');
    // The ciphertext as it went on the wire (kept until every member's receipt).
    const frames = await stores.alice.list('gfan');
    expect(frames).toHaveLength(1);
    const old = decodeGroupFanoutFrame(decodeFanoutMessage(frames[0]!.value).frame).c;
    await settle([alice, bob]);
    await addCarol(p, g);
    await alice.groups.send(g, 'fresh news');
    await settle([alice, bob, carol]);
    expect(texts(await bob.groups.history(g))).toEqual(['old news', 'fresh news']);
    expect(texts(await carol.groups.history(g))).toEqual(['fresh news']);
    // Nothing was shared, and the chain Carol holds for Alice starts after the old message.
    expect(await stores.alice.list(HC.shared(fromHex(g)))).toEqual([]);
    const held = (await stores.carol.list(GC.receivers(fromHex(g)))).map((e) => decodeReceiver(e.value));
    const alicesChain = held.filter((r) => toHex(r.m) === keyOf(alice, g));
    expect(alicesChain).toHaveLength(1);
    expect(() => senderDecrypt(decodeSenderReceiverState(alicesChain[0]!.state), old, fromHex(g))).toThrow(
      ReplayError,
    );
    // A bundle while sharing is off is refused, even of genuine messages.
    const genuine = await signedBy(stores.alice, g, 'made up', Date.now());
    await expect(
      deliverFromMember(carol, stores.carol, g, keyOf(alice, g), {
        t: 'hist',
        g: fromHex(g),
        env: [genuine],
      }),
    ).rejects.toThrow(ProtocolError);
    expect(texts(await carol.groups.history(g))).toEqual(['fresh news']);
  });

  it('on: the newcomer gets, from its inviter alone, the signed messages written since the switch', async () => {
    const p = await start();
    const { alice, bob, carol, stores, g } = p;
    await alice.groups.send(g, 'before the switch');
    await settle([alice, bob]);
    // Members may not turn it on (settings power: admins); the creator may.
    await expect(bob.groups.setShareHistory(g, true)).rejects.toThrow(UsageError);
    await alice.groups.setShareHistory(g, true);
    await settle([alice, bob]);
    expect(bob.groups.get(g).shareHistory).toBe(true);
    await bob.groups.send(g, 'after 1');
    await settle([alice, bob]);
    await alice.groups.send(g, 'after 2', { kind: 'action' });
    await settle([alice, bob]);
    await addCarol(p, g);
    await settle([alice, bob, carol]);
    const history = await carol.groups.history(g);
    expect(texts(history)).toEqual(['after 1', 'after 2']);
    expect(history.map((m) => [m.from, m.kind, m.history])).toEqual([
      ['Bob', 'text', true],
      ['alice', 'action', true],
    ]);
    // Earlier history, not news: `read` does not announce it.
    expect(await carol.takeUnshown()).toEqual([]);
    // Exactly one member (the inviter) shared, once.
    expect(await stores.alice.list(HC.shared(fromHex(g)))).toHaveLength(1);
    expect(await stores.bob.list(HC.shared(fromHex(g)))).toEqual([]);
    // What Carol holds are the authors' own signed envelopes (decodeEnvelope checks id and signature).
    const kept = (await stores.carol.list(HC.kept(fromHex(g)))).map((e) =>
      decodeEnvelope(asBytes(asMap(decodeCbor(e.value), 'kept').e, 'envelope')),
    );
    expect(kept.map((e) => toHex(e.device)).sort()).toEqual([keyOf(bob, g), keyOf(alice, g)].sort());
    // New messages follow the shared ones in the DAG order, and are news.
    await bob.groups.send(g, 'welcome carol');
    await settle([alice, bob, carol]);
    expect(texts(await carol.groups.history(g))).toEqual(['after 1', 'after 2', 'welcome carol']);
    expect(texts(await carol.takeUnshown())).toEqual(['welcome carol']);
    expect(texts(await alice.groups.history(g))).toEqual([
      'before the switch',
      'after 1',
      'after 2',
      'welcome carol',
    ]);
  });

  it('refuses a bundle with a modified envelope, or from a non-member, whole, changing nothing', async () => {
    const p = await start();
    const { alice, bob, carol, stores, g } = p;
    await alice.groups.setShareHistory(g, true);
    await settle([alice, bob]);
    await bob.groups.send(g, 'shared');
    await settle([alice, bob]);
    await addCarol(p, g);
    await settle([alice, bob, carol]);
    expect(texts(await carol.groups.history(g))).toEqual(['shared']);
    const before = JSON.stringify(await carol.groups.history(g));

    const genuine = await signedBy(stores.alice, g, 'a genuine one', Date.now());
    const other = await signedBy(stores.alice, g, 'another genuine one', Date.now());
    // One changed character in the text: the id no longer matches (the signature covers the id).
    const modified = other.slice();
    const at = Buffer.from(modified).indexOf('another');
    expect(at).toBeGreaterThan(0);
    modified[at] = 'A'.charCodeAt(0);
    const aliceKey = keyOf(alice, g);
    await expect(
      deliverFromMember(carol, stores.carol, g, aliceKey, {
        t: 'hist',
        g: fromHex(g),
        env: [genuine, modified],
      }),
    ).rejects.toThrow(VerificationError);
    expect(JSON.stringify(await carol.groups.history(g))).toBe(before);
    // An envelope of another conversation is refused too.
    const foreign = decodeEnvelope(genuine);
    const elsewhere = encodeEnvelope(
      createEnvelope({
        device: {
          secretKey: decodeGroupRecord((await stores.alice.get(GC.groups, g))!).me,
          publicKey: foreign.device,
        },
        conv: new Uint8Array(16).fill(7),
        parents: [],
        lamport: 1,
        ts: Date.now(),
        kind: 'text',
        body: { t: 'text', text: 'elsewhere' },
      }),
    );
    await expect(
      deliverFromMember(carol, stores.carol, g, aliceKey, { t: 'hist', g: fromHex(g), env: [elsewhere] }),
    ).rejects.toThrow(VerificationError);
    // From before the switch: refused.
    const early = await signedBy(stores.alice, g, 'too early', 1000);
    await expect(
      deliverFromMember(carol, stores.carol, g, aliceKey, { t: 'hist', g: fromHex(g), env: [early] }),
    ).rejects.toThrow(ProtocolError);
    expect(JSON.stringify(await carol.groups.history(g))).toBe(before);

    // From Bob once he is no longer a member: refused.
    const bobKey = keyOf(bob, g);
    await alice.groups.kick(g, bobKey);
    await settle([alice, bob, carol]);
    expect(bob.groups.get(g).status).toBe('removed');
    await expect(
      deliverFromMember(carol, stores.carol, g, bobKey, { t: 'hist', g: fromHex(g), env: [genuine] }),
    ).rejects.toThrow(ProtocolError);
    expect(JSON.stringify(await carol.groups.history(g))).toBe(before);

    // The genuine envelope alone, from a member, is taken (the checks above are not blanket refusals).
    await deliverFromMember(carol, stores.carol, g, aliceKey, {
      t: 'hist',
      g: fromHex(g),
      env: [genuine, genuine],
    });
    expect(texts(await carol.groups.history(g)).sort()).toEqual(['a genuine one', 'shared']);
  });

  it('shares nothing once turned off again', async () => {
    const p = await start();
    const { alice, bob, carol, stores, g } = p;
    await alice.groups.setShareHistory(g, true);
    await settle([alice, bob]);
    await bob.groups.send(g, 'while on');
    await settle([alice, bob]);
    await alice.groups.setShareHistory(g, false);
    await settle([alice, bob]);
    expect(bob.groups.get(g).shareHistory).toBe(false);
    await addCarol(p, g);
    await settle([alice, bob, carol]);
    expect(await carol.groups.history(g)).toEqual([]);
    expect(await stores.alice.list(HC.shared(fromHex(g)))).toEqual([]);
  });
});
