// `parus profile` (issue 15 item 6, decision 0056): the real binary, a real relay. Alice sets a
// name and an avatar made from a large PNG (shrunk to ≤ 256 px, ≤ 48 KiB); Bob's `contacts` shows
// the name beside his alias for her. A file that is not an image is refused and changes nothing.
// `parus group avatar` (decision 0066): the same shrinking to a group's bounds, seen by a member.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { MAX_AVATAR_BYTES } from '@parus/core';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress, home } = cliWorld('profile-e2e');

/** A noisy PNG (hard to compress), width × height. */
function bigPng(width: number, height: number): Buffer {
  const image = new PNG({ width, height });
  let x = 12345;
  for (let i = 0; i < image.data.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    image.data[i] = i % 4 === 3 ? 255 : x >>> 24;
  }
  return PNG.sync.write(image);
}

describe('parus profile', () => {
  it('sets a name and an avatar that reach a contact; a non-image is refused', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    const link = (await json('alice', ['invite'])).link as string;
    await json('bob', ['add', link, '--alias', 'ally']);
    await json('alice', ['read']);
    await json('bob', ['read']);

    expect(await json('alice', ['profile'])).toMatchObject({ name: 'Alice', avatar: false });
    const photo = join(home('alice'), 'photo.png');
    writeFileSync(photo, bigPng(1200, 800));
    const set = await json('alice', ['profile', '--name', '陳愛麗', '--avatar', photo]);
    expect(set).toMatchObject({ name: '陳愛麗', avatar: true });
    expect(set.avatarBytes as number).toBeLessThanOrEqual(MAX_AVATAR_BYTES);

    const text = join(home('alice'), 'notes.txt');
    writeFileSync(text, 'not a picture at all');
    const refused = await parus('alice', ['profile', '--name', 'Mallory', '--avatar', text]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/UsageError/);
    expect(await json('alice', ['profile'])).toMatchObject({ name: '陳愛麗', avatar: true });

    await json('bob', ['read']);
    const contacts = (await json('bob', ['contacts'])).contacts as Array<Record<string, unknown>>;
    expect(contacts).toMatchObject([{ alias: 'ally', profileName: '陳愛麗', avatar: true }]);
    const listed = await parus('bob', ['contacts']);
    expect(listed.stdout).toContain('ally (陳愛麗)');

    const shown = await parus('alice', ['profile']);
    expect(shown.stdout).toMatch(/陳愛麗/);
    expect(await json('alice', ['profile', '--no-avatar'])).toMatchObject({ name: '陳愛麗', avatar: false });
    await json('bob', ['read']);
    expect(((await json('bob', ['contacts'])).contacts as unknown[])[0]).not.toHaveProperty('avatar');
  }, 240_000);

  it('parus group avatar: a group picture shrunk to 128 px and 6 KiB reaches a member; --none removes it', async () => {
    const bobAlias = ((await json('alice', ['contacts'])).contacts as Array<{ alias: string }>)[0]!.alias;
    const id = ((await json('alice', ['group', 'create', 'Birds'])).group as { id: string }).id;
    await json('alice', ['group', 'invite', id, bobAlias]);
    await json('bob', ['read']);
    await json('bob', ['group', 'join', id]);
    await json('alice', ['read']);
    const photo = join(home('alice'), 'group.png');
    writeFileSync(photo, bigPng(900, 600));
    const set = await json('alice', ['group', 'avatar', id, photo]);
    expect(set.group).toMatchObject({ id, avatar: true });
    const human = await parus('alice', ['group', 'avatar', id, photo]);
    expect(human.stdout).toContain('Birds');
    // Bob, a member, may not change it; a file that is not a picture is refused.
    const notAllowed = await parus('bob', ['group', 'avatar', id, photo]);
    expect(notAllowed.code).toBe(2);
    const text = join(home('alice'), 'notes.txt');
    const refused = await parus('alice', ['group', 'avatar', id, text]);
    expect(refused.stderr).toMatch(/UsageError/);
    expect((await parus('alice', ['group', 'avatar', id])).stderr).toMatch(/UsageError/);
    await json('bob', ['read']);
    const bobs = (await json('bob', ['group', 'list'])).groups as Array<Record<string, unknown>>;
    expect(bobs).toMatchObject([{ id, avatar: true }]);
    await json('alice', ['group', 'avatar', id, '--none']);
    await json('bob', ['read']);
    expect(((await json('bob', ['group', 'list'])).groups as unknown[])[0]).not.toHaveProperty('avatar');
  }, 240_000);
});
