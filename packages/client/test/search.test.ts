// Search over the local decrypted store (issue 15 item 3): 1:1 and group messages, friends and
// groups, Chinese without word splitting, Latin case-insensitive, odd characters literal.
import { describe, expect, it } from 'vitest';
import { UsageError } from '@parus/core';
import { MAX_SEARCH_CHARS } from '../src/index.ts';
import { befriend, relayWorld, settle, until } from './support/group-harness.ts';

const world = relayWorld('search');

describe('Account.search', () => {
  it('finds chats and messages of 1:1 chats and groups, literally, newest first and bounded', async () => {
    const alice = await world.account('Alice');
    const bob = await world.account('Bob');
    await befriend(alice, bob, 'alice');
    const texts = [
      '今天在陽明山看到台灣藍鵲',
      'Hello World, the Formosan BLUE magpie',
      'a.*b (not a pattern) [x]+ $1 \\d',
      'mark \u202Eevil\u202C here and a\u0007bell',
      'ｆｕｌｌ ｗｉｄｔｈ Ｔａｉｐｅｉ',
    ];
    for (const t of texts) await bob.sendText('alice', t);
    const g = await alice.groups.create('賞鳥同好會');
    await alice.groups.invite(g.id, 'Bob');
    await until([alice, bob], () => bob.groups.list().some((x) => x.id === g.id));
    await bob.groups.join(g.id);
    await settle([alice, bob]);
    await alice.groups.send(g.id, '黃山雀在樹上唱歌');
    await settle([alice, bob]);

    // Chinese substrings, no word splitting; in 1:1 chats and groups.
    expect((await bob.search('藍鵲')).map((h) => h.kind === 'message' && h.text)).toEqual([texts[0]]);
    const inGroup = await bob.search('山雀');
    expect(inGroup).toMatchObject([
      { kind: 'message', group: g.id, text: '黃山雀在樹上唱歌', from: 'alice' },
    ]);
    // Latin regardless of case; full-width letters as their ASCII (NFKC).
    expect((await bob.search('blue MAGPIE')).length).toBe(1);
    expect((await bob.search('taipei')).length).toBe(1);
    // Chats by name: the friend and the group.
    expect(await bob.search('alic')).toEqual([{ kind: 'contact', alias: 'alice', name: 'Alice' }]);
    expect(await bob.search('同好')).toEqual([{ kind: 'group', group: g.id, name: '賞鳥同好會' }]);
    // Metacharacters, controls and bidi marks are literal, and match nothing else.
    expect((await bob.search('a.*b')).length).toBe(1);
    expect((await bob.search('.*')).length).toBe(1);
    expect((await bob.search('[x]+ $1 \\d')).length).toBe(1);
    expect((await bob.search('\u202Eevil')).length).toBe(1);
    expect((await bob.search('\u202E')).length).toBe(1);
    expect((await bob.search('\u0007')).length).toBe(1);
    expect(await bob.search('\u202Dnothing')).toEqual([]);
    // Newest first, bounded; bad queries are UsageErrors and change nothing.
    const all = await bob.search('e');
    const ts = all.filter((h) => h.kind === 'message').map((h) => (h.kind === 'message' ? h.ts : 0));
    expect([...ts].sort((a, b) => b - a)).toEqual(ts);
    expect((await bob.search('e', { limit: 2 })).length).toBe(2);
    await expect(bob.search('   ')).rejects.toThrow(UsageError);
    await expect(bob.search('x'.repeat(MAX_SEARCH_CHARS + 1))).rejects.toThrow(UsageError);
    await expect(bob.search('e', { limit: 0 })).rejects.toThrow(UsageError);
    expect((await bob.history('alice')).map((m) => m.text)).toEqual(texts);
  }, 120_000);
});
