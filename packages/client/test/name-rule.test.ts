// The one name rule (core display-text.ts, docs/decisions/0024) in the engine: what `init`
// takes is what `invite` puts in a card and what a contact's decoder accepts. A name with a
// control, bidirectional or invisible character is refused where it is typed (UsageError),
// and refused where it arrives from a peer who skipped the checks.
import { describe, expect, it } from 'vitest';
import { UsageError } from '@parus/core';
import { Account, MemoryStore } from '../src/index.ts';
import { nodeTransport } from '../src/node/index.ts';
import { C } from '../src/account/account-context.ts';
import { decodeAccount, encodeRecord } from '../src/records.ts';
import { KeptStore, befriend, relayWorld } from './support/group-harness.ts';

const world = relayWorld('name-rule');

const BAD_NAMES = [
  'eve\u202eexe.pdf',
  'a\u2066b\u2069',
  'bob\x1b]0;x\x07',
  'pay\u200bpal',
  '\u200b',
  'a\u009bb',
];

describe('the one name rule', () => {
  it('refuses a bad display name when the account is made, so invite never meets one', async () => {
    for (const name of BAD_NAMES) {
      await expect(
        Account.create({
          store: new MemoryStore(),
          transport: nodeTransport(),
          name,
          relay: world.relay().address,
        }),
      ).rejects.toBeInstanceOf(UsageError);
    }
    const ok = await world.account('Zoë 👨‍👩‍👧 小明');
    const { card } = await ok.createInvite();
    expect(card.name).toBe('Zoë 👨‍👩‍👧 小明');
  });

  it('refuses bad aliases, group names, group aliases and nicks where they are typed', async () => {
    const alice = await world.account('alice');
    const bob = await world.account('bob');
    const { link } = await alice.createInvite();
    await expect(bob.acceptInvite(link, { alias: 'x\u202ey' })).rejects.toBeInstanceOf(UsageError);
    await befriend(alice, bob, 'alice');
    await expect(bob.renameContact('alice', 'al\u200bice')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.groups.create('g\u202eroup')).rejects.toBeInstanceOf(UsageError);
    const g = await alice.groups.create('group');
    await expect(alice.groups.setAlias(g.id, 'g\u2067x')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.groups.setNick(g.id, 'n\u202eick')).rejects.toBeInstanceOf(UsageError);
    await expect(alice.groups.setNick(g.id, '\u200d')).rejects.toBeInstanceOf(UsageError);
    expect(bob.contacts().map((c) => c.alias)).toEqual(['alice']);
  });

  it('refuses a contact whose name (in its contact request) breaks the rule: no contact is added', async () => {
    const alice = await world.account('alice');
    // Mallory skips the checks: her stored name is rewritten after the account was made.
    const store = new KeptStore();
    const made = await Account.create({
      store,
      transport: nodeTransport(),
      name: 'mallory',
      relay: world.relay().address,
    });
    await made.close();
    const self = decodeAccount((await store.get(C.account, 'self'))!);
    await store.batch([
      {
        type: 'put',
        collection: C.account,
        key: 'self',
        value: encodeRecord({ ...self, name: 'eve\u202eexe.pdf' }),
      },
    ]);
    const mallory = await world.reopen({ store });
    await mallory.start();
    const { link } = await alice.createInvite();
    await mallory.acceptInvite(link, { alias: 'alice' });
    await mallory.sync();
    await alice.sync();
    await mallory.sync();
    expect(alice.contacts()).toEqual([]);
    expect(mallory.contact('alice').status).toBe('pending');
  });
});
