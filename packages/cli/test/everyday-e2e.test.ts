// The CLI for everyday use (issue 15), end to end on a real relay over loopback WebSockets:
// global options before the command, zh-TW messages under a zh_TW locale, `--reply` with the
// short id `read` prints, `read --mark-read`, and a photo sent by `send-file` arriving with its
// type and a preview (what the web client needs to show it as a photo, not a file box).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress, home } = cliWorld('everyday-e2e');
const scratch = mkdtempSync(join(tmpdir(), 'parus-everyday-files-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Msg {
  id: string;
  dir: 'in' | 'out';
  text: string;
  status: string;
  replyTo?: string;
  file?: { name: string; mime: string; size: number; thumbnail?: string };
}

/** A JPEG photo of `width` × `height` pixels: a colour gradient, so it does not compress to nothing. */
function photo(width: number, height: number): Uint8Array {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4;
      data[i] = (x * 255) / width;
      data[i + 1] = (y * 255) / height;
      data[i + 2] = ((x + y) * 7) % 256;
      data[i + 3] = 255;
    }
  return new Uint8Array(jpeg.encode({ width, height, data }, 90).data);
}

describe('parus for everyday use', () => {
  beforeAll(async () => {
    // Global options before the command: --home and --json ahead of `init` (issue 15).
    for (const who of ['alice', 'bob'] as const) {
      const r = await parus(who, [
        '--home',
        home(who),
        '--json',
        'init',
        '--name',
        who,
        '--relay',
        relayAddress(),
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout.trim())).toMatchObject({ home: home(who), name: who });
    }
    const invite = await json('alice', ['invite']);
    await json('bob', ['accept', String(invite.link), '--alias', 'alice']);
    await json('alice', ['read']);
    await json('bob', ['read']);
  }, 180_000);

  it('takes global options before or after the command, and --home=DIR', async () => {
    const other = join(scratch, 'nobody');
    const before = await parus('alice', [`--home=${other}`, '--json', 'contacts']);
    expect(before.code).toBe(1);
    expect(JSON.parse(before.stdout.trim()).error).toMatchObject({ name: 'NotFoundError' });
    const after = await parus('alice', ['contacts', '--home', home('alice'), '--json']);
    expect(after.code, after.stderr).toBe(0);
    expect(JSON.parse(after.stdout.trim()).contacts).toMatchObject([{ alias: 'bob' }]);
    // An option that belongs to a command, given before it, is refused with a usage error.
    const misplaced = await parus('alice', ['--port', '7400', 'relay']);
    expect(misplaced.code).toBe(2);
    expect(misplaced.stderr).toContain("'--port' is not a global option");
    expect(existsSync(other)).toBe(false);
  }, 180_000);

  it('speaks Traditional Chinese under a zh_TW locale, and English otherwise', async () => {
    const zh = await parus('alice', ['--help'], { LANG: 'zh_TW.UTF-8' });
    expect(zh.stdout).toContain('用法：parus');
    expect(zh.stdout).toContain('通用選項');
    const en = await parus('alice', ['--help'], { LANG: 'fr_FR.UTF-8' });
    expect(en.stdout).toContain('Usage: parus');
    // LC_ALL comes before LANG; LC_MESSAGES before LANG too; --lang before all.
    expect((await parus('alice', ['-h'], { LC_ALL: 'C', LANG: 'zh_TW.UTF-8' })).stdout).toContain('Usage:');
    expect((await parus('alice', ['-h'], { LC_MESSAGES: 'zh_TW.UTF-8' })).stdout).toContain('用法：');
    expect((await parus('alice', ['--lang', 'zh-TW', '-h'])).stdout).toContain('用法：');
    // An error of the CLI's own, and a line `read` prints.
    const unknown = await parus('alice', ['nope'], { LANG: 'zh_TW.UTF-8' });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('沒有「nope」這個指令');
    const read = await parus('alice', ['read'], { LANG: 'zh_TW.UTF-8' });
    expect(read.stdout).toContain('沒有新訊息。');
    expect((await parus('alice', ['read'])).stdout).toContain('No new messages.');
    const bad = await parus('alice', ['--lang', 'klingon', 'read']);
    expect(bad.code).toBe(2);
  }, 180_000);

  it('--reply takes the short id read prints; read --mark-read sends read receipts', async () => {
    const sent = (await json('alice', ['send', 'bob', 'first question'])).message as Msg;
    // Without --mark-read, reading leaves the message delivered, not read.
    const plain = await parus('bob', ['read']);
    const short = /#([0-9a-f]{12})/.exec(plain.stdout)?.[1];
    expect(short).toBe(sent.id.slice(0, 12));
    await json('alice', ['read']);
    let mine = ((await json('alice', ['history', 'bob'])).messages as Msg[]).find((m) => m.id === sent.id);
    expect(mine?.status).toBe('delivered');

    const reply = (await json('bob', ['send', 'alice', 'the answer', '--reply', `#${short}`])).message as Msg;
    expect(reply.replyTo).toBe(sent.id);
    const got = (await json('alice', ['read'])).messages as Msg[];
    expect(got).toMatchObject([{ text: 'the answer', replyTo: sent.id }]);
    // A short id that names no message is refused, and nothing is sent.
    const none = await parus('bob', ['send', 'alice', 'lost', '--reply', 'ffffffffffff']);
    expect(none.code).toBe(2);

    const second = (await json('alice', ['send', 'bob', 'second question'])).message as Msg;
    const marked = await json('bob', ['read', '--mark-read']);
    expect(marked.markedRead).toBeGreaterThanOrEqual(1);
    await json('alice', ['read']);
    mine = ((await json('alice', ['history', 'bob'])).messages as Msg[]).find((m) => m.id === second.id);
    expect(mine?.status).toBe('read');
  }, 300_000);

  it('sends a photo with its type, found from its bytes, and a preview the web client shows', async () => {
    const path = join(scratch, 'IMG_0001'); // no extension: the bytes say JPEG
    writeFileSync(path, photo(1200, 800));
    await json('alice', ['send-file', 'bob', path]);
    const [m] = (await json('bob', ['read'])).messages as Msg[];
    expect(m?.file).toMatchObject({ name: 'IMG_0001', mime: 'image/jpeg' });
    const thumb = Buffer.from(m!.file!.thumbnail!, 'base64');
    expect(thumb.length).toBeLessThanOrEqual(16 * 1024);
    const decoded = jpeg.decode(thumb);
    // The photo's shape, at most 320 pixels on its longest side.
    expect(Math.max(decoded.width, decoded.height)).toBeLessThanOrEqual(320);
    expect(decoded.width / decoded.height).toBeCloseTo(1.5, 1);
  }, 180_000);
});
