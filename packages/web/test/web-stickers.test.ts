// Stickers and emoji (issue 15 item 7, decision 0058), two browsers on one loopback relay:
// 阿美 at desktop size, 小明 at 390×844. The picker has a tab per pack, the three packs of
// Taiwan's birds included; a sticker from each is sent and drawn on the other side. A pack
// imported from a file is used: a friend without it sees the sticker's name on a
// placeholder, then the picture once they import the same file; a malformed or unsafe file
// is refused with its message and changes nothing; a pack is removed. Emoji search finds
// by Chinese (typed through an IME composition) and English words, and an emoji is drawn
// with the shipped Twemoji colour font, in colour, not a system font (this machine has no
// emoji font: without the shipped one 🧋 is tofu).
import type { CDPSession, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
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

let world: World;
let amei: Person;
let ming: Person;
const PASS = { amei: 'amei stickers pass 1357', ming: 'ming stickers pass 2468' };

const messages = (page: Page, name: string) => page.getByRole('list', { name: `與 ${name} 的訊息` });
const picker = (page: Page) => page.getByRole('group', { name: '選擇貼圖' });

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const catSvg = (color: string): string =>
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100"><circle cx="50" cy="55" r="35" fill="${color}"/>` +
  `<path d="M20 30l10-25 15 20zM80 30l-10-25-15 20z" fill="${color}"/></svg>`;
const PACK = {
  format: 'parus-stickers/1',
  pack: 'my-cats',
  name: { 'zh-TW': '我家的貓', en: 'Our cats' },
  stickers: [
    {
      id: 'mimi',
      name: { 'zh-TW': '咪咪', en: 'Mimi' },
      type: 'image/svg+xml',
      data: b64(catSvg('#f4a261')),
    },
    {
      id: 'tora',
      name: { 'zh-TW': '虎斑', en: 'Tabby' },
      type: 'image/svg+xml',
      data: b64(catSvg('#6c584c')),
    },
  ],
};
const packFile = (doc: unknown, name = 'my-cats.parus-stickers') => ({
  name,
  mimeType: 'application/json',
  buffer: Buffer.from(JSON.stringify(doc)),
});

async function openStickers(page: Page): Promise<void> {
  if ((await picker(page).count()) === 0)
    await page.getByRole('button', { name: '貼圖', exact: true }).click();
  await picker(page).waitFor(WAIT);
}

/** Sends the sticker named `name` from the pack tab `tab`. */
async function sendSticker(page: Page, tab: string, name: string): Promise<void> {
  await openStickers(page);
  await picker(page).getByRole('tab', { name: tab, exact: true }).click();
  await picker(page).getByRole('button', { name, exact: true }).click();
  expect(await picker(page).count()).toBe(0);
}

/** Waits until the sticker {pack, id} arrived and its picture really loaded. */
async function seeSticker(page: Page, from: string, pack: string, id: string): Promise<string | null> {
  const img = messages(page, from).locator(`.msg-in img.sticker[data-pack="${pack}"][data-id="${id}"]`);
  await img.waitFor(WAIT);
  await page.waitForFunction(
    ([p, i]) => {
      const all = document.querySelectorAll<HTMLImageElement>(
        `.msg-in img.sticker[data-pack="${p}"][data-id="${i}"]`,
      );
      return all.length > 0 && Array.from(all).every((el) => el.complete && el.naturalWidth > 0);
    },
    [pack, id],
    WAIT,
  );
  return img.last().getAttribute('alt');
}

/** The fonts Chromium really drew a node's text with (DevTools' "Rendered Fonts"). */
async function renderedFonts(
  cdp: CDPSession,
  selector: string,
): Promise<Array<{ familyName: string; isCustomFont: boolean }>> {
  const { root } = await cdp.send('DOM.getDocument', { depth: -1 });
  const { nodeId } = await cdp.send('DOM.querySelector', { nodeId: root.nodeId, selector });
  const { fonts } = await cdp.send('CSS.getPlatformFontsForNode', { nodeId });
  return fonts;
}

/** How many pixels of a PNG are clearly coloured (not grey, white or black), counted by Chromium. */
async function colouredPixels(w: World, png: Buffer): Promise<number> {
  const page = await w.browser.newPage();
  try {
    return await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const canvas = document.createElement('canvas');
      canvas.width = img.width;
      canvas.height = img.height;
      const ctx = canvas.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, img.width, img.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        const max = Math.max(d[i]!, d[i + 1]!, d[i + 2]!);
        const min = Math.min(d[i]!, d[i + 1]!, d[i + 2]!);
        if (max - min > 60) n++;
      }
      return n;
    }, png.toString('base64'));
  } finally {
    await page.close();
  }
}

beforeAll(async () => {
  world = await startWorld();
  [amei, ming] = await Promise.all([openPerson(world), openPerson(world)]);
  await ming.page.setViewportSize({ width: 390, height: 844 });
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('stickers and emoji in the browser', () => {
  it('friends', async () => {
    await Promise.all([
      createAccount(amei.page, '阿美', PASS.amei, world.relay.address),
      createAccount(ming.page, '小明', PASS.ming, world.relay.address),
    ]);
    await befriend(amei, ming, '阿美', '小明');
    await chatList(amei.page).getByRole('button', { name: /小明/ }).first().click();
    await amei.page.getByLabel('輸入訊息').waitFor(WAIT);
    // 小明 (390 px) is in the chat with 阿美 already: the chat fills the screen.
    await ming.page.getByLabel('輸入訊息').waitFor(WAIT);
  }, 90_000);

  it('the picker has a tab per pack; a sticker from each bird pack is drawn on the other side', async () => {
    await openStickers(amei.page);
    const tabs = await picker(amei.page)
      .getByRole('tab')
      .evaluateAll((els) => els.map((e) => e.textContent));
    expect(tabs).toEqual(['小山雀', '臺灣藍鵲', '黃山雀', '五色鳥', '＋']);
    await picker(amei.page).getByRole('tab', { name: '臺灣藍鵲' }).click();
    const names = await picker(amei.page)
      .getByRole('button')
      .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    expect(names).toHaveLength(8);
    expect(names).toContain('早安');
    await amei.page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLImageElement>('.sticker-choice img')).every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    );
    await shot(amei.page, 'zh-TW-58-0-sticker-packs');

    await sendSticker(amei.page, '臺灣藍鵲', '早安');
    expect(await seeSticker(ming.page, '阿美', 'bluemagpie', 'morning')).toBe('貼圖：早安');
    await sendSticker(amei.page, '黃山雀', '想你');
    expect(await seeSticker(ming.page, '阿美', 'yellowtit', 'miss-you')).toBe('貼圖：想你');
    await sendSticker(amei.page, '五色鳥', '加油');
    expect(await seeSticker(ming.page, '阿美', 'barbet', 'cheer')).toBe('貼圖：加油');

    // At 390 px the tabs scroll inside the panel, never the page; 小明 answers with a bird.
    await openStickers(ming.page);
    await picker(ming.page).getByRole('tab', { name: '五色鳥' }).click();
    expect(await ming.page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
    await shot(ming.page, 'zh-TW-58-1-sticker-packs-390');
    await sendSticker(ming.page, '五色鳥', '真的假的');
    expect(await seeSticker(amei.page, '小明', 'barbet', 'really')).toBe('貼圖：真的假的');
    expect([...amei.problems, ...ming.problems]).toEqual([]);
  }, 120_000);

  it('an imported pack is used; a friend without it sees its name until importing the same file', async () => {
    const page = amei.page;
    await openStickers(page);
    await picker(page).getByRole('tab', { name: '匯入或移除貼圖組' }).click();
    // A malformed file and an unsafe one are refused with their reason; nothing is added.
    const input = picker(page).locator('input[type="file"]');
    await input.setInputFiles({
      name: 'x.json',
      mimeType: 'application/json',
      buffer: Buffer.from('{"format": '),
    });
    await picker(page).getByRole('alert').getByText('這不是 Parus 貼圖組檔案').waitFor(WAIT);
    const unsafe = {
      ...PACK,
      stickers: [{ ...PACK.stickers[0], data: b64('<svg><script>alert(1)</script></svg>') }],
    };
    await input.setInputFiles(packFile(unsafe));
    await picker(page).getByRole('alert').getByText('含有程式碼或外部連結').waitFor(WAIT);
    await input.setInputFiles(packFile({ ...PACK, pack: 'bluemagpie' }));
    await picker(page).getByRole('alert').getByText('和內建貼圖組同名').waitFor(WAIT);
    expect(await picker(page).getByRole('tab').count()).toBe(5);
    await shot(page, 'zh-TW-58-2-sticker-import-refused');

    await input.setInputFiles(packFile(PACK));
    await picker(page).getByRole('status').getByText('已匯入貼圖組').waitFor(WAIT);
    expect(await picker(page).getByRole('tab').count()).toBe(6);
    await picker(page).getByRole('list', { name: '已匯入的貼圖組' }).getByText('我家的貓').waitFor(WAIT);
    await shot(page, 'zh-TW-58-3-sticker-imported');
    await sendSticker(page, '我家的貓', '咪咪');
    await messages(page, '小明')
      .locator('.msg-out img.sticker[data-pack="my-cats"][data-id="mimi"]')
      .waitFor(WAIT);

    // 小明 has no such pack: a placeholder that names it, in the sticker's place.
    const missing = messages(ming.page, '阿美').getByRole('img', { name: '這裡沒有這張貼圖：my-cats/mimi' });
    await missing.waitFor(WAIT);
    expect(await missing.textContent()).toBe('mimi');
    await shot(ming.page, 'zh-TW-58-4-sticker-not-here-390');
    // Once 小明 imports the same file, the sticker is drawn in place.
    await openStickers(ming.page);
    await picker(ming.page).getByRole('tab', { name: '匯入或移除貼圖組' }).click();
    await picker(ming.page).locator('input[type="file"]').setInputFiles(packFile(PACK));
    await picker(ming.page).getByRole('status').getByText('已匯入貼圖組').waitFor(WAIT);
    expect(await seeSticker(ming.page, '阿美', 'my-cats', 'mimi')).toBe('貼圖：咪咪');
    await ming.page.keyboard.press('Escape');

    // The pack stays after a reload (IndexedDB), and can be removed.
    await page.reload();
    await page.getByLabel('密碼', { exact: true }).fill(PASS.amei);
    await page.getByRole('button', { name: '解鎖' }).click();
    await chatList(page).getByRole('button', { name: /小明/ }).first().click();
    await messages(page, '小明')
      .locator('.msg-out img.sticker[data-pack="my-cats"][data-id="mimi"]')
      .waitFor(WAIT);
    await openStickers(page);
    await picker(page).getByRole('tab', { name: '匯入或移除貼圖組' }).click();
    await picker(page).getByRole('button', { name: '移除「我家的貓」' }).click();
    await expect.poll(() => picker(page).getByRole('tab').count(), WAIT).toBe(5);
    await messages(page, '小明').getByRole('img', { name: '這裡沒有這張貼圖：my-cats/mimi' }).waitFor(WAIT);
    await page.keyboard.press('Escape');
    expect([...amei.problems, ...ming.problems]).toEqual([]);
  }, 120_000);

  it('emoji search in Chinese (through an IME) and English; an emoji drawn with the shipped font', async () => {
    for (const p of [amei, ming]) {
      const page = p.page;
      await page.getByRole('button', { name: '表情符號', exact: true }).click();
      const panel = page.getByRole('group', { name: '選擇表情符號' });
      const search = panel.getByRole('searchbox', { name: '搜尋表情符號' });
      await search.click();
      // 注音 composition: the list waits for the committed text, then shows the cat first.
      const cdp = await page.context().newCDPSession(page);
      await cdp.send('Input.imeSetComposition', { text: 'ㄇㄠ', selectionStart: 2, selectionEnd: 2 });
      expect(await panel.getByRole('tablist').count()).toBe(1);
      await cdp.send('Input.insertText', { text: '貓' });
      const results = panel.getByRole('group', { name: /^找到 \d+ 個表情符號$/ });
      await results.waitFor(WAIT);
      expect(await results.getByRole('button').first().textContent()).toBe('🐱');
      await search.fill('愛心');
      await results.getByRole('button', { name: '❤️' }).waitFor(WAIT);
      await search.fill('heart');
      await results.getByRole('button', { name: '💔' }).waitFor(WAIT);
      expect(await results.getByRole('button', { name: '🐱' }).count()).toBe(0);
      await search.fill('<b>.*');
      await panel.getByText('找不到符合的表情符號').waitFor(WAIT);
      await search.fill('cat');
      await results.getByRole('button', { name: '🐱' }).waitFor(WAIT);
      await page.waitForFunction(() => document.fonts.status === 'loaded', undefined, WAIT);
      if (p === amei) await shot(page, 'zh-TW-58-5-emoji-search');
      else await shot(page, 'zh-TW-58-6-emoji-search-390');
      await cdp.detach();
      // Enter picks the first match into the message box.
      await search.press('Enter');
      await expect.poll(() => page.getByLabel('輸入訊息').inputValue(), WAIT).toBe('🐱');
      await page.keyboard.press('Escape');
    }
    const box = amei.page.getByLabel('輸入訊息');
    await box.fill('🐱🧋');
    await box.press('Enter');
    const bubble = messages(ming.page, '阿美').locator('.msg-in .bubble', { hasText: '🐱🧋' }).last();
    await bubble.waitFor(WAIT);
    // The element whose own text holds the emoji (CSS.getPlatformFontsForNode reads child text nodes).
    await bubble.evaluate((el) => {
      const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
      for (let n = walk.nextNode(); n; n = walk.nextNode())
        if (n.textContent?.includes('🐱')) return n.parentElement!.setAttribute('data-emoji-probe', '');
    });
    // The font file is fetched because an emoji is on screen; Chromium draws it from that file.
    await ming.page.waitForFunction(
      () => {
        const faces: FontFace[] = [];
        document.fonts.forEach((f) => faces.push(f));
        return faces.some((f) => f.family.includes('Parus Emoji') && f.status === 'loaded');
      },
      undefined,
      WAIT,
    );
    const cdp = await ming.page.context().newCDPSession(ming.page);
    await cdp.send('DOM.enable');
    await cdp.send('CSS.enable');
    await expect
      .poll(async () => {
        const all = await renderedFonts(cdp, '[data-emoji-probe]');
        return all.filter((f) => f.isCustomFont).map((f) => f.familyName);
      }, WAIT)
      .toContain('Twemoji Mozilla');
    // And it is drawn in colour: the cat's orange and the tea's brown, not a grey box or nothing.
    const png = await ming.page.locator('[data-emoji-probe]').screenshot();
    expect(await colouredPixels(world, png)).toBeGreaterThan(100);
    await cdp.detach();
    await shot(ming.page, 'zh-TW-58-7-emoji-font-390');
    expect([...amei.problems, ...ming.problems]).toEqual([]);
  }, 120_000);
});
