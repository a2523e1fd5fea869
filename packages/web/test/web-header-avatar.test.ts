// Issue 15, what was left (decision 0066) in Chromium: a group's picture set by its admin shows in
// the chat list and the group header of every member (a CLI admin's shows in the browser, the
// browser admin's reaches the CLI); a file that is not a picture gets a clear message. At 390×844
// a chat's and a group's title keep their room: the header's buttons move into a ⋯ menu, and
// nothing scrolls sideways.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, openPerson, shot, startWorld, type Person, type World } from './helpers/app.ts';
import { browserMeetsCli, runCli, testPhoto } from './helpers/cli.ts';

const GROUP = '台北賞鳥社・週末清晨觀察小組';
let world: World;
let web: Person;
let home: string;
let gid = '';

function cli(args: string[]): Promise<Record<string, unknown>> {
  return runCli(home, args, { passphrase: 'bob cli passphrase 5' });
}

/** The title's width, the page's sideways scroll, and whether the header's buttons stand in it. */
async function headerLayout(page: Page): Promise<{ title: number; scroll: number; moreShown: boolean }> {
  return page.evaluate(() => {
    const heads = Array.from(document.querySelectorAll('.chat-head')) as HTMLElement[];
    const head = heads.find((h) => h.offsetParent !== null)!;
    const more = head.querySelector('.head-more') as HTMLElement;
    return {
      title: (head.querySelector('.chat-title') as HTMLElement).getBoundingClientRect().width,
      scroll: document.documentElement.scrollWidth,
      moreShown: getComputedStyle(more).display !== 'none',
    };
  });
}

beforeAll(async () => {
  world = await startWorld({ servedByRelay: true });
  home = join(world.dir, 'bob');
  web = await openPerson(world);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('group pictures and the chat header on a phone', () => {
  it('a group picture set by the CLI admin shows in the list and header; the browser admin sets one that reaches the CLI', async () => {
    const page = web.page;
    await browserMeetsCli(page, cli, world.relay.address);
    const list = page.getByRole('list', { name: '聊天列表' });
    gid = ((await cli(['group', 'create', GROUP])).group as { id: string }).id;
    await cli(['group', 'invite', gid, 'amei']);
    const item = list.getByRole('button', { name: new RegExp(GROUP) });
    await item.getByText('新邀請').waitFor(WAIT);
    await item.click();
    await page.getByRole('button', { name: '加入', exact: true }).click();
    await page.getByLabel('輸入訊息').waitFor(WAIT);
    for (let i = 0; i < 8; i++) {
      await cli(['read']);
      const members = (await cli(['group', 'members', gid])).members as Array<{ linked: boolean }>;
      if (members.length === 2 && members.every((m) => m.linked)) break;
    }

    // The CLI admin's picture: shrunk to ≤ 128 px, in the chat list and the group header.
    const big = join(world.dir, 'egret.jpg');
    await writeFile(big, testPhoto(1000, 700, 200));
    await cli(['group', 'avatar', gid, big]);
    await item.locator('img.avatar-picture').waitFor(WAIT);
    const head = page.locator('.chat-head img.group-avatar');
    await head.waitFor(WAIT);
    const size = await head.evaluate((img: HTMLImageElement) =>
      img.decode().then(() => [img.naturalWidth, img.naturalHeight]),
    );
    expect(size).toEqual([128, 90]);
    // Not an admin: the panel has no picture control.
    await page.locator('.chat-head').getByRole('button', { name: '成員' }).click();
    const panel = page.getByRole('dialog');
    await panel.getByText('成員 2 人').first().waitFor(WAIT);
    expect(await panel.getByLabel('選擇圖片').count()).toBe(0);
    await page.keyboard.press('Escape');

    // Made admin, the browser user changes it from the group's panel.
    await cli(['group', 'role', gid, 'amei', 'admin']);
    await cli(['group', 'avatar', gid, '--none']);
    await item.locator('img.avatar-picture').waitFor({ state: 'detached', timeout: WAIT.timeout });
    await page.locator('.chat-head').getByRole('button', { name: '成員' }).click();
    const choose = panel.getByLabel('選擇圖片');
    await choose.waitFor(WAIT);
    const notes = join(world.dir, 'notes.txt');
    await writeFile(notes, 'not a picture');
    await choose.setInputFiles(notes);
    await panel.getByRole('alert').getByText('這個檔案不是圖片，群組頭像沒有變更。').waitFor(WAIT);
    const mine = join(world.dir, 'bulbul.jpg');
    await writeFile(mine, testPhoto(640, 640, 40));
    await choose.setInputFiles(mine);
    await panel.getByRole('status').getByText('群組頭像已更新，每位成員都會看到').waitFor(WAIT);
    await panel.getByRole('button', { name: '移除圖片' }).waitFor(WAIT);
    await shot(page, 'zh-TW-66-group-avatar-panel');
    await page.keyboard.press('Escape');
    await item.locator('img.avatar-picture').waitFor(WAIT);
    let seen: Record<string, unknown> = {};
    for (let i = 0; i < 10 && seen.avatar !== true; i++) {
      await cli(['read']);
      seen = ((await cli(['group', 'list'])).groups as Array<Record<string, unknown>>)[0]!;
    }
    expect(seen).toMatchObject({ id: gid, avatar: true });
    await shot(page, 'zh-TW-67-group-avatar');
    expect(web.problems).toEqual([]);
  }, 300_000);

  it('at 390×844 the titles keep their room: the buttons are in a ⋯ menu, nothing scrolls sideways', async () => {
    const page = web.page;
    const list = page.getByRole('list', { name: '聊天列表' });
    // Wide: the buttons stand in the header, no ⋯.
    await list.getByRole('button', { name: /Bob/ }).click();
    await page.locator('.chat-head').getByRole('button', { name: '安全碼' }).waitFor(WAIT);
    expect((await headerLayout(page)).moreShown).toBe(false);

    await page.setViewportSize({ width: 390, height: 844 });
    const chat = await headerLayout(page);
    expect(chat.moreShown).toBe(true);
    expect(chat.title).toBeGreaterThanOrEqual(200);
    expect(chat.scroll).toBeLessThanOrEqual(390);
    const safety = page.locator('.chat-head').getByRole('button', { name: '安全碼' });
    expect(await safety.isVisible()).toBe(false);
    await page.locator('.chat-head').getByRole('button', { name: '更多動作' }).click();
    await safety.waitFor(WAIT);
    await shot(page, 'zh-TW-68-chat-header-390');
    await safety.click();
    await page.getByRole('dialog').waitFor(WAIT);
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: '返回聊天列表' }).click();

    await list.getByRole('button', { name: new RegExp(GROUP) }).click();
    await page.getByLabel('輸入訊息').waitFor(WAIT);
    const group = await headerLayout(page);
    expect(group.moreShown).toBe(true);
    expect(group.title).toBeGreaterThanOrEqual(200);
    expect(group.scroll).toBeLessThanOrEqual(390);
    // The long name ends in an ellipsis inside the title's room.
    const h2 = await page.locator('.chat-head h2').evaluate((e: HTMLElement) => ({
      overflow: getComputedStyle(e).textOverflow,
      clipped: e.scrollWidth > e.clientWidth,
    }));
    expect(h2).toEqual({ overflow: 'ellipsis', clipped: true });
    await shot(page, 'zh-TW-69-group-header-390');
    await page.locator('.chat-head').getByRole('button', { name: '更多動作' }).click();
    await page.locator('.chat-head').getByRole('button', { name: '成員' }).click();
    await page.getByRole('dialog').getByText('成員 2 人').first().waitFor(WAIT);
    await page.keyboard.press('Escape');
    await page.setViewportSize({ width: 960, height: 640 });
    expect(web.problems).toEqual([]);
  }, 120_000);
});
