// Small group calls (decision 0053) in three headless Chromium pages with fake camera and
// microphone, on a real relay over loopback: 阿美 calls from the group header, 小明 and 阿華
// join from the banner (加入通話), every pair has its own connection and media flows on each
// (bytes received grow, the audio level is not zero), each pair's certificate is checked
// against what the member signed; 小明 leaves and the other two stay connected; the last one
// out writes 群組通話 m:ss in the group. A member whose signed fingerprint is not its media
// path's is refused by the others with a visible warning, the rest of the call goes on.
// (A non-member's or a removed member's signals: client test group-calls.test.ts.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startRelay, type Relay } from '@parus/relay';
import { launchChromium } from './helpers/browser.ts';
import {
  DIST,
  WAIT,
  befriend,
  chatList,
  createAccount,
  openPerson,
  shot,
  type Person,
} from './helpers/app.ts';
import { MEDIA_FLAGS, RECORD_CONNECTIONS, TAMPER_FINGERPRINT } from './helpers/calls.ts';

const GROUP = '家族群組';
const LONG = { timeout: 60_000 };

let relay: Relay;
let browser: Browser;
let dir: string;
let url: string;
let amei: Person;
let ming: Person;
let hua: Person;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parus-web-gcalls-'));
  relay = await startRelay({ port: 0, dataDir: join(dir, 'relay'), webRoot: DIST });
  url = `http://127.0.0.1:${relay.port}/`;
  browser = await launchChromium(MEDIA_FLAGS);
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await relay?.close();
  rmSync(dir, { recursive: true, force: true });
});

function person(): Promise<Person> {
  return openPerson({ browser, url }, { init: [RECORD_CONNECTIONS] });
}

function messages(page: Page) {
  return page.getByRole('list', { name: `與 ${GROUP} 的訊息` });
}

function callScreen(page: Page) {
  return page.getByRole('dialog', { name: '群組通話' });
}

interface PairFlow {
  state: string;
  bytes: number;
}

/** Per open connection of the page: its state and the bytes it received so far. */
function flows(page: Page): Promise<PairFlow[]> {
  return page.evaluate(async () => {
    const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
    const out: PairFlow[] = [];
    for (const pc of all) {
      if (pc.connectionState === 'closed') continue;
      let bytes = 0;
      (await pc.getStats()).forEach((r: Record<string, unknown>) => {
        if (r.type === 'inbound-rtp') bytes += Number(r.bytesReceived ?? 0);
      });
      out.push({ state: pc.connectionState, bytes });
    }
    return out;
  });
}

/** Waits until the page has `n` connected connections and every one of them received more. */
async function everyPairFlows(page: Page, n: number): Promise<void> {
  const until = Date.now() + LONG.timeout;
  let first: PairFlow[] | undefined;
  for (;;) {
    const now = await flows(page);
    const connected = now.filter((f) => f.state === 'connected');
    if (connected.length === n && now.length === n) {
      if (!first) first = now;
      else if (now.every((f, i) => f.bytes > first![i]!.bytes && f.bytes > 0)) return;
    } else first = undefined;
    if (Date.now() > until) throw new Error(`media did not flow on ${n} pairs: ${JSON.stringify(now)}`);
    await page.waitForTimeout(250);
  }
}

/** The peak level of the received audio of every open connection (the fake microphone beeps). */
function audioPeaks(page: Page): Promise<number[]> {
  return page.evaluate(async () => {
    const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
    const ctx = new AudioContext();
    await ctx.resume();
    const peaks: number[] = [];
    for (const pc of all) {
      if (pc.connectionState !== 'connected') continue;
      const track = pc.getReceivers().find((r) => r.track.kind === 'audio')!.track;
      const analyser = ctx.createAnalyser();
      ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
      const data = new Float32Array(analyser.fftSize);
      let peak = 0;
      for (let i = 0; i < 50 && peak === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        analyser.getFloatTimeDomainData(data);
        for (const v of data) peak = Math.max(peak, Math.abs(v));
      }
      peaks.push(peak);
    }
    await ctx.close();
    return peaks;
  });
}

async function joinFromList(p: Person): Promise<void> {
  const item = chatList(p.page).getByRole('button', { name: new RegExp(GROUP) });
  await item.getByText('新邀請').waitFor(WAIT);
  await item.click();
  await p.page.getByRole('button', { name: '加入', exact: true }).click();
  await p.page.getByLabel('輸入訊息').waitFor(WAIT);
}

async function closedCallScreen(p: Person): Promise<void> {
  await callScreen(p.page).waitFor({ state: 'detached', timeout: LONG.timeout });
}

describe('group calls in the browser', () => {
  it('three members: every pair connects and media flows on each; one leaves, the others stay; the log', async () => {
    [amei, ming, hua] = await Promise.all([person(), person(), person()]);
    // One after the other: three key derivations at once on a loaded machine take long.
    await createAccount(amei.page, '阿美', 'amei gcall pass 1357', relay.address);
    await createAccount(ming.page, '小明', 'ming gcall pass 2468', relay.address);
    await createAccount(hua.page, '阿華', 'hua gcall pass 3579', relay.address);
    await befriend(amei, ming, '阿美', '小明');
    await befriend(amei, hua, '阿美', '阿華');
    await amei.page.getByRole('button', { name: '建立群組' }).click();
    await amei.page.getByLabel('群組名稱').fill(GROUP);
    await amei.page.getByRole('checkbox', { name: '小明' }).check();
    await amei.page.getByRole('checkbox', { name: '阿華' }).check();
    await amei.page.getByRole('button', { name: '建立', exact: true }).click();
    await amei.page.getByRole('heading', { name: GROUP }).waitFor(WAIT);
    await Promise.all([joinFromList(ming), joinFromList(hua)]);
    for (const p of [amei, ming, hua]) await p.page.getByText('成員 3 人').first().waitFor(LONG);

    await amei.page.getByRole('button', { name: '語音通話', exact: true }).click();
    await callScreen(amei.page).getByText('等待其他成員加入…').waitFor(WAIT);
    for (const p of [ming, hua]) {
      const banner = p.page.getByRole('region', { name: '群組通話' });
      await banner.getByText('群組語音通話進行中（1 人）').waitFor(LONG);
    }
    await shot(ming.page, 'zh-TW-60-group-call-banner');
    await ming.page
      .getByRole('region', { name: '群組通話' })
      .getByRole('button', { name: '加入通話' })
      .click();
    await callScreen(amei.page)
      .getByRole('listitem', { name: '小明' })
      .getByText('已確認加密連線')
      .waitFor(LONG);
    await hua.page
      .getByRole('region', { name: '群組通話' })
      .getByText('（2 人）', { exact: false })
      .waitFor(LONG);
    await hua.page
      .getByRole('region', { name: '群組通話' })
      .getByRole('button', { name: '加入通話' })
      .click();

    // Every pair: its certificate checked against what the member signed, media flowing.
    const others = new Map([
      [amei, ['小明', '阿華']],
      [ming, ['阿美', '阿華']],
      [hua, ['阿美', '小明']],
    ]);
    for (const [p, names] of others)
      for (const name of names)
        await callScreen(p.page).getByRole('listitem', { name }).getByText('已確認加密連線').waitFor(LONG);
    for (const p of [amei, ming, hua]) {
      await everyPairFlows(p.page, 2);
      const peaks = await audioPeaks(p.page);
      expect(peaks).toHaveLength(2);
      for (const peak of peaks) expect(peak).toBeGreaterThan(0);
    }
    await callScreen(amei.page).getByText('3 人通話中').waitFor(WAIT);
    await shot(amei.page, 'zh-TW-61-group-call');

    // 小明 leaves: 阿美 and 阿華 stay connected to each other.
    await callScreen(ming.page).getByRole('button', { name: '離開通話' }).click();
    await closedCallScreen(ming);
    for (const p of [amei, hua]) {
      await callScreen(p.page)
        .getByRole('listitem', { name: '小明' })
        .waitFor({ state: 'detached', ...LONG });
      await everyPairFlows(p.page, 1);
    }
    // 小明 sees the call still going on, and could join again.
    await ming.page
      .getByRole('region', { name: '群組通話' })
      .getByText('（2 人）', { exact: false })
      .waitFor(LONG);

    // The last one out writes the log, which everyone sees.
    await callScreen(amei.page).getByRole('button', { name: '離開通話' }).click();
    await callScreen(hua.page).getByText('等待其他成員加入…').waitFor(LONG);
    await callScreen(hua.page).getByRole('button', { name: '離開通話' }).click();
    for (const p of [amei, ming, hua]) {
      await messages(p.page)
        .getByText(/群組通話 \d+:\d\d/)
        .waitFor(LONG);
      await p.page.getByRole('region', { name: '群組通話' }).waitFor({ state: 'detached', ...LONG });
    }
    await shot(hua.page, 'zh-TW-62-group-call-log');
    expect([...amei.problems, ...ming.problems, ...hua.problems]).toEqual([]);
  });

  it('a member whose signed fingerprint is not its media path is refused with a warning; the others go on', async () => {
    for (const p of [amei, ming, hua]) await closedCallScreen(p);
    await hua.page.evaluate(TAMPER_FINGERPRINT);
    await amei.page.getByRole('button', { name: '語音通話', exact: true }).click();
    await ming.page
      .getByRole('region', { name: '群組通話' })
      .getByRole('button', { name: '加入通話' })
      .click();
    await callScreen(amei.page)
      .getByRole('listitem', { name: '小明' })
      .getByText('已確認加密連線')
      .waitFor(LONG);
    await hua.page
      .getByRole('region', { name: '群組通話' })
      .getByText('（2 人）', { exact: false })
      .waitFor(LONG);
    await hua.page
      .getByRole('region', { name: '群組通話' })
      .getByRole('button', { name: '加入通話' })
      .click();
    for (const p of [amei, ming]) {
      const warning = callScreen(p.page).getByRole('alert');
      await warning.getByText('安全檢查未通過：阿華', { exact: false }).waitFor(LONG);
      await callScreen(p.page)
        .getByRole('listitem', { name: '阿華' })
        .getByText('安全檢查未通過')
        .waitFor(WAIT);
    }
    await shot(amei.page, 'zh-TW-63-group-call-refused');
    // 阿美 and 小明 are still connected to each other; no pair with 阿華 carries media.
    for (const p of [amei, ming]) await everyPairFlows(p.page, 1);
    for (const p of [amei, ming, hua]) {
      const screen = callScreen(p.page);
      if ((await screen.getByRole('button', { name: '離開通話' }).count()) > 0)
        await screen.getByRole('button', { name: '離開通話' }).click();
    }
  });
});
