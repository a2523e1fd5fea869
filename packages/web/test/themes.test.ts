// Every theme keeps text readable: WCAG 2 contrast of at least 4.5:1 for the main text and
// background pairs and for both bubble colours, computed from the real stylesheet's computed
// styles in Chromium (semi-transparent backgrounds composited over what lies beneath them).
// And the font size setting scales the conversation's text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { DIST } from './helpers/app.ts';
import { launchChromium, watchPage } from './helpers/browser.ts';
import { serveStatic, type StaticServer } from './helpers/static-server.ts';

let server: StaticServer;
let browser: Browser;
let page: Page;
let problems: string[];

/** Elements shaped as the app draws them (same classes, same nesting), for every pair. */
const PROBE = `
<div id="probe" class="app">
  <aside class="sidebar">
    <p class="muted">muted</p>
    <span class="chat-time">time</span>
    <span class="chat-preview">preview</span>
    <span class="badge">3</span>
    <span class="badge badge-muted">3</span>
    <p class="form-error">error</p>
    <button class="primary">primary</button>
    <div class="lang-switch"><button aria-pressed="true">lang</button></div>
  </aside>
  <main class="chat-pane"><section class="chat">
    <header class="chat-head"><span class="state-tag state-validated">validated</span>
      <span class="state-tag state-unvalidated">unvalidated</span></header>
    <div class="banner banner-danger"><p>danger</p></div>
    <div class="banner banner-gentle"><p>gentle</p></div>
    <div class="banner banner-info"><p>info</p></div>
    <div class="banner banner-warn"><p>warn</p></div>
    <ol class="messages">
      <li class="day-sep"><span>today</span></li>
      <li class="msg msg-in"><div class="bubble"><span class="text">in</span></div>
        <span class="msg-meta"><time>3:05</time></span></li>
      <li class="msg msg-out"><div class="bubble"><span class="quote"><span class="quote-text">q</span></span>
        <span class="text">out</span></div><span class="msg-meta"><span class="status status-read">read</span></span></li>
    </ol>
    <p class="typing typing-on">typing</p>
    <div class="composer-area"><section class="help-card"><dd>help</dd></section>
      <form class="composer"><textarea>draft</textarea></form></div>
  </section></main>
</div>`;

const PAIRS: Record<string, string> = {
  'body text': 'body',
  'muted text': '#probe .muted',
  'chat list time': '#probe .chat-time',
  'chat list preview': '#probe .chat-preview',
  'unread badge': '#probe .badge:not(.badge-muted)',
  'muted badge': '#probe .badge-muted',
  'form error': '#probe .form-error',
  'primary button': '#probe button.primary',
  'chosen language': '#probe .lang-switch button',
  'validated tag': '#probe .state-validated',
  'unvalidated tag': '#probe .state-unvalidated',
  'danger banner': '#probe .banner-danger p',
  'gentle banner': '#probe .banner-gentle p',
  'info banner': '#probe .banner-info p',
  'warning banner': '#probe .banner-warn p',
  'day heading': '#probe .day-sep span',
  'incoming bubble': '#probe .msg-in .text',
  'outgoing bubble': '#probe .msg-out .text',
  'quoted text': '#probe .msg-out .quote-text',
  'message time': '#probe .msg-in .msg-meta time',
  'read mark': '#probe .status-read',
  'typing indicator': '#probe .typing',
  'help card': '#probe .help-card dd',
  composer: '#probe .composer textarea',
};

const THEMES = ['light', 'dark', 'matcha', 'sakura', 'ocean'] as const;

beforeAll(async () => {
  [server, browser] = await Promise.all([serveStatic({ files: DIST }), launchChromium()]);
  page = await browser.newPage({ colorScheme: 'light' });
  problems = watchPage(page);
  await page.goto(server.url);
  await page.locator('#app form').waitFor({ timeout: 20_000 });
  await page.evaluate((html) => document.body.insertAdjacentHTML('beforeend', html), PROBE);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Contrast ratio of each pair, as the page renders it now. */
function contrasts(p: Page): Promise<Record<string, number>> {
  return p.evaluate((pairs) => {
    type RGBA = [number, number, number, number];
    const parse = (c: string): RGBA => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) throw new Error(`cannot read colour ${c}`);
      const [r, g, b, a] = m[1]!
        .split(/[\s,/]+/)
        .filter(Boolean)
        .map(Number);
      return [r!, g!, b!, a ?? 1];
    };
    const over = (top: RGBA, under: RGBA): RGBA => {
      const a = top[3] + under[3] * (1 - top[3]);
      if (a === 0) return [0, 0, 0, 0];
      const mix = (i: number): number => (top[i]! * top[3] + under[i]! * under[3] * (1 - top[3])) / a;
      return [mix(0), mix(1), mix(2), a];
    };
    /** The colour behind an element: its own and its ancestors' backgrounds, composited. */
    const background = (el: Element | null): RGBA => {
      const layers: RGBA[] = [];
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c[3] > 0) layers.push(c);
        if (c[3] >= 1) break;
      }
      let out: RGBA = [255, 255, 255, 1]; // the canvas under everything
      for (const layer of layers.reverse()) out = over(layer, out);
      return out;
    };
    const luminance = ([r, g, b]: RGBA): number => {
      const lin = (v: number): number => {
        const s = v / 255;
        return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      };
      return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
    };
    const out: Record<string, number> = {};
    for (const [name, selector] of Object.entries(pairs)) {
      const el = document.querySelector(selector);
      if (!el) throw new Error(`no element for ${name}`);
      const bg = background(el);
      const style = getComputedStyle(el);
      // Opacity on the element or its ancestors fades the text towards the background.
      let opacity = 1;
      for (let e: Element | null = el; e; e = e.parentElement) opacity *= Number(getComputedStyle(e).opacity);
      const fg = parse(style.color);
      const text = over([fg[0], fg[1], fg[2], fg[3] * opacity], bg);
      const [l1, l2] = [luminance(text), luminance(bg)].sort((a, b) => b - a);
      out[name] = Math.round(((l1! + 0.05) / (l2! + 0.05)) * 100) / 100;
    }
    return out;
  }, PAIRS);
}

async function setTheme(p: Page, theme: string | undefined): Promise<void> {
  await p.evaluate((t) => {
    if (t) document.documentElement.dataset.theme = t;
    else delete document.documentElement.dataset.theme;
  }, theme);
}

describe('theme contrast (WCAG 2, at least 4.5:1)', () => {
  for (const theme of THEMES) {
    it(`${theme}: every text pair`, async () => {
      await setTheme(page, theme);
      const ratios = await contrasts(page);
      const low = Object.entries(ratios).filter(([, r]) => r < 4.5);
      expect(low, JSON.stringify(ratios)).toEqual([]);
    });
  }

  it('the system theme follows prefers-color-scheme, readable both ways', async () => {
    await setTheme(page, undefined);
    const light = await contrasts(page);
    const lightBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'dark' });
    const dark = await contrasts(page);
    const darkBg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await page.emulateMedia({ colorScheme: 'light' });
    expect(darkBg).not.toBe(lightBg);
    expect(Object.entries(light).filter(([, r]) => r < 4.5)).toEqual([]);
    expect(Object.entries(dark).filter(([, r]) => r < 4.5)).toEqual([]);
  });

  it('the themes really differ from each other', async () => {
    const seen = new Set<string>();
    for (const theme of THEMES) {
      await setTheme(page, theme);
      seen.add(
        await page.evaluate(() =>
          ['body', '#probe .msg-out .bubble', '#probe .chat-pane']
            .map((s) => getComputedStyle(document.querySelector(s)!).backgroundColor)
            .join(),
        ),
      );
    }
    expect(seen.size).toBe(THEMES.length);
  });
});

describe('font size', () => {
  it('small < medium < large < extra large, for the messages and the interface', async () => {
    const sizes: number[][] = [];
    for (const size of ['small', undefined, 'large', 'xlarge']) {
      sizes.push(
        await page.evaluate((s) => {
          if (s) document.documentElement.dataset.fontSize = s;
          else delete document.documentElement.dataset.fontSize;
          return ['#probe .msg-in .text', '#probe .chat-preview', '#probe .msg-meta'].map((sel) =>
            parseFloat(getComputedStyle(document.querySelector(sel)!).fontSize),
          );
        }, size),
      );
    }
    for (let i = 1; i < sizes.length; i++)
      for (let j = 0; j < sizes[i]!.length; j++) expect(sizes[i]![j]).toBeGreaterThan(sizes[i - 1]![j]!);
    expect(sizes[1]![0]).toBe(15);
  });

  it('ran with no CSP violation and no uncaught error', () => {
    expect(problems).toEqual([]);
  });
});
