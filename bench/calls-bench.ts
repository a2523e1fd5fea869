/**
 * `npm run bench -- --only calls`: call setup time in the web client (decision 0046), two
 * headless Chromium pages with fake camera and microphone on a real relay over loopback. For
 * each of CALLS voice calls: from the caller's button to the offer sent (camera, microphone,
 * certificate, ICE gathering), and from the offer sent to the caller's connection `connected`
 * (signalling through the relay both ways, the callee answering at once, ICE and DTLS) — the
 * callee's answer click comes as soon as the ring shows. Medians and maxima, in ms. Replaces
 * only its section of docs/BENCHMARKS.md.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { startRelay } from '@parus/relay';
import { writeSection } from './doc-sections.ts';
import { describeMachine } from './machine.ts';

const DIST = fileURLToPath(new URL('../packages/web/dist', import.meta.url));
const CHROMIUM = process.env.PARUS_CHROMIUM ?? '/usr/bin/chromium';
const CALLS = 7;
const WAIT = { timeout: 60_000 };
const MARKERS = { start: '<!-- calls:start -->', end: '<!-- calls:end -->', before: '<!-- web:start -->' };

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function createAccount(page: Page, name: string, relay: string): Promise<void> {
  await page.getByRole('heading', { name: '建立帳號' }).waitFor(WAIT);
  await page.waitForFunction(
    (want) => (document.querySelector('input[name="relay"]') as HTMLInputElement | null)?.value === want,
    relay,
    WAIT,
  );
  await page.getByLabel('顯示名稱').fill(name);
  await page.getByLabel('密碼', { exact: true }).fill(`${name} passphrase 2468`);
  await page.getByLabel('再次輸入密碼').fill(`${name} passphrase 2468`);
  await page.getByRole('button', { name: '建立帳號' }).click();
  await page.getByRole('button', { name: '加入好友' }).first().waitFor(WAIT);
}

export async function callsOnly(log: (line: string) => void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'parus-bench-calls-'));
  const relay = await startRelay({ port: 0, dataDir: join(dir, 'relay'), webRoot: DIST });
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
    ],
  });
  try {
    const url = `http://127.0.0.1:${relay.port}/`;
    const open = async (): Promise<Page> => {
      const context = await browser.newContext({ locale: 'zh-TW', viewport: { width: 960, height: 640 } });
      const page = await context.newPage();
      await page.goto(url);
      return page;
    };
    const [caller, callee] = await Promise.all([open(), open()]);
    await Promise.all([
      createAccount(caller, '阿美', relay.address),
      createAccount(callee, '小明', relay.address),
    ]);
    await caller.getByRole('button', { name: '加入好友' }).first().click();
    const link = await caller.getByLabel('我的邀請連結').inputValue(WAIT);
    await callee.getByRole('button', { name: '加入好友' }).first().click();
    await callee.getByLabel('好友的邀請連結').fill(link);
    await callee.getByRole('button', { name: '加入', exact: true }).click();
    await caller.keyboard.press('Escape');
    const list = caller.getByRole('list', { name: '聊天列表' });
    await list.getByRole('button', { name: /小明/ }).click();

    const toOffer: number[] = [];
    const toConnected: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      await caller.evaluate(() => performance.clearMarks());
      await caller.getByRole('button', { name: '語音通話', exact: true }).click();
      await callee.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '接聽' }).click(WAIT);
      await caller.waitForFunction(
        () => performance.getEntriesByName('parus:call-connected').length > 0,
        null,
        WAIT,
      );
      const [start, offer, connected] = await caller.evaluate(() =>
        ['parus:call-start', 'parus:call-offer', 'parus:call-connected'].map(
          (n) => performance.getEntriesByName(n)[0]!.startTime,
        ),
      );
      toOffer.push(offer! - start!);
      toConnected.push(connected! - offer!);
      await caller.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '結束通話' }).click();
      for (const p of [caller, callee])
        await p.getByRole('dialog', { name: '通話' }).waitFor({ state: 'detached', timeout: WAIT.timeout });
      log(
        `call ${i + 1}: ${Math.round(offer! - start!)} ms to the offer, ${Math.round(connected! - offer!)} ms to connected`,
      );
    }
    const ms = (x: number): string => `${Math.round(x)} ms`;
    const m = await describeMachine();
    const section = [
      MARKERS.start,
      '## Calls: setup time on loopback (`npm run bench -- --only calls`)',
      '',
      `${CALLS} voice calls between two headless Chromium pages (fake camera and microphone) through a`,
      'real relay on loopback, the callee answering as soon as it rings (decision 0046). Button to offer:',
      'microphone, certificate, ICE gathering. Offer to connected: the offer and the answer through the',
      'relay in the end-to-end sessions, the answer click, ICE and DTLS.',
      '',
      '| | median | max |',
      '|---|---|---|',
      `| button → offer sent | ${ms(median(toOffer))} | ${ms(Math.max(...toOffer))} |`,
      `| offer sent → connected | ${ms(median(toConnected))} | ${ms(Math.max(...toConnected))} |`,
      '',
      `Machine: ${m.cpu} (${m.cores} cores), ${m.os}, Node ${m.node}, Debian's Chromium headless, ${m.date};`,
      'the machine was shared with other work while measured (noisy wall-clock figures).',
      MARKERS.end,
    ].join('\n');
    await writeSection(MARKERS, section);
    log(section);
  } finally {
    await browser.close().catch(() => undefined);
    await relay.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
