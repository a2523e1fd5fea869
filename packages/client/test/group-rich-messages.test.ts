// Group messages as rich as 1:1 ones (docs/decisions/0044): stickers, replies, 收回, reactions
// and delete-for-me, and what a dishonest member's client cannot do with them (its copy of the
// store is edited so that its own checks pass; the honest members must still refuse or ignore).
// In-process accounts over real WebSockets to a real relay.
import { describe, expect, it } from 'vitest';
import { NotFoundError, UsageError, fromHex } from '@parus/core';
import type { Account, MessageInfo } from '../src/index.ts';
import { GC, decodeGroupMessage, encodeGroupRecord } from '../src/groups/group-records.ts';
import { KeptStore, befriend, relayWorld, settle, until } from './support/group-harness.ts';

const world = relayWorld('group-rich');

async function threeOf(
  carolStore?: KeptStore,
): Promise<{ alice: Account; bob: Account; carol: Account; g: string }> {
  const alice = await world.account('Alice');
  const bob = await world.account('Bob');
  const carol = await world.account('Carol', carolStore ? { store: carolStore } : {});
  await befriend(alice, bob, 'alice');
  await befriend(alice, carol, 'alice');
  const g = (await alice.groups.create('Rich')).id;
  await alice.groups.invite(g, 'Bob');
  await alice.groups.invite(g, 'Carol');
  await settle([alice, bob, carol]);
  await bob.groups.join(g);
  await carol.groups.join(g);
  await settle([alice, bob, carol]);
  return { alice, bob, carol, g };
}

async function find(a: Account, g: string, id: string): Promise<MessageInfo | undefined> {
  return (await a.groups.history(g)).find((m) => m.id === id);
}

/** Makes a dishonest member's own store believe `m` is hers (so her client sends what it should not). */
async function claim(store: KeptStore, g: string, id: string, me: string): Promise<void> {
  const col = GC.messages(fromHex(g));
  const rec = decodeGroupMessage((await store.get(col, id))!);
  const value = encodeGroupRecord({ ...rec, dir: 'out', author: fromHex(me) });
  await store.batch([{ type: 'put', collection: col, key: id, value }]);
}

describe('rich group messages', () => {
  it('stickers, replies, reactions (one per person, changeable), unsend and delete for me', async () => {
    const { alice, bob, carol, g } = await threeOf();
    const hello = await alice.groups.send(g, '大家好');
    await until([alice, bob, carol], async () => (await find(bob, g, hello.id)) !== undefined);
    await until([alice, bob, carol], async () => (await find(carol, g, hello.id)) !== undefined);
    const sticker = await bob.groups.sendSticker(g, 'parus', 'hello', { replyTo: hello.id });
    await until([alice, bob, carol], async () => (await find(carol, g, sticker.id)) !== undefined);
    const got = (await find(carol, g, sticker.id))!;
    expect(got.kind).toBe('sticker');
    expect(got.sticker).toEqual({ pack: 'parus', id: 'hello' });
    expect(got.replyTo).toBe(hello.id);

    const reply = await carol.groups.send(g, '嗨', { replyTo: hello.id });
    expect(reply.replyTo).toBe(hello.id);

    await bob.groups.react(g, hello.id, '👍');
    await carol.groups.react(g, hello.id, '❤️');
    await carol.groups.react(g, hello.id, '😂'); // changes her reaction, not a second one
    await until([alice, bob, carol], async () => {
      const r = (await find(alice, g, hello.id))?.reactions ?? [];
      return r.length === 2 && r.some((x) => x.emoji === '😂');
    });
    const rx = (await find(alice, g, hello.id))!.reactions!;
    expect(rx.map((x) => x.emoji).sort()).toEqual(['👍', '😂'].sort());
    // Reactions and unsends are not messages of their own.
    expect((await alice.groups.history(g)).every((m) => m.kind !== 'reaction' && m.kind !== 'unsend')).toBe(
      true,
    );
    await bob.groups.react(g, hello.id, '');
    await until([alice, bob, carol], async () => (await find(alice, g, hello.id))!.reactions?.length === 1);

    await alice.groups.unsend(g, hello.id);
    await until([alice, bob, carol], async () => (await find(bob, g, hello.id))?.unsent === true);
    const tomb = (await find(bob, g, hello.id))!;
    expect(tomb.text).toBe('');
    expect(tomb.reactions).toBeUndefined();

    await bob.groups.deleteForMe(g, sticker.id);
    expect(await find(bob, g, sticker.id)).toBeUndefined();
    expect(await find(alice, g, sticker.id)).toBeDefined();
  }, 300_000);

  it('refuses what no client of mine would send', async () => {
    const { alice, g } = await threeOf();
    const m = await alice.groups.send(g, 'hi');
    await expect(alice.groups.react(g, m.id, '🍣')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.groups.react(g, 'ab'.repeat(32), '👍')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.groups.send(g, 'x', { replyTo: 'cd'.repeat(32) })).rejects.toBeInstanceOf(UsageError);
    await expect(alice.groups.sendSticker(g, '../x', 'y')).rejects.toBeInstanceOf(UsageError);
    expect((await alice.groups.history(g)).map((x) => x.id)).toEqual([m.id]);
  }, 300_000);

  it('a member cannot unsend, react to or quote what is not hers to', async () => {
    const carolStore = new KeptStore();
    const { alice, bob, carol, g } = await threeOf(carolStore);
    const other = (await alice.groups.create('Other')).id;
    await alice.groups.invite(other, 'Bob');
    await settle([alice, bob, carol]);
    await bob.groups.join(other);
    await settle([alice, bob, carol]);
    const secret = await alice.groups.send(other, 'elsewhere');
    const hers = await alice.groups.send(g, '我的訊息');
    await until([alice, bob, carol], async () => (await find(carol, g, hers.id)) !== undefined);
    await until([alice, bob], async () => (await find(bob, other, secret.id)) !== undefined);

    // Carol's client is made to think Alice's message is hers, and takes it back.
    await claim(carolStore, g, hers.id, carol.groups.members(g).find((m) => m.me)!.key);
    await carol.groups.unsend(g, hers.id);
    // A message of another group (or none) put in her store as if it were of this one.
    const col = GC.messages(fromHex(g));
    const fake = decodeGroupMessage((await carolStore.get(col, hers.id))!);
    delete fake.unsent;
    await carolStore.batch([
      {
        type: 'put',
        collection: col,
        key: secret.id,
        value: encodeGroupRecord({ ...fake, id: fromHex(secret.id), dir: 'in' }),
      },
    ]);
    await carol.groups.react(g, secret.id, '😮');
    const forged = await carol.groups.send(g, 'look', { replyTo: secret.id });
    await until([alice, bob, carol], async () => (await find(bob, g, forged.id)) !== undefined);
    await settle([alice, bob, carol]);

    for (const a of [alice, bob]) {
      const kept = (await find(a, g, hers.id))!;
      expect(kept.unsent).toBeUndefined();
      expect(kept.text).toBe('我的訊息');
      expect((await find(a, g, forged.id))!.replyTo).toBeUndefined();
    }
    expect((await find(bob, other, secret.id))!.reactions).toBeUndefined();
    expect(await find(bob, g, secret.id)).toBeUndefined();
  }, 400_000);
});

describe('reactions and delete for me in a 1:1 chat', () => {
  it('one reaction per person, changeable and taken back; deleting is mine alone', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    const hi = await bob.sendText('alice', '早安');
    const seen = async (): Promise<MessageInfo | undefined> =>
      (await alice.history('Bob')).find((m) => m.id === hi.id);
    await until([alice, bob], async () => (await seen()) !== undefined);

    await expect(alice.react('Bob', hi.id, '🍣')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.react('Bob', 'ef'.repeat(32), '👍')).rejects.toBeInstanceOf(NotFoundError);
    await alice.react('Bob', hi.id, '👍');
    await alice.react('Bob', hi.id, '❤️');
    const atBob = async (): Promise<MessageInfo> => (await bob.history('alice')).find((m) => m.id === hi.id)!;
    await until([alice, bob], async () => (await atBob()).reactions?.[0]?.emoji === '❤️');
    expect((await atBob()).reactions).toEqual([{ emoji: '❤️', from: 'alice' }]);
    expect((await seen())!.reactions).toEqual([{ emoji: '❤️', from: 'Alice', me: true }]);
    expect((await bob.history('alice')).some((m) => m.kind === 'reaction')).toBe(false);
    await alice.react('Bob', hi.id, '');
    await until([alice, bob], async () => (await atBob()).reactions === undefined);

    await alice.deleteForMe('Bob', hi.id);
    expect(await seen()).toBeUndefined();
    await expect(alice.deleteForMe('Bob', hi.id)).rejects.toBeInstanceOf(NotFoundError);
    expect(await atBob()).toBeDefined();
    // A later message of Bob's (whose parent is the deleted one) still arrives.
    const next = await bob.sendText('alice', '還在嗎');
    await until([alice, bob], async () => (await alice.history('Bob')).some((m) => m.id === next.id));
  }, 300_000);
});
