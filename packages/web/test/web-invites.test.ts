// Short invitations in the browser (decision 0045), two or three people against a real relay:
// the add-friend dialog shows a short link whose QR code is version 10 at most, pasting it
// makes a friend; a spent, forged or unreachable link is told in words and adds nobody; a friend
// pasting an old link is told "already friends"; my friend code (好友條碼) stays until reset,
// after which it is refused. Desktop and 390×844. Every wait is for something on the page.
import { createServer } from 'node:net';
import { join } from 'node:path';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  formatRelayAddress,
  initCrypto,
  parseRelayAddress,
  parseShortLink,
  shortLinkToText,
} from '@parus/core';
import {
  WAIT,
  chatList,
  createAccount,
  openPerson,
  shot,
  startWorld,
  unnamedControls,
  type Person,
  type World,
} from './helpers/app.ts';

let world: World;
let amei: Person;
let ming: Person;
let hua: Person;

async function paste(page: Page, link: string): Promise<void> {
  await page.getByLabel('好友的邀請連結').fill(link);
  await page.getByRole('button', { name: '加入', exact: true }).click();
}

async function alertText(page: Page, text: string): Promise<void> {
  await page.getByRole('dialog').getByRole('alert').getByText(text, { exact: false }).waitFor(WAIT);
}

beforeAll(async () => {
  await initCrypto();
  world = await startWorld();
  [amei, ming, hua] = await Promise.all([openPerson(world), openPerson(world), openPerson(world)]);
  await hua.page.setViewportSize({ width: 390, height: 844 });
  await Promise.all([
    createAccount(amei.page, '阿美', 'amei passphrase 2468', world.relay.address),
    createAccount(ming.page, '小明', 'ming passphrase 1357', world.relay.address),
    createAccount(hua.page, '阿華', 'hua passphrase 8080', world.relay.address),
  ]);
}, 120_000);

afterAll(async () => {
  await world?.close();
});

describe('short invitations in the browser', () => {
  it('shows a short link with a small QR code, and pasting it makes friends', async () => {
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    const link = await amei.page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
    expect(link).toMatch(/^parus:i\//);
    expect(link.length).toBeLessThan(200);
    expect(QRCode.create(link, { errorCorrectionLevel: 'L' }).version).toBeLessThanOrEqual(10);
    // The QR drawn on the page is that small too: 57 modules (version 10) plus the quiet zone.
    const viewBox = await amei.page.getByRole('img', { name: '邀請連結的 QR 碼' }).getAttribute('viewBox');
    expect(Number(viewBox!.split(' ')[2])).toBeLessThanOrEqual(57 + 8);
    await shot(amei.page, 'zh-TW-50-short-invite');
    expect(await unnamedControls(amei.page)).toEqual([]);
    await amei.page.keyboard.press('Escape');

    await ming.page.getByRole('button', { name: '加入好友' }).first().click();
    await paste(ming.page, link);
    await ming.page.getByRole('heading', { name: '阿美' }).waitFor(WAIT);
    await chatList(amei.page).getByRole('button', { name: /小明/ }).waitFor(WAIT);

    // The same one-time link, now spent, pasted by someone else (390 px wide): told, nothing added.
    await hua.page.getByRole('button', { name: '加入好友' }).first().click();
    for (let i = 0; i < 30; i++) {
      await paste(hua.page, link);
      const said = hua.page.getByRole('dialog').getByRole('alert').getByText('已經用過', { exact: false });
      if (await said.isVisible({ timeout: 3_000 }).catch(() => false)) break;
    }
    await alertText(hua.page, '這個邀請連結已經用過、被重設或已過期');
    await shot(hua.page, 'zh-TW-51-spent-invite-phone');
    expect(await hua.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });

  it('a forged and an unreachable link are told in words, and add nobody', async () => {
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    await amei.page.getByRole('button', { name: '產生新的連結' }).click();
    const link = await amei.page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
    await amei.page.keyboard.press('Escape');
    const short = parseShortLink(link);
    const key = short.key.slice();
    key[0]! ^= 1;
    await paste(hua.page, shortLinkToText({ ...short, key }));
    await alertText(hua.page, '這不是有效的邀請連結');
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const gone = formatRelayAddress({ ...parseRelayAddress(short.relay), port });
    await paste(hua.page, shortLinkToText({ ...short, relay: gone }));
    await alertText(hua.page, '連不上這個邀請連結所在的中繼站');
    expect(await chatList(hua.page).count()).toBe(0);
  });

  it('my friend code stays the same, says "already friends" to a friend, and is refused after a reset', async () => {
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    await amei.page.getByRole('button', { name: '顯示我的好友條碼' }).click();
    const box = amei.page.getByLabel('我的好友條碼連結');
    const code = await box.inputValue({ timeout: WAIT.timeout });
    expect(code).toMatch(/^parus:i\//);
    await amei.page.getByRole('img', { name: '好友條碼的 QR 碼' }).waitFor(WAIT);
    await shot(amei.page, 'zh-TW-52-friend-code');
    expect(await unnamedControls(amei.page)).toEqual([]);
    await amei.page.keyboard.press('Escape');

    // Hua (on a phone) adds Amei by the code; pasting it again is "already friends", no key warning.
    await paste(hua.page, code);
    await hua.page.getByRole('heading', { name: '阿美' }).waitFor(WAIT);
    await hua.page.getByRole('button', { name: '返回聊天列表' }).click();
    await hua.page.getByRole('button', { name: '加入好友' }).first().click();
    await paste(hua.page, code);
    await alertText(hua.page, '你們已經是好友了');
    await hua.page.keyboard.press('Escape');

    // The same code when the dialog opens again; then a reset, confirmed.
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    await amei.page.getByRole('button', { name: '顯示我的好友條碼' }).click();
    expect(await box.inputValue({ timeout: WAIT.timeout })).toBe(code);
    await amei.page.getByRole('button', { name: '重設條碼' }).click();
    await amei.page.getByRole('button', { name: '確定重設' }).click();
    await amei.page.getByText('已重設，舊的條碼已失效。').waitFor(WAIT);
    expect(await box.inputValue()).not.toBe(code);
    await amei.page.keyboard.press('Escape');

    await ming.page.getByRole('button', { name: '加入好友' }).first().click();
    await paste(ming.page, code);
    await alertText(ming.page, '這個邀請連結已經用過、被重設或已過期');
  });
});

describe('search', () => {
  it('finds messages by Chinese substrings and odd characters literally, and jumps to the message', async () => {
    await ming.page.keyboard.press('Escape');
    await chatList(ming.page).getByRole('button', { name: /阿美/ }).click();
    const box = ming.page.getByLabel('輸入訊息');
    for (const text of ['今天在陽明山看到台灣藍鵲', '價格 a.*b [x] $5', '晚安']) {
      await box.fill(text);
      await box.press('Enter');
    }
    const search = amei.page.getByLabel('搜尋聊天與訊息');
    await search.fill('藍鵲');
    const results = amei.page.getByRole('list', { name: '搜尋結果' });
    const hit = results.getByRole('button', { name: /今天在陽明山看到台灣藍鵲/ });
    await hit.waitFor(WAIT);
    await shot(amei.page, 'zh-TW-53-search');
    expect(await unnamedControls(amei.page)).toEqual([]);
    await hit.click();
    await amei.page.getByRole('heading', { name: '小明' }).waitFor(WAIT);
    await amei.page.locator('.msg-found', { hasText: '今天在陽明山看到台灣藍鵲' }).waitFor(WAIT);

    // Metacharacters and marks are literal: ".*" finds the one message holding it, a bidi
    // mark finds nothing, and nothing changes.
    await search.fill('.*');
    await results.getByRole('button').first().waitFor(WAIT);
    expect(await results.getByRole('button').count()).toBe(1);
    await search.fill('\u202E');
    await amei.page.getByText('找不到符合的聊天或訊息。').waitFor(WAIT);
    await search.press('Escape');
    expect(await search.inputValue()).toBe('');

    // On a phone: the box fits and results open the chat.
    await hua.page.keyboard.press('Escape');
    const phoneSearch = hua.page.getByLabel('搜尋聊天與訊息');
    await phoneSearch.fill('阿美');
    await hua.page.getByRole('list', { name: '搜尋結果' }).getByRole('button').first().waitFor(WAIT);
    expect(await hua.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(hua.page, 'zh-TW-54-search-phone');
    await hua.page.getByRole('list', { name: '搜尋結果' }).getByRole('button').first().click();
    await hua.page.getByRole('heading', { name: '阿美' }).waitFor(WAIT);
  });
});

describe('safety number', () => {
  it('scans the friend’s safety-number QR code from the dialog that says to scan it', async () => {
    // Ming's code, as an image of his screen; Amei scans it from her safety-number dialog.
    await ming.page
      .getByRole('button', { name: /安全碼|Safety/ })
      .first()
      .click();
    const png = join(world.dir, 'ming-sn.png');
    await ming.page.getByRole('img', { name: /QR/ }).last().screenshot({ path: png });
    await ming.page.keyboard.press('Escape');
    await chatList(amei.page).getByRole('button', { name: /小明/ }).click();
    await amei.page
      .getByRole('button', { name: /安全碼|Safety/ })
      .first()
      .click();
    await amei.page.getByRole('button', { name: '掃描對方的安全碼 QR 碼' }).click();
    // Her own code is not his: refused as different.
    const own = join(world.dir, 'amei-sn.png');
    await amei.page.getByRole('dialog').getByRole('img', { name: /QR/ }).first().screenshot({ path: own });
    await amei.page.getByLabel('選擇 QR 碼圖片').setInputFiles(own);
    await amei.page.getByText('安全碼不相符', { exact: false }).waitFor(WAIT);
    await amei.page.getByRole('button', { name: '掃描對方的安全碼 QR 碼' }).click();
    await amei.page.getByLabel('選擇 QR 碼圖片').setInputFiles(png);
    await amei.page.getByText('安全碼相符', { exact: false }).waitFor(WAIT);
    await shot(amei.page, 'zh-TW-55-safety-scan');
    expect(await amei.page.getByRole('radio', { name: /已驗證/ }).isChecked()).toBe(true);
  });
});
