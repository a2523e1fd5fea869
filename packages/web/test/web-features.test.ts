// The LINE-style extras in two browsers against a real relay: adding a friend by uploading
// a PNG of their QR code, the emoji picker, slash commands (/help, /me, unknown), mute,
// desktop notifications (permission granted through the browser context), themes and text
// size in the settings. Every wait is for something on the page, with a timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import QRCode from 'qrcode';
import { launchChromium, watchPage } from './helpers/browser.ts';
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

interface Shown {
  title: string;
  body: string | undefined;
}

/**
 * Records every notification the page shows, through the browser's real Notification (the
 * permission comes from the context); headless Chromium draws none on screen.
 */
const RECORD_NOTIFICATIONS = (): void => {
  const Real = window.Notification;
  const shown: Array<{ title: string; body: string | undefined }> = [];
  (window as unknown as { shownNotifications: typeof shown }).shownNotifications = shown;
  class Recording extends Real {
    constructor(title: string, options?: NotificationOptions) {
      super(title, options);
      shown.push({ title, body: options?.body });
    }
  }
  Object.defineProperty(Recording, 'permission', { get: () => Real.permission });
  Object.defineProperty(Recording, 'requestPermission', { value: Real.requestPermission.bind(Real) });
  window.Notification = Recording as typeof Notification;
};

function shown(page: Page): Promise<Shown[]> {
  return page.evaluate(() => (window as unknown as { shownNotifications: Shown[] }).shownNotifications);
}

function messages(page: Page, name: string) {
  return page.getByRole('list', { name: new RegExp(`^(與 ${name} 的訊息|Messages with ${name})$`) });
}

async function send(page: Page, text: string): Promise<void> {
  const box = page.getByLabel('輸入訊息');
  await box.fill(text);
  await box.press('Enter');
}

/**
 * One video frame (YUV4MPEG2, 4:2:0) showing the QR code of `text`, black on white with
 * the quiet zone: Chromium's fake camera plays it in a loop.
 */
function qrVideo(text: string): Buffer {
  const { modules } = QRCode.create(text, { errorCorrectionLevel: 'L' });
  const side = 720;
  const scale = Math.floor(side / (modules.size + 8));
  const offset = Math.floor((side - scale * modules.size) / 2);
  const luma = Buffer.alloc(side * side, 235);
  for (let y = 0; y < modules.size * scale; y++)
    for (let x = 0; x < modules.size * scale; x++)
      if (modules.get(Math.floor(y / scale), Math.floor(x / scale)))
        luma[(y + offset) * side + x + offset] = 16;
  const chroma = Buffer.alloc((side / 2) * (side / 2) * 2, 128);
  return Buffer.concat([
    Buffer.from(`YUV4MPEG2 W${side} H${side} F5:1 Ip A1:1 C420jpeg\nFRAME\n`),
    luma,
    chroma,
  ]);
}

/** Back to the chat list the way a phone does it, then the wide layout again. */
async function leaveChat(page: Page): Promise<void> {
  await page.setViewportSize({ width: 390, height: 760 });
  await page.getByRole('button', { name: '返回聊天列表' }).click();
  await page.setViewportSize({ width: 960, height: 640 });
  await page.getByText('選擇一個聊天開始傳訊息。').waitFor(WAIT);
}

beforeAll(async () => {
  world = await startWorld();
  [amei, ming] = await Promise.all([openPerson(world), openPerson(world)]);
  await amei.context.grantPermissions(['notifications']);
  await amei.context.addInitScript(RECORD_NOTIFICATIONS);
  await amei.page.reload();
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('LINE-style extras', () => {
  it('adds a friend by uploading a PNG of their QR code', async () => {
    await Promise.all([
      createAccount(amei.page, '阿美', 'amei passphrase 2468', world.relay.address),
      createAccount(ming.page, '小明', 'ming passphrase 1357', world.relay.address),
    ]);
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    const link = await amei.page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
    expect(link).toMatch(/^parus:/);
    const png = join(world.dir, 'amei-invite.png');
    writeFileSync(png, await QRCode.toBuffer(link, { errorCorrectionLevel: 'L', margin: 4, scale: 4 }));

    await ming.page.getByRole('button', { name: '加入好友' }).first().click();
    // A picture without a QR code first: a helpful message, nothing added.
    const blank = join(world.dir, 'blank.png');
    writeFileSync(blank, await QRCode.toBuffer('not an invite', { margin: 4, scale: 4 }));
    await ming.page.getByLabel('選擇 QR 碼圖片').setInputFiles(blank);
    await ming.page.getByRole('alert').getByText('這個 QR 碼不是 Parus 邀請連結。').waitFor(WAIT);
    await shot(ming.page, 'zh-TW-11-scan-qr');
    expect(await unnamedControls(ming.page)).toEqual([]);

    await ming.page.getByLabel('選擇 QR 碼圖片').setInputFiles(png);
    await ming.page.getByRole('heading', { name: '阿美' }).waitFor(WAIT);
    await amei.page.keyboard.press('Escape');
    await chatList(amei.page).getByRole('button', { name: /小明/ }).click();
    await amei.page.getByRole('heading', { name: '小明' }).waitFor(WAIT);
    await ming.page.getByText('還沒有和 阿美 比對安全碼', { exact: false }).waitFor(WAIT);
  });

  it('adds a friend by showing their QR code to the camera', async () => {
    await amei.page.getByRole('button', { name: '加入好友' }).first().click();
    await amei.page.getByRole('button', { name: '產生新的連結' }).click();
    const linkBox = amei.page.getByLabel('我的邀請連結');
    await linkBox.waitFor(WAIT);
    const link = await linkBox.inputValue();
    await amei.page.keyboard.press('Escape');
    const video = join(world.dir, 'camera.y4m');
    writeFileSync(video, qrVideo(link));
    const browser = await launchChromium([
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${video}`,
    ]);
    try {
      const context = await browser.newContext({ locale: 'zh-TW', viewport: { width: 960, height: 640 } });
      await context.grantPermissions(['camera']);
      const page = await context.newPage();
      const problems = watchPage(page);
      await page.goto(world.url);
      await createAccount(page, '阿華', 'hua passphrase 8080', world.relay.address);
      await page.getByRole('button', { name: '加入好友' }).first().click();
      await page.getByRole('button', { name: '用相機掃描' }).click();
      // The code is read from the camera and the friend added; the camera goes off.
      await page.getByRole('heading', { name: '阿美' }).waitFor(WAIT);
      await chatList(amei.page).getByRole('button', { name: /阿華/ }).waitFor(WAIT);
      expect(await page.locator('video').count()).toBe(0);
      expect(problems).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('the emoji picker inserts at the caret, from the keyboard too', async () => {
    const page = ming.page;
    const box = page.getByLabel('輸入訊息');
    await box.fill('好喝');
    await box.evaluate((el: HTMLTextAreaElement) => el.setSelectionRange(1, 1));
    await page.getByRole('button', { name: '表情符號' }).click();
    await page.getByRole('tab', { name: '笑臉' }).waitFor(WAIT);
    expect(await page.getByRole('tab', { name: '笑臉' }).getAttribute('aria-selected')).toBe('true');
    // Arrow keys move between categories; the food tab holds bubble tea.
    await page.getByRole('tab', { name: '笑臉' }).focus();
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowRight');
    expect(await page.getByRole('tab', { name: '食物與飲料' }).getAttribute('aria-selected')).toBe('true');
    await shot(page, 'zh-TW-12-emoji-picker');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('button', { name: '🧋', exact: true }).press('Enter');
    expect(await box.inputValue()).toBe('好🧋喝');
    // The caret stays after the emoji: the next one goes there too.
    await page.getByRole('button', { name: '🍵', exact: true }).click();
    expect(await box.inputValue()).toBe('好🧋🍵喝');
    await box.press('Escape');
    expect(await page.getByRole('group', { name: '選擇表情符號' }).count()).toBe(0);
    await box.press('Enter');
    await messages(amei.page, '小明').locator('.msg-in .text', { hasText: '好🧋🍵喝' }).waitFor(WAIT);
  });

  it('/help shows a local card, an unknown command sends nothing, /me sends an action', async () => {
    const page = ming.page;
    const before = await messages(page, '阿美').locator('.msg').count();
    await send(page, '/help');
    const card = page.getByRole('region', { name: '指令' });
    await card.waitFor(WAIT);
    await expect(card.innerText()).resolves.toContain('/me 動作');
    await shot(page, 'zh-TW-13-help');
    await page.getByRole('button', { name: '關閉指令說明' }).click();
    expect(await card.count()).toBe(0);

    await send(page, '/dance 跳舞');
    await page.getByRole('alert').getByText('沒有 /dance 這個指令。', { exact: false }).waitFor(WAIT);
    expect(await page.getByLabel('輸入訊息').inputValue()).toBe('/dance 跳舞');
    await page.getByLabel('輸入訊息').fill('/me 揮揮手');
    expect(await page.getByRole('alert').getByText('沒有 /dance').count()).toBe(0);
    await page.getByLabel('輸入訊息').press('Enter');
    await messages(amei.page, '小明').locator('.msg-in .text', { hasText: '* 小明 揮揮手' }).waitFor(WAIT);
    expect(await messages(page, '阿美').locator('.msg').count()).toBe(before + 1);
  });

  it('notifies a message for a chat that is not open, with or without its text', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('checkbox', { name: '收到新訊息時顯示通知' }).check();
    await page.waitForFunction(() => localStorage.getItem('parus.notify')?.includes('"enabled":true'));
    expect(await page.getByRole('checkbox', { name: '在通知中顯示訊息內容' }).isChecked()).toBe(true);
    await page.keyboard.press('Escape');
    // Amei has Ming's chat open: no notification for what arrives there.
    await send(ming.page, '第一則');
    await messages(page, '小明').locator('.msg-in .text', { hasText: '第一則' }).waitFor(WAIT);
    expect(await shown(page)).toEqual([]);

    // The page hidden (another tab in front), the same chat open: a notification.
    await page.evaluate(() => {
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    });
    await send(ming.page, '晚餐吃什麼？');
    await page.waitForFunction(
      () => (window as unknown as { shownNotifications: unknown[] }).shownNotifications.length === 1,
    );
    expect(await shown(page)).toEqual([{ title: '小明', body: '晚餐吃什麼？' }]);
    await page.evaluate(() => {
      delete (document as { visibilityState?: unknown }).visibilityState;
      document.dispatchEvent(new Event('visibilitychange'));
    });

    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('checkbox', { name: '在通知中顯示訊息內容' }).uncheck();
    await page.keyboard.press('Escape');
    // Back to the chat list (as on a phone): the chat is not open any more.
    await leaveChat(page);
    await send(ming.page, '秘密');
    await page.waitForFunction(
      () => (window as unknown as { shownNotifications: unknown[] }).shownNotifications.length === 2,
    );
    expect((await shown(page))[1]).toEqual({ title: '小明', body: '傳來一則新訊息' });
  });

  it('a muted chat keeps its badge but leaves the title count and never notifies', async () => {
    const page = amei.page;
    await chatList(page).getByRole('button', { name: /小明/ }).click();
    // Not muted yet (the state comes from the engine's synced settings: wait for it, do not race it).
    const mute = page.getByRole('button', { name: '靜音', exact: true, pressed: false });
    await mute.waitFor(WAIT);
    await mute.click();
    await page.getByRole('button', { name: '靜音', exact: true, pressed: true }).waitFor(WAIT);
    // The mute is the account's (synced to its other devices, sealed in its store), not the browser's.
    expect(await page.evaluate(() => localStorage.getItem('parus.muted'))).toBeNull();
    await leaveChat(page);
    const before = (await shown(page)).length;
    await send(ming.page, '靜音時的訊息');
    const item = chatList(page).getByRole('button', { name: /小明/ });
    await item.getByText('1 則未讀').waitFor({ ...WAIT, state: 'attached' });
    await item.getByText('已靜音').waitFor({ ...WAIT, state: 'attached' });
    expect(await page.title()).toBe('Parus 山雀');
    expect((await shown(page)).length).toBe(before);
    await shot(page, 'zh-TW-14-muted-chat');

    // The choice survives a reload, and the muted chat never counts in the title meanwhile.
    await amei.context.addInitScript({
      content: `window.titles = [];
        new MutationObserver(() => window.titles.push(document.title))
          .observe(document, { subtree: true, childList: true, characterData: true });`,
    });
    await page.reload();
    await page.getByLabel('密碼', { exact: true }).fill('amei passphrase 2468');
    await page.getByRole('button', { name: '解鎖' }).click();
    await chatList(page)
      .getByRole('button', { name: /小明/ })
      .getByText('已靜音')
      .waitFor({ ...WAIT, state: 'attached' });
    await page.waitForFunction(() => document.title === 'Parus 山雀', undefined, WAIT);
    const titles = await page.evaluate(() => (window as unknown as { titles: string[] }).titles);
    expect(titles.filter((x) => x.startsWith('('))).toEqual([]);
    await chatList(page).getByRole('button', { name: /小明/ }).click();
    await page.getByRole('button', { name: '靜音', exact: true }).click();
    // The unmute goes through the engine (a synced setting): the button follows once it is kept.
    await page.getByRole('button', { name: '靜音', exact: true, pressed: false }).waitFor(WAIT);
  });

  it('themes and text size are chosen in the settings and kept', async () => {
    const page = ming.page;
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('radio', { name: '抹茶' }).check();
    await page.getByRole('radio', { name: '大', exact: true }).check();
    expect(
      await page.evaluate(() => [
        document.documentElement.dataset.theme,
        document.documentElement.dataset.fontSize,
      ]),
    ).toEqual(['matcha', 'large']);
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, 'zh-TW-15-settings-themes');
    await page.keyboard.press('Escape');
    await shot(page, 'zh-TW-16-matcha-large');
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('radio', { name: '櫻花' }).check();
    await page.getByRole('radio', { name: '中', exact: true }).check();
    await page.keyboard.press('Escape');
    await shot(page, 'zh-TW-17-sakura');
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('radio', { name: '海洋' }).check();
    await page.getByRole('radio', { name: '特大' }).check();
    await page.keyboard.press('Escape');
    await page.reload();
    await page.getByRole('heading', { name: '解鎖' }).waitFor(WAIT);
    expect(
      await page.evaluate(() => [
        document.documentElement.dataset.theme,
        document.documentElement.dataset.fontSize,
      ]),
    ).toEqual(['ocean', 'xlarge']);
    await shot(page, 'zh-TW-18-ocean-unlock');
  });

  it('in English: settings, the emoji picker and the help card', async () => {
    const page = ming.page;
    await page
      .getByRole('button', { name: '繁體中文' })
      .waitFor(WAIT)
      .catch(() => undefined);
    await page.getByLabel('密碼', { exact: true }).fill('ming passphrase 1357');
    await page.getByRole('button', { name: '解鎖' }).click();
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('radio', { name: 'Light' }).check();
    await page.getByRole('radio', { name: 'Medium' }).check();
    await page.getByRole('heading', { name: 'Settings' }).waitFor(WAIT);
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, 'en-6-settings-themes');
    // Ming's browser never granted notifications: switching them on explains, and stays off.
    const notify = page.getByRole('checkbox', { name: 'Show a notification for new messages' });
    await notify.click();
    await page
      .getByRole('alert')
      .getByText('The browser blocks notifications.', { exact: false })
      .waitFor(WAIT);
    expect(await notify.isChecked()).toBe(false);
    expect(
      await page.getByRole('checkbox', { name: 'Show the message text in notifications' }).isDisabled(),
    ).toBe(true);
    await page.keyboard.press('Escape');
    await chatList(page).getByRole('button', { name: /阿美/ }).click();
    await page.getByRole('button', { name: 'Emoji' }).click();
    await page.getByRole('tab', { name: 'Smileys' }).waitFor(WAIT);
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, 'en-7-emoji-picker');
    await page.getByRole('button', { name: 'Emoji' }).click();
    const box = page.getByLabel('Message', { exact: true });
    await box.fill('/help');
    await box.press('Enter');
    await page.getByRole('region', { name: 'Commands' }).getByText('/me action').waitFor(WAIT);
    await box.fill('/foo');
    await box.press('Enter');
    await page.getByRole('alert').getByText('There is no command /foo.', { exact: false }).waitFor(WAIT);
    await shot(page, 'en-8-help');
    await box.fill('');
  });

  it('ran with no CSP violation and no uncaught error', () => {
    expect(amei.problems).toEqual([]);
    expect(ming.problems).toEqual([]);
  });
});
