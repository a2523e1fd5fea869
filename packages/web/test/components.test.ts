// The components ready for the engine's sticker and typing APIs, in Chromium under the
// strict CSP: the sticker panel (12 named stickers, drawn from the static SVG files only
// when shown), StickerView's placeholder for an unknown sticker, the typing indicator, and
// the composer's typing signal (not for keys that change nothing).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { build, type Rollup } from 'vite';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { shot, unnamedControls } from './helpers/app.ts';
import { launchChromium, watchPage } from './helpers/browser.ts';
import { serveStatic, type StaticServer } from './helpers/static-server.ts';

let server: StaticServer;
let browser: Browser;

async function buildPage(): Promise<Map<string, Uint8Array | string>> {
  const out = (await build({
    configFile: false,
    root: join(import.meta.dirname, 'components-page'),
    base: './',
    logLevel: 'warn',
    publicDir: false,
    esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
    build: {
      write: false,
      target: 'es2022',
      minify: false,
      modulePreload: { polyfill: false },
      assetsInlineLimit: 0,
    },
  })) as Rollup.RollupOutput;
  const files = new Map<string, Uint8Array | string>();
  for (const item of out.output) files.set(item.fileName, item.type === 'chunk' ? item.code : item.source);
  const stickers = join(import.meta.dirname, '../public/stickers');
  for (const pack of readdirSync(stickers))
    for (const f of readdirSync(join(stickers, pack)))
      files.set(`stickers/${pack}/${f}`, readFileSync(join(stickers, pack, f)));
  return files;
}

async function open(
  lang: 'zh-TW' | 'en',
): Promise<{ context: BrowserContext; page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 720, height: 640 }, locale: lang });
  await context.addInitScript((l) => localStorage.setItem('parus.lang', l), lang);
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(server.url);
  await page.getByRole('list', { name: 'messages' }).waitFor({ timeout: 20_000 });
  return { context, page, problems };
}

beforeAll(async () => {
  const [files, b] = await Promise.all([buildPage(), launchChromium()]);
  browser = b;
  server = await serveStatic({ files });
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const stickerRequests = (page: Page): Promise<number> =>
  page.evaluate(
    () => performance.getEntriesByType('resource').filter((e) => e.name.includes('/stickers/')).length,
  );

describe('sticker panel and StickerView', () => {
  it('loads no sticker until the panel opens; picks one; an unknown one is a placeholder', async () => {
    const { context, page, problems } = await open('zh-TW');
    expect(await page.getByRole('img', { name: '這裡沒有這張貼圖：someone-elses-pack/wave' }).count()).toBe(
      1,
    );
    expect(await stickerRequests(page)).toBe(0);

    await page.getByRole('button', { name: '貼圖', exact: true }).click();
    const panel = page.getByRole('group', { name: '選擇貼圖' });
    await panel.waitFor({ timeout: 20_000 });
    const names = await panel
      .getByRole('button')
      .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')));
    expect(names).toEqual([
      '你好',
      '謝謝',
      '好的',
      '哈哈',
      '對不起',
      '晚安',
      '愛你',
      '哇！',
      '嗚嗚',
      '生氣',
      '忙碌中',
      '加油！',
    ]);
    // Every picture in the panel really loads (valid SVG, allowed by the CSP).
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLImageElement>('.sticker-choice img')).every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    );
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, 'zh-TW-19-sticker-picker');

    // From the keyboard: Tab to a sticker, Enter picks it and closes the panel.
    await panel.getByRole('button', { name: '謝謝' }).focus();
    await page.keyboard.press('Enter');
    expect(await panel.count()).toBe(0);
    const sent = page.getByRole('img', { name: '貼圖：謝謝' });
    await sent.waitFor({ timeout: 20_000 });
    expect(await sent.evaluate((img: HTMLImageElement) => [img.dataset.pack, img.dataset.id])).toEqual([
      'parus',
      'thanks',
    ]);
    await page.waitForFunction(() => {
      const img = document.querySelector<HTMLImageElement>('img.sticker[data-id="thanks"]');
      return img !== null && img.complete && img.naturalWidth > 0;
    });
    // Escape closes the panel too.
    await page.getByRole('button', { name: '貼圖', exact: true }).click();
    await page.keyboard.press('Escape');
    expect(await page.getByRole('group', { name: '選擇貼圖' }).count()).toBe(0);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('names stickers in English when English is on', async () => {
    const { context, page, problems } = await open('en');
    await page.getByRole('button', { name: 'Stickers' }).click();
    await page.getByRole('button', { name: 'Good night' }).waitFor({ timeout: 20_000 });
    expect(
      await page.getByRole('img', { name: 'Sticker not available here: someone-elses-pack/wave' }).count(),
    ).toBe(1);
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll<HTMLImageElement>('.sticker-choice img')).every(
        (img) => img.complete && img.naturalWidth > 0,
      ),
    );
    await shot(page, 'en-9-sticker-picker');
    await page.getByRole('button', { name: 'Good night' }).click();
    await page.getByRole('img', { name: 'Sticker: Good night' }).waitFor({ timeout: 20_000 });
    expect(problems).toEqual([]);
    await context.close();
  });
});

describe('typing', () => {
  it('the indicator shows while a typing event lasts and goes when it stops', async () => {
    const { context, page } = await open('zh-TW');
    const live = page.locator('.typing[aria-live="polite"]');
    expect(await live.innerText()).toBe('');
    await page.getByRole('button', { name: 'typing event' }).click();
    await page.getByText('Amei 正在輸入…').waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: 'typing stopped' }).click();
    await page.getByText('Amei 正在輸入…').waitFor({ state: 'detached', timeout: 20_000 });
    await context.close();
  });

  it('the composer signals typing when the text changes, not for keys that change nothing', async () => {
    const { context, page } = await open('zh-TW');
    const box = page.getByLabel('輸入訊息');
    await box.focus();
    for (const key of ['ArrowLeft', 'Shift', 'Home', 'Enter']) await page.keyboard.press(key);
    expect(await page.locator('#typing-signals').innerText()).toBe('0');
    // An IME composition updating its string counts as typing (compose/typing.ts).
    await box.evaluate((el: HTMLTextAreaElement) => {
      el.dispatchEvent(new CompositionEvent('compositionstart', { data: '', bubbles: true }));
      el.value = 'ㄋ';
      el.dispatchEvent(
        new InputEvent('input', { data: 'ㄋ', inputType: 'insertCompositionText', bubbles: true }),
      );
    });
    await page.waitForFunction(() => document.querySelector('#typing-signals')?.textContent === '1');
    expect(await page.locator('#sent').innerText()).toBe('');
    await context.close();
  });

  it('the composer sends /me as an action and text as text', async () => {
    const { context, page } = await open('zh-TW');
    const box = page.getByLabel('輸入訊息');
    await box.fill('/me 伸懶腰');
    await box.press('Enter');
    await box.fill('//me 不是指令');
    await box.press('Enter');
    await page.waitForFunction(
      () => document.querySelector('#sent')?.textContent === 'action:伸懶腰|/me 不是指令',
    );
    await context.close();
  });
});
