// Two people in two Chromium contexts use the built web client (served under the strict
// CSP) against a real relay: accounts, invite link, verification, Chinese text typed
// through IME composition, replies, read receipts, typing, a sticker, a /me action, a photo,
// unsend, reload, a wrong passphrase, English, and a key change. Every wait is for something on the page, with a timeout.
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import {
  WAIT,
  chatList,
  createAccount,
  holds,
  openPerson,
  rawDatabaseValues,
  shot,
  startWorld,
  unnamedControls,
  type Person,
  type World,
} from './helpers/app.ts';

let world: World;
let amei: Person;
let ming: Person;
const PASS = { amei: '阿美的密碼 2468', ming: 'ming passphrase 1357' };
const HELLO = '你好，阿美！';

beforeAll(async () => {
  world = await startWorld();
  [amei, ming] = await Promise.all([openPerson(world), openPerson(world)]);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

function messages(page: Page, name: string) {
  return page.getByRole('list', { name: new RegExp(`^(與 ${name} 的訊息|Messages with ${name})$`) });
}

/** Composition as an IME drives it; Enter inside it must only confirm the candidate. */
async function composeWithIme(page: Page, steps: string[]): Promise<void> {
  await page.getByLabel('輸入訊息').focus();
  await page.evaluate((texts) => {
    const el = document.activeElement as HTMLTextAreaElement;
    const input = (data: string): void => {
      el.value = data;
      el.dispatchEvent(
        new InputEvent('input', {
          data,
          inputType: 'insertCompositionText',
          isComposing: true,
          bubbles: true,
        }),
      );
    };
    const enter = (init: KeyboardEventInit, keyCode?: number): boolean => {
      const ev = new KeyboardEvent('keydown', {
        key: 'Enter',
        code: 'Enter',
        bubbles: true,
        cancelable: true,
        ...init,
      });
      if (keyCode !== undefined) Object.defineProperty(ev, 'keyCode', { get: () => keyCode });
      return el.dispatchEvent(ev);
    };
    el.dispatchEvent(new CompositionEvent('compositionstart', { data: '', bubbles: true }));
    for (const t of texts.slice(0, -1)) {
      input(t);
      // Enter while composing (isComposing set): picks the candidate, never sends.
      enter({ isComposing: true });
    }
    input(texts[texts.length - 1]!);
    el.dispatchEvent(
      new CompositionEvent('compositionend', { data: texts[texts.length - 1]!, bubbles: true }),
    );
    // Safari's order: compositionend first, then the confirming Enter with keyCode 229.
    enter({}, 229);
  }, steps);
}

describe('two people in two browsers', () => {
  it('first screen: zh-TW, relay address from /api/relay, engine loaded after it', async () => {
    const page = amei.page;
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('zh-Hant-TW');
    await page.getByRole('heading', { name: '建立帳號' }).waitFor(WAIT);
    // The engine chunk (libsodium and all) is fetched only after the first paint.
    const engineUrl = /\/assets\/session-[^/]+\.js$/.source;
    await page.waitForFunction(
      (re) => performance.getEntriesByType('resource').some((e) => new RegExp(re).test(e.name)),
      engineUrl,
      WAIT,
    );
    const timing = await page.evaluate((re) => {
      const paint = performance.getEntriesByName('first-contentful-paint')[0];
      const engine = performance.getEntriesByType('resource').find((e) => new RegExp(re).test(e.name));
      return { paint: paint?.startTime, engine: engine?.startTime };
    }, engineUrl);
    expect(timing.paint).toBeGreaterThan(0);
    expect(timing.engine).toBeGreaterThan(timing.paint!);
    await shot(page, 'zh-TW-1-create-account');
    expect(await unnamedControls(page)).toEqual([]);
  });

  it('each creates an account; Amei shows an invite link and QR code; Ming pastes it', async () => {
    await Promise.all([
      createAccount(amei.page, '阿美', PASS.amei, world.relay.address),
      createAccount(ming.page, '小明', PASS.ming, world.relay.address),
    ]);
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    const linkBox = amei.page.getByLabel('我的邀請連結');
    await linkBox.waitFor(WAIT);
    const link = await linkBox.inputValue();
    expect(link).toMatch(/^parus:/);
    await expect(amei.page.getByRole('img', { name: '邀請連結的 QR 碼' }).count()).resolves.toBe(1);
    await shot(amei.page, 'zh-TW-2-add-friend');
    expect(await unnamedControls(amei.page)).toEqual([]);

    await ming.page.getByRole('button', { name: '加入好友' }).first().click();
    await ming.page.getByLabel('好友的邀請連結').fill(link);
    await ming.page.getByRole('button', { name: '加入', exact: true }).click();
    // The chat opens at once, waiting for Amei's answer...
    await ming.page.getByRole('heading', { name: '阿美' }).waitFor(WAIT);
    // ...which comes: both have the contact, active, and Ming is asked gently to verify.
    await ming.page.getByText('還沒有和 阿美 比對安全碼', { exact: false }).waitFor(WAIT);
    await amei.page.keyboard.press('Escape');
    await chatList(amei.page).getByRole('button', { name: /小明/ }).waitFor(WAIT);
  });

  it('Ming compares the safety number and marks Amei verified', async () => {
    await ming.page.getByRole('button', { name: '安全碼', exact: true }).click();
    const digits = ming.page.getByLabel('安全碼數字');
    await digits.waitFor(WAIT);
    const mingDigits = (await digits.innerText()).replace(/\s+/g, '');
    expect(mingDigits).toMatch(/^\d{60}$/);

    await chatList(amei.page).getByRole('button', { name: /小明/ }).click();
    await amei.page.getByRole('button', { name: '安全碼', exact: true }).click();
    const ameiDigits = (await amei.page.getByLabel('安全碼數字').innerText()).replace(/\s+/g, '');
    expect(ameiDigits).toBe(mingDigits);
    await amei.page.keyboard.press('Escape');
    // Amei leaves the chat, so that Ming's message arrives as unread.
    await amei.page.getByRole('button', { name: '加入好友' }).first().waitFor(WAIT);

    await ming.page.getByRole('radio', { name: /已驗證/ }).check();
    await shot(ming.page, 'zh-TW-3-safety-number');
    expect(await unnamedControls(ming.page)).toEqual([]);
    await ming.page.keyboard.press('Escape');
    await ming.page.locator('.chat-head .state-tag', { hasText: '已驗證' }).waitFor(WAIT);
    expect(await ming.page.getByText('還沒有和 阿美 比對安全碼').count()).toBe(0);
  });

  it('Enter during IME composition never sends; Enter after it does', async () => {
    await amei.page.reload();
    await amei.page.getByLabel('密碼', { exact: true }).fill(PASS.amei);
    await amei.page.getByRole('button', { name: '解鎖' }).click();
    await chatList(amei.page).waitFor(WAIT);

    const composer = ming.page.getByLabel('輸入訊息');
    await composeWithIme(ming.page, ['ㄋ', 'ㄋㄧˇ', '你', HELLO]);
    expect(await composer.inputValue()).toBe(HELLO);
    expect(await messages(ming.page, '阿美').locator('.msg').count()).toBe(0);

    await composer.press('Enter');
    await messages(ming.page, '阿美').locator('.msg-out .text', { hasText: HELLO }).waitFor(WAIT);
    expect(await composer.inputValue()).toBe('');
    // ✓ on the relay, then ✓✓ delivered to Amei's browser.
    await messages(ming.page, '阿美')
      .locator('.msg-out .status-delivered, .msg-out .status-read')
      .first()
      .waitFor(WAIT);

    // Amei has it unread in her list, with a badge, until she opens the chat.
    const item = chatList(amei.page).getByRole('button', { name: /小明/ });
    await item.getByText('1 則未讀').waitFor({ ...WAIT, state: 'attached' });
    await expect(item.innerText()).resolves.toContain(HELLO);
    expect(await amei.page.title()).toBe('(1) Parus 山雀');
    // Screen readers hear it too, from a polite live region.
    await amei.page
      .locator('[aria-live="polite"]', { hasText: `小明 傳來新訊息：${HELLO}` })
      .waitFor({ ...WAIT, state: 'attached' });
    await shot(amei.page, 'zh-TW-4-chat-list-unread');
  });

  it('read receipts (已讀), a reply, and Shift+Enter for a new line', async () => {
    await chatList(amei.page).getByRole('button', { name: /小明/ }).click();
    const inAmei = messages(amei.page, '小明');
    const mingsMessage = inAmei.locator('.msg-in', { hasText: HELLO });
    await mingsMessage.waitFor(WAIT);
    await messages(ming.page, '阿美').locator('.msg-out .status-read', { hasText: '已讀' }).waitFor(WAIT);

    await mingsMessage.hover();
    await mingsMessage.getByRole('button', { name: '回覆' }).click();
    await amei.page.getByText('回覆 小明：').waitFor(WAIT);
    const reply = '嗨！很高興認識你 😊';
    await amei.page.getByLabel('輸入訊息').fill(reply);
    await amei.page.getByLabel('輸入訊息').press('Enter');

    const inMing = messages(ming.page, '阿美');
    const replyBubble = inMing.locator('.msg-in', { hasText: reply });
    await replyBubble.waitFor(WAIT);
    await expect(replyBubble.locator('.quote-text').innerText()).resolves.toBe(HELLO);
    // Ming has the chat open: Amei's reply shows 已讀 on her side.
    await inAmei.locator('.msg-out', { hasText: reply }).locator('.status-read').waitFor(WAIT);

    const box = ming.page.getByLabel('輸入訊息');
    await box.fill('第一行');
    await box.press('Shift+Enter');
    await ming.page.keyboard.insertText('第二行');
    expect(await box.inputValue()).toBe('第一行\n第二行');
    await box.press('Enter');
    const twoLines = inAmei.locator('.msg-in .text', { hasText: '第二行' });
    await twoLines.waitFor(WAIT);
    await expect(twoLines.evaluate((el) => el.textContent)).resolves.toBe('第一行\n第二行');
    await shot(amei.page, 'zh-TW-5-chat');
    await shot(ming.page, 'zh-TW-6-chat-verified');
    expect(await amei.page.title()).toBe('Parus 山雀');
    expect(await unnamedControls(amei.page)).toEqual([]);
  });

  it('typing shows on the other side; a sticker and a /me action arrive as themselves', async () => {
    const inMing = messages(ming.page, '阿美');
    const inAmei = messages(amei.page, '小明');
    // The engine sends at most one typing signal per 3 s (Amei just wrote her reply), so she
    // keeps typing until one goes out, as a person would.
    const draft = amei.page.getByLabel('輸入訊息');
    await draft.focus();
    await expect
      .poll(
        async () => {
          await amei.page.keyboard.insertText('字');
          return ming.page.getByText('阿美 正在輸入…').isVisible();
        },
        { ...WAIT, interval: 250 },
      )
      .toBe(true);
    await draft.fill('');

    await amei.page.getByRole('button', { name: '貼圖', exact: true }).click();
    const choice = amei.page.getByRole('group', { name: '選擇貼圖' }).getByRole('button').first();
    const stickerName = await choice.getAttribute('aria-label');
    expect(stickerName).toBeTruthy();
    await choice.click();
    // The message that arrived ends the typing indicator; the sticker is drawn, not sent as an image.
    const sticker = inMing.locator('.msg-in img.sticker');
    await sticker.waitFor(WAIT);
    expect(await sticker.getAttribute('alt')).toBe(`貼圖：${stickerName}`);
    expect(await ming.page.getByText('阿美 正在輸入…').count()).toBe(0);
    await chatList(ming.page).getByRole('button', { name: /阿美/ }).getByText('[貼圖]').waitFor(WAIT);

    const box = ming.page.getByLabel('輸入訊息');
    await box.fill('/me 揮揮手');
    await box.press('Enter');
    await inAmei.locator('.msg-in .action', { hasText: '* 小明 揮揮手' }).waitFor(WAIT);
    await inMing.locator('.msg-out .action', { hasText: '* 小明 揮揮手' }).waitFor(WAIT);
    expect(await box.inputValue()).toBe('');
  });

  it('a photo: thumbnail on both sides, the full image opens, and its bytes are the same', async () => {
    // A noisy picture, so that it is too big to be its own preview and takes several chunks.
    const png = Buffer.from(
      await ming.page.evaluate(async () => {
        const canvas = document.createElement('canvas');
        canvas.width = 640;
        canvas.height = 480;
        const ctx = canvas.getContext('2d')!;
        const img = ctx.createImageData(640, 480);
        for (let i = 0; i < img.data.length; i += 4) {
          // A dusk sky over Taipei, with grain (noise keeps the PNG large).
          const x = (i / 4) % 640;
          const y = Math.floor(i / 4 / 640);
          const grain = Math.floor(Math.random() * 24);
          img.data[i] = Math.min(255, 80 + (y * 160) / 480 + grain);
          img.data[i + 1] = Math.min(255, 90 + (x * 60) / 640 + grain);
          img.data[i + 2] = Math.min(255, 200 - (y * 80) / 480 + grain);
          img.data[i + 3] = 255;
        }
        ctx.putImageData(img, 0, 0);
        const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'));
        return Array.from(new Uint8Array(await blob.arrayBuffer()));
      }),
    );
    expect(png.length).toBeGreaterThan(64 * 1024);
    await ming.page
      .locator('.composer input[type="file"]')
      .setInputFiles({ name: '台北.png', mimeType: 'image/png', buffer: png });
    const inAmei = messages(amei.page, '小明');
    const thumb = inAmei.locator('.msg-in .thumbnail');
    await thumb.waitFor(WAIT);
    await amei.page.waitForFunction(
      () =>
        ((document.querySelector('.msg-in img.thumbnail') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0,
      undefined,
      WAIT,
    );
    await messages(ming.page, '阿美').locator('.msg-out img.thumbnail').waitFor(WAIT);
    await chatList(amei.page).getByRole('button', { name: /小明/ }).getByText('[照片]').waitFor(WAIT);

    await shot(amei.page, 'zh-TW-20-sticker-photo');
    await inAmei.getByRole('button', { name: '開啟照片 台北.png' }).click();
    const viewer = amei.page.getByRole('dialog', { name: '台北.png' });
    await viewer.getByRole('img', { name: '台北.png' }).waitFor(WAIT);
    await amei.page.waitForFunction(
      () => (document.querySelector('.full-image') as HTMLImageElement | null)?.naturalWidth === 640,
      undefined,
      WAIT,
    );
    await shot(amei.page, 'zh-TW-21-photo-viewer');
    const [download] = await Promise.all([
      amei.page.waitForEvent('download', WAIT),
      viewer.getByRole('button', { name: '儲存' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('台北.png');
    const saved = await readFile((await download.path())!);
    expect(Buffer.compare(saved, png)).toBe(0);
    await amei.page.keyboard.press('Escape');
    expect(await viewer.count()).toBe(0);
  });

  it('unsend (收回) from the message menu: the message disappears on the other side too', async () => {
    const secret = '這句要收回';
    const box = amei.page.getByLabel('輸入訊息');
    await box.fill(secret);
    await box.press('Enter');
    const inMing = messages(ming.page, '阿美');
    await inMing.locator('.msg-in .text', { hasText: secret }).waitFor(WAIT);

    const mine = messages(amei.page, '小明').locator('.msg-out', { hasText: secret });
    // From the keyboard: the ⋯ button opens a menu; Escape closes it and gives the focus back.
    const more = mine.getByRole('button', { name: '更多選項' });
    await more.focus();
    await amei.page.keyboard.press('Enter');
    const menu = amei.page.getByRole('menu', { name: '訊息選項' });
    await menu.getByRole('menuitem', { name: '回覆' }).waitFor(WAIT);
    const focused = (): Promise<string | null | undefined> =>
      amei.page.evaluate(() => document.activeElement?.textContent);
    await expect.poll(focused, WAIT).toBe('回覆');
    await amei.page.keyboard.press('ArrowDown');
    await expect.poll(focused, WAIT).toBe('複製');
    await amei.page.keyboard.press('End');
    await expect.poll(focused, WAIT).toBe('收回');
    await shot(amei.page, 'zh-TW-22-unsend-menu');
    expect(await unnamedControls(amei.page)).toEqual([]);
    await amei.page.keyboard.press('Escape');
    await expect.poll(() => menu.count(), WAIT).toBe(0);
    await expect.poll(() => more.evaluate((el) => el === document.activeElement), WAIT).toBe(true);

    // A right click opens it too; 收回 asks first.
    await mine.locator('.bubble').click({ button: 'right' });
    await menu.getByRole('menuitem', { name: '收回' }).click();
    const confirm = amei.page.getByRole('dialog', { name: '收回訊息？' });
    await confirm.getByRole('button', { name: '收回' }).click();
    await messages(amei.page, '小明').locator('.msg-out .unsent', { hasText: '你已收回訊息' }).waitFor(WAIT);
    await inMing.locator('.msg-in .unsent', { hasText: '對方已收回訊息' }).waitFor(WAIT);
    expect(await ming.page.getByText(secret).count()).toBe(0);
    expect(await amei.page.getByText(secret).count()).toBe(0);
    // A tombstone offers nothing more to do.
    expect(
      await messages(amei.page, '小明')
        .locator('.msg-out', { hasText: '你已收回訊息' })
        .getByRole('button')
        .count(),
    ).toBe(0);
  });

  it('a wrong passphrase reveals nothing; the right one brings everything back', async () => {
    const page = ming.page;
    await page.reload();
    await page.getByRole('heading', { name: '解鎖' }).waitFor(WAIT);
    await page.getByLabel('密碼', { exact: true }).fill('not my passphrase');
    await page.getByRole('button', { name: '解鎖' }).click();
    await page.getByRole('alert').getByText('密碼錯誤，請再試一次。').waitFor(WAIT);
    const shown = await page.locator('body').innerText();
    for (const secret of ['阿美', '小明', HELLO, '第一行', '很高興', '揮揮手'])
      expect(shown).not.toContain(secret);
    expect(await page.getByRole('list').count()).toBe(0);
    await shot(page, 'zh-TW-7-wrong-passphrase');

    // At rest, IndexedDB holds none of it in the clear.
    const raw = await rawDatabaseValues(page);
    expect(raw.length).toBeGreaterThan(5);
    for (const secret of [
      '阿美',
      '小明',
      HELLO,
      '第一行',
      '很高興',
      '揮揮手',
      '台北.png',
      world.relay.address,
    ])
      expect(holds(raw, secret)).toBe(false);

    // From the keyboard: Enter in the field submits; Enter on a chat opens it.
    await page.getByLabel('密碼', { exact: true }).fill(PASS.ming);
    await page.getByLabel('密碼', { exact: true }).press('Enter');
    const item = chatList(page).getByRole('button', { name: /阿美/ });
    await item.focus();
    await page.keyboard.press('Enter');
    const list = messages(page, '阿美');
    await list.locator('.msg-out .text', { hasText: HELLO }).waitFor(WAIT);
    await list.locator('.msg-in .quote-text', { hasText: HELLO }).waitFor(WAIT);
    // Stickers, actions, photos and tombstones come back from the store as they were.
    await list.locator('.msg-in img.sticker').waitFor(WAIT);
    await list.locator('.msg-out .action', { hasText: '* 小明 揮揮手' }).waitFor(WAIT);
    await list.locator('.msg-out img.thumbnail').waitFor(WAIT);
    await list.locator('.msg-in .unsent', { hasText: '對方已收回訊息' }).waitFor(WAIT);
    expect(await list.locator('.msg').count()).toBe(7);
    await page.locator('.chat-head .state-tag', { hasText: '已驗證' }).waitFor(WAIT);

    // A second tab cannot open the account while this one has it (one engine per store).
    const second = await ming.context.newPage();
    await second.goto(world.url);
    await second.getByLabel('密碼', { exact: true }).fill(PASS.ming);
    await second.getByRole('button', { name: '解鎖' }).click();
    await second.getByRole('alert').getByText('另一個分頁開啟', { exact: false }).waitFor(WAIT);
    await second.close();
  });

  it('switches to English, and keeps the choice across a reload', async () => {
    const page = ming.page;
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor(WAIT);
    await page.waitForFunction(() => document.documentElement.lang === 'en', undefined, WAIT);
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('radio', { name: 'Dark' }).check();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    await page.keyboard.press('Escape');
    await shot(page, 'en-2-dark');
    await page.getByRole('button', { name: 'Settings' }).click();
    await page.getByRole('radio', { name: 'System' }).check();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBeUndefined();
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Add friend' }).first().waitFor(WAIT);
    await page.locator('.msg-out .status-read', { hasText: 'Read' }).first().waitFor(WAIT);
    await page.locator('.day-sep', { hasText: 'Today' }).waitFor(WAIT);
    await page.locator('.msg-in .unsent', { hasText: 'A message was unsent' }).waitFor(WAIT);
    await shot(page, 'en-1-chat');
    const action = page.locator('.msg-out', { hasText: '* 小明 揮揮手' });
    await action.getByRole('button', { name: 'More options' }).click();
    await page
      .getByRole('menu', { name: 'Message options' })
      .getByRole('menuitem', { name: 'Unsend' })
      .waitFor(WAIT);
    await shot(page, 'en-10-unsend-menu');
    expect(await unnamedControls(page)).toEqual([]);
    await page.keyboard.press('Escape');

    await page.reload();
    await page.getByRole('heading', { name: 'Unlock' }).waitFor(WAIT);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    await shot(page, 'en-3-unlock');
    await page.getByLabel('Passphrase').fill(PASS.ming);
    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByRole('button', { name: 'Add friend' }).first().click();
    await page.getByLabel('My invite link').waitFor(WAIT);
    await shot(page, 'en-4-add-friend');
    await page.keyboard.press('Escape');
  });

  it('a friend coming back with another key gets a loud warning', async () => {
    // Someone else (or Amei on a new browser) with the same name: a different key.
    const other = await openPerson(world, { colorScheme: 'dark' });
    await createAccount(other.page, '阿美', 'another passphrase 99', world.relay.address);
    await other.page.getByRole('button', { name: '加入好友' }).first().click();
    const link = await other.page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
    await other.page.getByLabel('我的邀請連結').waitFor(WAIT);

    const page = ming.page;
    await page.getByRole('button', { name: 'Add friend' }).first().click();
    await page.getByLabel("Your friend's invite link").fill(link);
    await page.getByRole('button', { name: 'Add', exact: true }).click();
    await page.getByRole('alert').getByText('You already have a friend named “阿美”').waitFor(WAIT);
    await page.getByRole('button', { name: 'Replace the old friend' }).click();
    await page
      .getByRole('alert')
      .getByText("Warning: 阿美's safety number has changed!", { exact: false })
      .waitFor(WAIT);
    await chatList(page)
      .getByRole('button', { name: /阿美/ })
      .getByText('Safety number changed')
      .waitFor({
        ...WAIT,
        state: 'attached',
      });
    await shot(page, 'en-5-key-changed');
    // Marked untrusted, the friend cannot be written to until the user changes it back.
    await page.getByRole('button', { name: 'Safety number', exact: true }).click();
    await page.getByRole('radio', { name: /Untrusted/ }).check();
    await page.keyboard.press('Escape');
    await page.getByRole('alert').getByText('You marked 阿美 as untrusted', { exact: false }).waitFor(WAIT);
    expect(await page.getByLabel('Message', { exact: true }).isDisabled()).toBe(true);
    await other.page.keyboard.press('Escape');
    await chatList(other.page).getByRole('button', { name: /小明/ }).click();
    await other.page.getByRole('heading', { name: '小明' }).waitFor(WAIT);
    await shot(other.page, 'zh-TW-8-dark');
    expect(other.problems).toEqual([]);
    await other.context.close();
  });

  it('on a phone: one pane at a time, with a way back', async () => {
    const page = amei.page;
    await page.setViewportSize({ width: 390, height: 760 });
    const list = chatList(page);
    const item = list.getByRole('button', { name: /小明/ });
    if (await item.isVisible()) await item.click();
    await page.getByRole('heading', { name: '小明' }).waitFor(WAIT);
    expect(await list.isVisible()).toBe(false);
    await shot(page, 'zh-TW-9-phone-chat');
    await page.getByRole('button', { name: '返回聊天列表' }).click();
    await item.waitFor(WAIT);
    expect(await page.getByRole('heading', { name: '小明' }).isVisible()).toBe(false);
    await page.setViewportSize({ width: 960, height: 640 });
  });

  it('locking closes the account at once; unlocking right away opens it again', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '鎖定' }).click();
    await page.getByRole('heading', { name: '解鎖' }).waitFor(WAIT);
    expect(await page.locator('body').innerText()).not.toContain('小明');
    await page.getByLabel('密碼', { exact: true }).fill(PASS.amei);
    await page.getByLabel('密碼', { exact: true }).press('Enter');
    await chatList(page).getByRole('button', { name: /小明/ }).waitFor(WAIT);
  });

  it('ran with no CSP violation and no uncaught error', () => {
    expect(amei.problems).toEqual([]);
    expect(ming.problems).toEqual([]);
  });
});
