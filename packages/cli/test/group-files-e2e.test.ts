// Files in groups from the terminal (issue 15 item 1): `parus group send-file`, the members'
// `read` saving it under files/GROUP, `history` and `download` naming the group. The real
// `parus` binary for two accounts and a real relay process over loopback WebSockets.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';
import { formGroup } from './support/friends.ts';

const { parus, json, home, relayAddress, befriend, device } = cliWorld('group-files-e2e');
const root = mkdtempSync(join(tmpdir(), 'parus-group-files-'));

// The smallest valid PNG (1×1): `send-file` takes the type from its bytes and makes a preview.
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==',
  'base64',
);

describe('parus group send-file', () => {
  let id = '';

  it('sets up a group of two', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    await befriend('alice', 'bob');
    id = await formGroup(device('alice'), 'Birds', [{ json: device('bob'), alias: 'Bob' }]);
  }, 240_000);

  it('sends a photo and a file into the group; the member saves both and history shows them', async () => {
    const photo = join(root, 'bird');
    writeFileSync(photo, PNG);
    const sent = await json('alice', ['group', 'send-file', id, photo]);
    expect(sent.message).toMatchObject({
      kind: 'file',
      group: id,
      file: { name: 'bird', mime: 'image/png' },
    });
    expect((sent.message as { file: { thumbnail?: unknown } }).file.thumbnail).toBeDefined();
    const contents = Buffer.concat([Buffer.from('檔案內容 '), randomBytes(100_000)]);
    const doc = join(root, 'notes.bin');
    writeFileSync(doc, contents);
    await json('alice', ['group', 'send-file', 'Birds', doc, '--name', '會議紀錄.bin']);

    const read = await json('bob', ['read']);
    const files = (
      read.messages as Array<{ group?: string; saved?: string; file?: { name: string } }>
    ).filter((m) => m.group === id && m.file);
    expect(files.map((m) => m.file!.name)).toEqual(['bird', '會議紀錄.bin']);
    expect(dirname(files[0]!.saved!)).toBe(join(home('bob'), 'files', 'Birds'));
    expect(readFileSync(files[0]!.saved!).equals(PNG)).toBe(true);
    expect(readFileSync(files[1]!.saved!).equals(contents)).toBe(true);

    const human = await parus('bob', ['history', 'Birds']);
    expect(human.stdout).toContain('會議紀錄.bin');
    const hid = (read.messages as Array<{ id: string; file?: { name: string } }>).find(
      (m) => m.file?.name === 'bird',
    )!.id;
    const again = await json('bob', ['download', 'Birds', hid.slice(0, 12)]);
    expect(readFileSync(String(again.saved)).equals(PNG)).toBe(true);
  }, 240_000);

  it('refuses a missing file and a group that does not exist, with typed errors', async () => {
    const missing = await parus('alice', ['group', 'send-file', id, join(root, 'nope')]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/UsageError/);
    const photo = join(root, 'bird');
    const nogroup = await parus('alice', ['group', 'send-file', 'NoSuchGroup', photo]);
    expect(nogroup.code).not.toBe(0);
    expect(nogroup.stderr).toMatch(/NotFoundError/);
  }, 120_000);
});
