// Photos and files in a group between the browser and the terminal (issue 15 item 1): a photo
// sent with `parus group send-file` shows in the browser's group with its preview and opens in
// full; a file sent from the browser's group composer is saved by the CLI's `read` with the
// same bytes; a file larger than the relay takes gets a clear message. Desktop and 390×844.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, openPerson, shot, startWorld, type Person, type World } from './helpers/app.ts';
import { browserMeetsCli, runCli, testPhoto } from './helpers/cli.ts';

const GROUP = '賞鳥社';
let world: World;
let web: Person;
let home: string;

function cli(args: string[]): Promise<Record<string, unknown>> {
  return runCli(home, args, { passphrase: 'bob cli passphrase 5' });
}

beforeAll(async () => {
  // A relay that takes files up to 1 MB, so that a too-big file is quick to make.
  world = await startWorld({ servedByRelay: true, maxBlobBytes: 1024 * 1024 });
  home = join(world.dir, 'bob');
  web = await openPerson(world);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('files in a group, browser and CLI', () => {
  let gid = '';

  it('a CLI account makes a group and the browser joins it', async () => {
    const page = web.page;
    await browserMeetsCli(page, cli, world.relay.address);
    gid = ((await cli(['group', 'create', GROUP])).group as { id: string }).id;
    await cli(['group', 'invite', gid, 'amei']);
    const item = page
      .getByRole('list', { name: '聊天列表' })
      .getByRole('button', { name: new RegExp(GROUP) });
    await item.getByText('新邀請').waitFor(WAIT);
    await item.click();
    await page.getByRole('button', { name: '加入', exact: true }).click();
    await page.getByLabel('輸入訊息').waitFor(WAIT);
    for (let i = 0; i < 8; i++) {
      await cli(['read']);
      const v = await cli(['group', 'members', gid]);
      const members = v.members as Array<{ linked: boolean }>;
      if (members.length === 2 && members.every((m) => m.linked)) break;
    }
    await page.getByText('成員 2 人').first().waitFor(WAIT);
  }, 240_000);

  it('a photo from `parus group send-file` shows with its preview in the group and opens in full', async () => {
    const page = web.page;
    const bytes = testPhoto(900, 600);
    const path = join(world.dir, 'IMG_0415');
    await writeFile(path, bytes);
    await cli(['group', 'send-file', gid, path]);
    const list = page.getByRole('list', { name: new RegExp(GROUP) });
    const preview = list.locator('.msg-in .file-image img.thumbnail');
    await preview.waitFor(WAIT);
    const shape = await preview.evaluate((img: HTMLImageElement) =>
      img.decode().then(() => ({ w: img.naturalWidth, h: img.naturalHeight })),
    );
    expect(shape.w / shape.h).toBeCloseTo(1.5, 1);
    await shot(page, 'zh-TW-50-group-photo');
    await list.getByRole('button', { name: '開啟照片 IMG_0415' }).click();
    const full = page.locator('.image-viewer img.full-image');
    await full.waitFor(WAIT);
    const size = await full.evaluate((img: HTMLImageElement) =>
      img.decode().then(() => ({ w: img.naturalWidth, h: img.naturalHeight })),
    );
    expect(size).toEqual({ w: 900, h: 600 });
    await page.keyboard.press('Escape');
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('a file from the browser group composer is saved by `parus read` with the same bytes (390×844)', async () => {
    const page = web.page;
    await page.setViewportSize({ width: 390, height: 844 });
    const contents = Buffer.from('賞鳥紀錄：八色鳥、藍鵲、五色鳥。\n'.repeat(400));
    await page.locator('.composer input[type="file"]').setInputFiles({
      name: '賞鳥紀錄.txt',
      mimeType: 'text/plain',
      buffer: contents,
    });
    const list = page.getByRole('list', { name: new RegExp(GROUP) });
    await list.locator('.msg-out .file-card', { hasText: '賞鳥紀錄.txt' }).waitFor(WAIT);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, 'zh-TW-51-group-file-390');
    let saved: string | undefined;
    for (let i = 0; i < 8 && !saved; i++) {
      const read = await cli(['read']);
      saved = (read.messages as Array<{ group?: string; saved?: string; file?: { name: string } }>).find(
        (m) => m.group === gid && m.file?.name === '賞鳥紀錄.txt',
      )?.saved;
    }
    expect(saved).toBeDefined();
    expect(Buffer.compare(await readFile(saved!), contents)).toBe(0);
    await page.setViewportSize({ width: 960, height: 640 });
    expect(web.problems).toEqual([]);
  }, 180_000);

  it('a file larger than the relay takes is refused in the group with a message, nothing sent', async () => {
    const page = web.page;
    await page.locator('.composer input[type="file"]').setInputFiles({
      name: 'big.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(1536 * 1024, 1),
    });
    await page.getByRole('alert').getByText('big.bin：檔案太大，無法傳送。').waitFor(WAIT);
    const list = page.getByRole('list', { name: new RegExp(GROUP) });
    expect(await list.locator('.file-card', { hasText: 'big.bin' }).count()).toBe(0);
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('a group muted and pinned from the list: the account keeps both (a reload), the title leaves it out', async () => {
    const page = web.page;
    const list = page.getByRole('list', { name: '聊天列表' });
    const menuOf = async (chat: string): Promise<void> => {
      await list.locator(`li[data-chat^="${chat}"]`).getByRole('button', { name: '聊天選項' }).click();
      await page.getByRole('menu', { name: '聊天選項' }).waitFor(WAIT);
    };
    await menuOf('g:');
    await page.getByRole('menuitem', { name: '關閉提醒' }).click();
    await list
      .locator('li[data-chat^="g:"]')
      .getByText('已靜音')
      .waitFor({ ...WAIT, state: 'attached' });
    await menuOf('g:');
    await page.getByRole('menuitem', { name: '釘選' }).click();
    await list
      .locator('li.chat-row')
      .first()
      .getByText('已釘選')
      .waitFor({ ...WAIT, state: 'attached' });
    expect(await list.locator('li.chat-row').first().getAttribute('data-chat')).toBe(`g:${gid}`);
    // Nothing of it is kept in the browser's own storage.
    const kept = await page.evaluate(() => [
      localStorage.getItem('parus.muted'),
      localStorage.getItem('parus-chat-prefs'),
    ]);
    expect(kept[0]).toBeNull();
    expect(kept[1] ?? '').not.toContain(gid);

    // Opened elsewhere: a message into the muted group does not count in the title.
    await page.getByRole('list', { name: '聊天列表' }).getByRole('button', { name: /Bob/ }).first().click();
    await cli(['group', 'send', gid, '靜音中的群組訊息']);
    const item = list.locator(`li[data-chat="g:${gid}"]`);
    await item.locator('.badge-muted').waitFor({ ...WAIT, state: 'attached' });
    expect(await page.title()).toBe('Parus 山雀');
    await shot(page, 'zh-TW-52-group-muted-pinned');

    await page.reload();
    await page.getByLabel('密碼', { exact: true }).fill('web passphrase 8642');
    await page.getByRole('button', { name: '解鎖' }).click();
    await list
      .locator(`li[data-chat="g:${gid}"]`)
      .getByText('已靜音')
      .waitFor({ ...WAIT, state: 'attached' });
    expect(await list.locator('li.chat-row').first().getAttribute('data-chat')).toBe(`g:${gid}`);
    await menuOf('g:');
    await page.getByRole('menuitem', { name: '開啟提醒' }).click();
    await list
      .locator(`li[data-chat="g:${gid}"]`)
      .getByText('已靜音')
      .waitFor({ ...WAIT, state: 'detached' });
    expect(web.problems).toEqual([]);
  }, 180_000);

  it('mutes and pins an older version kept in the browser move into the account once', async () => {
    const page = web.page;
    const list = page.getByRole('list', { name: '聊天列表' });
    // As an older version left them: the pin by name, the mute as a salted SHA-256 digest.
    await page.evaluate(async () => {
      const salt = 'a1b2c3';
      const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`${salt}\nBob`));
      const digest = Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('');
      localStorage.setItem('parus.muted', JSON.stringify({ salt, digests: [digest] }));
      localStorage.setItem('parus-chat-prefs', JSON.stringify({ pinned: ['c:Bob'], hidden: {} }));
    });
    await page.reload();
    await page.getByLabel('密碼', { exact: true }).fill('web passphrase 8642');
    await page.getByRole('button', { name: '解鎖' }).click();
    const bob = list.locator('li[data-chat="c:Bob"]');
    await bob.getByText('已靜音').waitFor({ ...WAIT, state: 'attached' });
    await bob.getByText('已釘選').waitFor({ ...WAIT, state: 'attached' });
    await page.waitForFunction(() => localStorage.getItem('parus.muted') === null, undefined, WAIT);
    const prefs = await page.evaluate(() => localStorage.getItem('parus-chat-prefs') ?? '');
    expect(prefs).not.toContain('c:Bob');
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('變更密碼 in the settings: a wrong current passphrase changes nothing; the new one unlocks, the old one no longer', async () => {
    const page = web.page;
    await page.getByRole('button', { name: '設定' }).click();
    const form = page.locator('form.passphrase-change');
    await form.getByLabel('目前的密碼').fill('not my passphrase');
    await form.getByLabel('新密碼', { exact: true }).fill('新的網頁密碼 2026');
    await form.getByLabel('再輸入一次新密碼').fill('新的網頁密碼 2026');
    await form.getByRole('button', { name: '變更密碼' }).click();
    await form.getByRole('alert').getByText('目前的密碼不正確，什麼都沒有變更。').waitFor(WAIT);
    await form.getByLabel('目前的密碼').fill('web passphrase 8642');
    await form.getByRole('button', { name: '變更密碼' }).click();
    await form.getByRole('status').getByText('密碼已變更').waitFor(WAIT);
    await shot(page, 'zh-TW-53-change-passphrase');
    await page.reload();
    await page.getByLabel('密碼', { exact: true }).fill('web passphrase 8642');
    await page.getByRole('button', { name: '解鎖' }).click();
    await page.getByRole('alert').first().waitFor(WAIT);
    await page.getByLabel('密碼', { exact: true }).fill('新的網頁密碼 2026');
    await page.getByRole('button', { name: '解鎖' }).click();
    await page.getByRole('list', { name: '聊天列表' }).waitFor(WAIT);
    // The account passphrase changed with it (decision 0061): a backup refuses the old one.
    await page.getByRole('button', { name: '設定' }).first().click();
    await page.getByRole('dialog', { name: '設定' }).getByRole('button', { name: '備份' }).click();
    const backup = page.getByRole('dialog', { name: '備份' });
    await backup.waitFor(WAIT);
    await backup.getByLabel('帳號密碼').fill('web passphrase 8642');
    await backup.getByRole('button', { name: '匯出備份檔' }).click();
    await backup.getByText('帳號密碼錯誤，沒有任何變更。').waitFor(WAIT);
    await page.keyboard.press('Escape');
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('the add-friend and new-group buttons draw different icons', async () => {
    const page = web.page;
    const svg = (name: string): Promise<string> =>
      page.getByRole('button', { name, exact: true }).first().locator('svg').innerHTML();
    expect(await svg('加入好友')).not.toBe(await svg('建立群組'));
  });
});
