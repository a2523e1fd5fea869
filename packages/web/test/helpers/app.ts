/** Shared steps for driving the built web client (packages/web/dist) in Chromium. */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { startRelay, type Relay } from '@parus/relay';
import { launchChromium, watchPage } from './browser.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

export const DIST = resolve(import.meta.dirname, '../../dist');
export const REPO = resolve(import.meta.dirname, '../../../..');
export const SCREENSHOTS = process.env.PARUS_SCREENSHOTS ? join(REPO, 'docs/screenshots') : undefined;

/** Waits are bounded by these; nothing sleeps a fixed time. */
export const WAIT = { timeout: 20_000 };

export interface World {
  relay: Relay;
  /** Where the page is: our static server, or the relay itself. */
  url: string;
  browser: Browser;
  dir: string;
  close(): Promise<void>;
}

/**
 * A relay on port 0 with a temporary folder, Chromium, and the built client served either
 * by the test's own static server with the strict CSP (the default) or by the relay itself
 * (`servedByRelay`), as `npm start` does. `maxBlobBytes` lowers the relay's file limit.
 */
export async function startWorld(
  opts: { servedByRelay?: boolean; maxBlobBytes?: number } = {},
): Promise<World> {
  if (!existsSync(join(DIST, 'index.html')))
    throw new Error('packages/web/dist is missing: run `npm run build` first (npm test does)');
  const dir = mkdtempSync(join(tmpdir(), 'parus-web-'));
  const relay = await startRelay({
    port: 0,
    dataDir: join(dir, 'relay'),
    ...(opts.servedByRelay ? { webRoot: DIST } : {}),
    ...(opts.maxBlobBytes ? { limits: { maxBlobBytes: opts.maxBlobBytes } } : {}),
  });
  const [server, browser]: [StaticServer | undefined, Browser] = await Promise.all([
    opts.servedByRelay ? undefined : serveStatic({ files: DIST, relayAddress: relay.address }),
    launchChromium(),
  ]);
  return {
    relay,
    url: server?.url ?? `http://127.0.0.1:${relay.port}/`,
    browser,
    dir,
    async close() {
      await browser.close().catch(() => undefined);
      await server?.close();
      await relay.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Person {
  context: BrowserContext;
  page: Page;
  problems: string[];
}

/**
 * A zh-TW browser context on the world's page (or any browser and url); `init` scripts run in
 * every page before the app's own code (the call tests record each RTCPeerConnection).
 */
export async function openPerson(
  world: Pick<World, 'browser' | 'url'>,
  opts: { colorScheme?: 'light' | 'dark'; init?: ReadonlyArray<() => void> } = {},
): Promise<Person> {
  const context = await world.browser.newContext({
    locale: 'zh-TW',
    timezoneId: 'Asia/Taipei',
    viewport: { width: 960, height: 640 },
    colorScheme: opts.colorScheme ?? 'light',
  });
  for (const script of opts.init ?? []) await context.addInitScript(script);
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(world.url);
  return { context, page, problems };
}

/** The chat list of the side bar, in either language. */
export function chatList(page: Page): Locator {
  return page.getByRole('list', { name: /^(聊天列表|Chats)$/ });
}

/**
 * GUEST adds HOST by pasting HOST's invitation link (zh-TW screens), and waits until each side
 * shows the other: the guest's "not yet compared" banner, the guest in the host's chat list.
 */
export async function befriend(
  host: Person,
  guest: Person,
  hostName: string,
  guestName: string,
): Promise<void> {
  await host.page.getByRole('button', { name: '加入好友' }).first().click();
  const link = await host.page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
  await guest.page.getByRole('button', { name: '加入好友' }).first().click();
  await guest.page.getByLabel('好友的邀請連結').fill(link);
  await guest.page.getByRole('button', { name: '加入', exact: true }).click();
  await guest.page.getByText(`還沒有和 ${hostName} 比對安全碼`, { exact: false }).waitFor(WAIT);
  await host.page.keyboard.press('Escape');
  await chatList(host.page)
    .getByRole('button', { name: new RegExp(guestName) })
    .first()
    .waitFor(WAIT);
}

/** Creates an account through the zh-TW first screen; the relay field comes from /api/relay. */
export async function createAccount(
  page: Page,
  name: string,
  passphrase: string,
  relay: string,
): Promise<void> {
  await page.getByRole('heading', { name: '建立帳號' }).waitFor(WAIT);
  await page.waitForFunction(
    (want) => (document.querySelector('input[name="relay"]') as HTMLInputElement | null)?.value === want,
    relay,
    WAIT,
  );
  await page.getByLabel('顯示名稱').fill(name);
  await page.getByLabel('密碼', { exact: true }).fill(passphrase);
  await page.getByLabel('再次輸入密碼').fill(passphrase);
  await page.getByRole('button', { name: '建立帳號' }).click();
  // Argon2id (the browser profile, decision 0027) takes seconds alone and far longer when the
  // suite's other browsers derive keys at the same time: the first screen gets a minute.
  await page.getByRole('button', { name: '加入好友' }).first().waitFor({ timeout: 60_000 });
}

export async function shot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}

/** Every byte string in the account's IndexedDB database, read raw (no passphrase). */
export async function rawDatabaseValues(page: Page): Promise<number[][]> {
  return page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>((resolve, reject) => {
      const req = indexedDB.open('parus-account');
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    const out: number[][] = [];
    for (const name of Array.from(db.objectStoreNames)) {
      const values = await new Promise<unknown[]>((resolve, reject) => {
        const req = db.transaction(name).objectStore(name).getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      for (const v of values) if (v instanceof Uint8Array) out.push([...v]);
    }
    db.close();
    return out;
  });
}

export function holds(values: number[][], text: string): boolean {
  const needle = Buffer.from(text);
  return values.some((v) => Buffer.from(v).includes(needle));
}

/**
 * Controls without an accessible name on the page (buttons, fields, links, radios): the
 * name as assistive technology computes it, approximated: aria-labelledby, aria-label,
 * a <label>, the text inside, or a title.
 */
export async function unnamedControls(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const nameOf = (el: HTMLElement): string => {
      const by = el.getAttribute('aria-labelledby');
      if (by)
        return by
          .split(/\s+/)
          .map((id) => document.getElementById(id)?.textContent ?? '')
          .join(' ')
          .trim();
      const label = el.getAttribute('aria-label');
      if (label) return label.trim();
      const labels = (el as HTMLInputElement).labels;
      if (labels && labels.length > 0)
        return Array.from(labels)
          .map((l) => l.textContent ?? '')
          .join(' ')
          .trim();
      if (el.tagName === 'BUTTON' || el.tagName === 'A') return (el.textContent ?? '').trim() || el.title;
      return el.title;
    };
    const controls = document.querySelectorAll<HTMLElement>(
      'button, a[href], input, textarea, select, [role="button"]',
    );
    return Array.from(controls)
      .filter((el) => el.getClientRects().length > 0 && !nameOf(el))
      .map((el) => el.outerHTML.slice(0, 120));
  });
}
