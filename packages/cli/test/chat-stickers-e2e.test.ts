// `/sticker` and `/stickers` in `parus chat` (decision 0066): every built-in pack (小山雀 and the
// three birds of Taiwan) by id, name or PACK/ID, any other pack (one imported in a browser) by
// PACK/ID; a name that matches nothing is said so and sends nothing. The same in a group's chat.
// The real binary, a real relay.
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parusWithInput, json, relayAddress } = cliWorld('chat-stickers-e2e');

type Sticker = { pack: string; id: string };

describe('stickers in parus chat', () => {
  it('lists the packs and sends stickers of any of them to a contact', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    const invite = await json('alice', ['invite']);
    await json('bob', ['accept', String(invite.link), '--alias', 'alice']);
    await json('alice', ['read']);

    const chat = await parusWithInput(
      'alice',
      ['chat', 'Bob', '--lang', 'en'],
      '/stickers\n/stickers barbet\n/stickers 鸚鵡\n/sticker cheer\n/sticker 加油\n/sticker Good morning\n' +
        '/sticker yellowtit/goodnight\n/sticker my-cats/mimi\n/sticker nosuch\n/sticker\n',
    );
    expect(chat.code).toBe(0);
    for (const pack of ['parus', 'bluemagpie', 'yellowtit', 'barbet']) expect(chat.stdout).toContain(pack);
    expect(chat.stdout).toContain('Taiwan barbet');
    expect(chat.stdout).toMatch(/no-problem\s+No problem/);
    expect(chat.stdout).toContain('no pack called 鸚鵡');
    expect(chat.stdout).toContain('no sticker called nosuch');
    expect(chat.stdout).toContain('usage: /sticker');
    const got = (await json('bob', ['read'])).messages as Array<{ sticker?: Sticker; text: string }>;
    expect(got.map((m) => m.sticker)).toEqual([
      { pack: 'parus', id: 'cheer' },
      { pack: 'barbet', id: 'cheer' },
      { pack: 'bluemagpie', id: 'morning' },
      { pack: 'yellowtit', id: 'goodnight' },
      { pack: 'my-cats', id: 'mimi' },
    ]);

    // zh-TW: the packs by their Chinese names.
    const zh = await parusWithInput('alice', ['chat', 'Bob', '--lang', 'zh-TW'], '/stickers 五色鳥\n');
    expect(zh.stdout).toMatch(/no-problem\s+沒問題/);
    expect(zh.stdout).toContain('/sticker barbet/knock');
  }, 300_000);

  it('sends stickers in a group chat too', async () => {
    const id = ((await json('alice', ['group', 'create', 'Birds'])).group as { id: string }).id;
    await json('alice', ['group', 'invite', id, 'Bob']);
    await json('bob', ['read']);
    await json('bob', ['group', 'join', id]);
    await json('alice', ['read']);
    const chat = await parusWithInput('alice', ['chat', id], '/stickers\n/sticker 早安\n/sticker nosuch\n');
    expect(chat.code).toBe(0);
    expect(chat.stdout).toContain('bluemagpie');
    let seen: Array<{ sticker?: Sticker }> = [];
    for (let i = 0; i < 10 && !seen.some((m) => m.sticker); i++) {
      await json('bob', ['read']);
      seen = (await json('bob', ['history', id])).messages as Array<{ sticker?: Sticker }>;
    }
    expect(seen.filter((m) => m.sticker).map((m) => m.sticker)).toEqual([
      { pack: 'bluemagpie', id: 'morning' },
    ]);
  }, 300_000);
});
