// Groups as rich as 1:1 chats, message actions and the chat list (issue 15 items 1, 4, 5, 8),
// two browsers on one loopback relay: 阿美 and 小明 are friends and in a group. In the group:
// bubbles grow with their text and the time sits beside them (desktop and 390×844), a sticker
// as a reply, a jump to the quoted message, a reaction, 收回, clickable http(s) links only,
// 設為公告 from a message, copy, forward to the 1:1 chat, delete for me. The chat list: pin,
// mute, hide, delete; no sideways scroll at 390 px and an ellipsis on a group's second line.
// The verify banner's 稍後再說 survives a reload; the relay address follows the page's origin.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DIST,
  WAIT,
  befriend,
  chatList,
  createAccount,
  openPerson,
  shot,
  startWorld,
  type Person,
  type World,
} from './helpers/app.ts';
import { launchChromium } from './helpers/browser.ts';
import { serveStatic } from './helpers/static-server.ts';

let world: World;
let amei: Person;
let ming: Person;
const PASS = { amei: 'amei actions pass 1357', ming: 'ming actions pass 2468' };
const GROUP = '週末一起去花蓮看海然後吃麻糬的群組';
const LONG = '這是一段比較長的訊息，用來確認群組裡的對話泡泡會跟著文字變寬，而不是四五個字就換行。';

const groupMessages = (page: Page) => page.getByRole('list', { name: `與 ${GROUP} 的訊息` });

async function noSidewaysScroll(page: Page): Promise<void> {
  const over = await page.evaluate(() => {
    const els = [
      document.scrollingElement!,
      ...Array.from(document.querySelectorAll('.chat-list, .messages, .sidebar')),
    ];
    return els.filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => `${e.className}:${e.scrollWidth}`);
  });
  expect(over).toEqual([]);
}

/** The bubble's width and the gap between it and its time. */
async function bubbleGeometry(page: Page, text: string): Promise<{ width: number; gap: number }> {
  const row = groupMessages(page).locator('li.msg', { hasText: text }).first();
  const b = (await row.locator('.bubble').boundingBox())!;
  const tm = (await row.locator('time').boundingBox())!;
  const gap = tm.x >= b.x + b.width ? tm.x - (b.x + b.width) : b.x - (tm.x + tm.width);
  return { width: b.width, gap };
}

async function openMenu(page: Page, text: string): Promise<void> {
  const row = groupMessages(page).locator('li.msg', { hasText: text }).first();
  await row.hover();
  await row.getByRole('button', { name: '更多選項' }).click();
  await page.getByRole('menu', { name: '訊息選項' }).waitFor(WAIT);
}

beforeAll(async () => {
  world = await startWorld();
  [amei, ming] = await Promise.all([openPerson(world), openPerson(world)]);
  await amei.context.grantPermissions(['clipboard-read', 'clipboard-write']);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('group and message actions in the browser', () => {
  it('friends; 稍後再說 on the verify banner stays put off after a reload', async () => {
    await Promise.all([
      createAccount(amei.page, '阿美', PASS.amei, world.relay.address),
      createAccount(ming.page, '小明', PASS.ming, world.relay.address),
    ]);
    await befriend(amei, ming, '阿美', '小明');
    await ming.page.getByRole('button', { name: '稍後再說' }).click();
    await ming.page.reload();
    await ming.page.getByLabel('密碼', { exact: true }).fill(PASS.ming);
    await ming.page.getByRole('button', { name: '解鎖' }).click();
    await chatList(ming.page).getByRole('button', { name: /阿美/ }).first().click();
    await ming.page.getByLabel('輸入訊息').waitFor(WAIT);
    expect(await ming.page.getByText('還沒有和 阿美 比對安全碼', { exact: false }).count()).toBe(0);
  });

  it('in a group, bubbles grow with the text and the time sits beside them', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '建立群組' }).click();
    await page.getByLabel('群組名稱').fill(GROUP);
    await page.getByRole('checkbox', { name: '小明' }).check();
    await page.getByRole('button', { name: '建立', exact: true }).click();
    await page.getByRole('heading', { name: GROUP }).waitFor(WAIT);
    const item = chatList(ming.page).getByRole('button', { name: new RegExp(GROUP) });
    await item.getByText('新邀請').waitFor(WAIT);
    await item.click();
    await ming.page.getByRole('button', { name: '加入', exact: true }).click();
    await ming.page.getByLabel('輸入訊息').waitFor(WAIT);
    // Both sides see the join before 阿美 writes. Once, at the end of a full suite run (load
    // ~20), a message sent in the very instant of the join had not reached 小明 after 80 s
    // (not reproduced alone or three runs at once; not diagnosed: see the session notes).
    for (const p of [amei, ming]) await p.page.getByText('成員 2 人').first().waitFor({ timeout: 60_000 });

    const box = page.getByLabel('輸入訊息');
    await box.fill('短');
    await box.press('Enter');
    await box.fill(LONG);
    await box.press('Enter');
    await groupMessages(ming.page).locator('.msg-in', { hasText: LONG }).waitFor(WAIT);
    for (const p of [amei, ming]) {
      const short = await bubbleGeometry(p.page, '短');
      const long = await bubbleGeometry(p.page, LONG);
      expect(long.width).toBeGreaterThan(short.width * 3);
      expect(long.width).toBeGreaterThan(300);
      expect(long.gap).toBeLessThan(16);
    }
    await ming.page.setViewportSize({ width: 390, height: 844 });
    const narrow = await bubbleGeometry(ming.page, LONG);
    expect(narrow.width).toBeGreaterThan(200);
    expect(narrow.gap).toBeLessThan(16);
    await noSidewaysScroll(ming.page);
    await shot(ming.page, 'zh-TW-40-group-bubbles-390');
    await ming.page.setViewportSize({ width: 960, height: 640 });
  });

  it('a sticker as a reply, a jump to the quote, a reaction and 收回 in the group', async () => {
    const page = ming.page;
    const row = groupMessages(page).locator('li.msg', { hasText: LONG });
    await row.hover();
    await row.getByRole('button', { name: '回覆' }).click();
    await page.getByRole('button', { name: '貼圖', exact: true }).click();
    await page.getByRole('group', { name: '選擇貼圖' }).getByRole('button').first().click();
    const atAmei = groupMessages(amei.page).locator('li.msg-in[data-kind="sticker"]');
    await atAmei.locator('img.sticker').waitFor(WAIT);
    const quote = atAmei.getByRole('button', { name: '跳到被回覆的訊息' });
    await quote.click();
    await groupMessages(amei.page).locator('li.msg-flash', { hasText: LONG }).waitFor(WAIT);

    // 阿美 reacts to the sticker; 小明 sees it under the bubble.
    await atAmei.hover();
    await atAmei.getByRole('button', { name: '更多選項' }).click();
    await amei.page.getByRole('menuitem', { name: '以 👍 回應' }).click();
    const reaction = groupMessages(page).locator('li.msg-out[data-kind="sticker"] .reactions .reaction');
    await reaction.waitFor(WAIT);
    expect(await reaction.innerText()).toContain('👍');
    await shot(amei.page, 'zh-TW-41-group-sticker-reply-reaction');

    // 阿美 takes her short message back.
    await openMenu(amei.page, '短');
    await amei.page.getByRole('menuitem', { name: '收回' }).click();
    await amei.page.getByRole('dialog', { name: '收回訊息？' }).getByRole('button', { name: '收回' }).click();
    await groupMessages(page).getByText('對方已收回訊息').waitFor(WAIT);
  });

  it('links open only for http(s), nothing is fetched; 設為公告, copy, forward and delete for me', async () => {
    const fetched: string[] = [];
    amei.page.on('request', (r) => {
      if (r.url().includes('example.com')) fetched.push(r.url());
    });
    const box = ming.page.getByLabel('輸入訊息');
    await box.fill('集合地點 https://example.com/map?x=1。不要點 javascript:alert(1)');
    await box.press('Enter');
    const linkRow = groupMessages(amei.page).locator('li.msg-in', { hasText: '集合地點' });
    const link = linkRow.getByRole('link');
    await link.waitFor(WAIT);
    expect(await link.count()).toBe(1);
    expect(await link.getAttribute('href')).toBe('https://example.com/map?x=1');
    expect(await link.getAttribute('rel')).toBe('noopener noreferrer');
    expect(fetched).toEqual([]);

    await openMenu(amei.page, '集合地點');
    await amei.page.getByRole('menuitem', { name: '設為公告' }).click();
    await ming.page
      .getByRole('region', { name: '公告' })
      .getByText('集合地點', { exact: false })
      .waitFor(WAIT);

    await openMenu(amei.page, '集合地點');
    await amei.page.getByRole('menuitem', { name: '複製' }).click();
    expect(await amei.page.evaluate(() => navigator.clipboard.readText())).toContain(
      'https://example.com/map?x=1',
    );

    await openMenu(amei.page, LONG);
    await amei.page.getByRole('menuitem', { name: '轉傳' }).click();
    const dialog = amei.page.getByRole('dialog', { name: '轉傳給…' });
    await dialog.getByRole('button', { name: '小明' }).click();
    await amei.page
      .getByRole('list', { name: '與 小明 的訊息' })
      .locator('.msg-out', { hasText: LONG })
      .waitFor(WAIT);

    // Delete for me: gone for 阿美 only.
    await chatList(amei.page)
      .getByRole('button', { name: new RegExp(GROUP) })
      .click();
    await openMenu(amei.page, '集合地點');
    await amei.page.getByRole('menuitem', { name: '刪除' }).click();
    await groupMessages(amei.page)
      .locator('li.msg', { hasText: '集合地點' })
      .waitFor({ ...WAIT, state: 'detached' });
    expect(await groupMessages(ming.page).locator('li.msg', { hasText: '集合地點' }).count()).toBe(1);
  });

  it('the chat list: pin, mute, hide and delete from a chat’s menu; no sideways scroll at 390 px', async () => {
    const page = amei.page;
    const list = chatList(page);
    // A long last message in the group, for its second line in the list.
    await ming.page.getByLabel('輸入訊息').fill(LONG);
    await ming.page.getByLabel('輸入訊息').press('Enter');
    await list.locator('li[data-chat^="g:"] .chat-preview', { hasText: '這是一段比較長' }).waitFor(WAIT);
    const menuOf = async (chat: string): Promise<void> => {
      await list.locator(`li[data-chat^="${chat}"]`).getByRole('button', { name: '聊天選項' }).click();
      await page.getByRole('menu', { name: '聊天選項' }).waitFor(WAIT);
    };
    await menuOf('c:小明');
    await page.getByRole('menuitem', { name: '釘選' }).click();
    await list
      .locator('li.chat-row')
      .first()
      .getByText('已釘選')
      .waitFor({ ...WAIT, state: 'attached' });
    expect(await list.locator('li.chat-row').first().getAttribute('data-chat')).toBe('c:小明');
    await menuOf('c:小明');
    await page.getByRole('menuitem', { name: '關閉提醒' }).click();
    await list
      .locator('li[data-chat="c:小明"]')
      .getByText('已靜音')
      .waitFor({ ...WAIT, state: 'attached' });

    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('button', { name: '返回聊天列表' }).click();
    await list.waitFor(WAIT);
    await noSidewaysScroll(page);
    const preview = list.locator(`li[data-chat^="g:"] .chat-preview`);
    const style = await preview.evaluate((e) => {
      const s = getComputedStyle(e);
      return { overflow: s.textOverflow, clipped: e.scrollWidth > e.clientWidth };
    });
    expect(style).toEqual({ overflow: 'ellipsis', clipped: true });
    await shot(page, 'zh-TW-42-chat-list-390');
    await page.setViewportSize({ width: 960, height: 640 });

    await menuOf('g:');
    await page.getByRole('menuitem', { name: '隱藏' }).click();
    await list.locator('li[data-chat^="g:"]').waitFor({ ...WAIT, state: 'detached' });
    await menuOf('c:小明');
    await page.getByRole('menuitem', { name: '刪除聊天' }).click();
    await page.getByRole('dialog', { name: '刪除聊天？' }).getByRole('button', { name: '刪除聊天' }).click();
    await list.locator('li[data-chat="c:小明"]').waitFor({ ...WAIT, state: 'detached' });
    // A new message brings the chat back, with only what came after.
    const box = ming.page.getByLabel('輸入訊息');
    await chatList(ming.page).getByRole('button', { name: /阿美/ }).first().click();
    await box.fill('還在嗎？');
    await box.press('Enter');
    await list.locator('li[data-chat="c:小明"]').waitFor(WAIT);
    await list.locator('li[data-chat="c:小明"]').getByRole('button', { name: /小明/ }).first().click();
    const msgs = page.getByRole('list', { name: '與 小明 的訊息' });
    await msgs.getByText('還在嗎？').waitFor(WAIT);
    expect(await msgs.locator('li.msg', { hasText: LONG }).count()).toBe(0);
  });

  it('the relay address offered for a new account follows the host and port the page came through', async () => {
    const server = await serveStatic({ files: DIST, relayAddress: world.relay.address, likeRelay: true });
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext({ locale: 'zh-TW' })).newPage();
      await page.goto(server.url);
      const port = new URL(server.url).port;
      const fingerprint = /^parus:\/\/([^@]+)@/.exec(world.relay.address)![1];
      await page.waitForFunction(
        (want) => (document.querySelector('input[name="relay"]') as HTMLInputElement | null)?.value === want,
        `parus://${fingerprint}@127.0.0.1:${port}`,
        WAIT,
      );
    } finally {
      await browser.close();
      await server.close();
    }
  });
});
