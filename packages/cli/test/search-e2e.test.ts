// `parus search` (issue 15 item 3): the real binary, a real relay, messages of a 1:1 chat and a
// group found by Chinese substrings, Latin in any case, odd characters literally; bad queries
// are usage errors (exit 2) that change nothing.
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress } = cliWorld('search');

interface Hit {
  kind: string;
  text?: string;
  alias?: string;
  group?: string;
}

describe('parus search', () => {
  it('finds friends, groups and messages, literally', async () => {
    for (const who of ['alice', 'bob'] as const)
      await json(who, ['init', '--name', who[0]!.toUpperCase() + who.slice(1), '--relay', relayAddress()]);
    const link = (await json('alice', ['invite'])).link as string;
    await json('bob', ['add', link, '--alias', 'alice']);
    await json('alice', ['read']);
    await json('bob', ['send', 'alice', '冠羽畫眉在合歡山']);
    await json('bob', ['send', 'alice', 'Price is $5 (a.*b) [ok]']);
    await json('alice', ['read']);
    await json('alice', ['group', 'create', '賞鳥同好會']);

    const birds = (await json('alice', ['search', '畫眉'])).results as Hit[];
    expect(birds).toMatchObject([{ kind: 'message', alias: 'Bob', text: '冠羽畫眉在合歡山' }]);
    expect(((await json('alice', ['search', 'PRICE'])).results as Hit[]).length).toBe(1);
    expect(((await json('alice', ['search', '(a.*b)'])).results as Hit[]).length).toBe(1);
    expect(((await json('alice', ['search', '.*'])).results as Hit[]).length).toBe(1);
    expect((await json('alice', ['search', '\u202E'])).results).toEqual([]);
    expect((await json('alice', ['search', '同好'])).results).toMatchObject([{ kind: 'group' }]);
    expect((await json('alice', ['search', 'bo'])).results).toMatchObject([
      { kind: 'contact', alias: 'Bob' },
    ]);

    const text = await parus('alice', ['search', '畫眉']);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('冠羽畫眉在合歡山');
    const empty = await parus('alice', ['search', '  ']);
    expect(empty.code).toBe(2);
    const bad = await parus('alice', ['search', 'x', '--limit', '0']);
    expect(bad.code).toBe(2);
  }, 240_000);
});
