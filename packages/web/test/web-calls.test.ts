// 1:1 calls in two headless Chromium pages with fake camera and microphone (decision 0046), on
// a real relay over loopback: the call rings, is answered, media flows both ways (bytes
// received grow, the audio level is not zero), the media path's certificate is checked against
// the signed signalling, both chats get the call-log entry; a fingerprint tampered with in the
// signalling is refused with a visible warning. Every wait is for something on the page.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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

let relay: Relay;
let browser: Browser;
let dir: string;
let url: string;
let coturn: ChildProcess | undefined;
let turnPort = 0;
const TURN_SECRET = 'a test secret, 32 characters ok';

/** A free TCP port on loopback (coturn listens on UDP and TCP on it). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * Debian's coturn in a temporary folder on loopback, with the REST API secret (as the guide's
 * command starts it); resolves once it listens.
 */
async function startCoturn(folder: string, onPort?: number): Promise<number> {
  const port = onPort ?? (await freePort());
  mkdirSync(folder, { recursive: true });
  const child = spawn(
    '/usr/bin/turnserver',
    [
      '-n',
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${port}`,
      '--use-auth-secret',
      `--static-auth-secret=${TURN_SECRET}`,
      '--realm=parus.test',
      '--no-tls',
      '--no-dtls',
      '--no-cli',
      '--allow-loopback-peers',
      '--min-port=49152',
      '--max-port=65535',
      '--log-file=stdout',
      `--userdb=${join(folder, 'turndb')}`,
      `--pidfile=${join(folder, 'turn.pid')}`,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  coturn = child;
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`coturn did not start: ${seen.slice(-500)}`)), 20_000);
    child.once('exit', (code) => reject(new Error(`coturn exited ${code}: ${seen.slice(-500)}`)));
    child.stdout!.on('data', (d: Buffer) => {
      seen += d.toString();
      if (
        /Total (UDP|General) servers|relay ports initialization done|IPv4\. (UDP|TCP) listener opened/i.test(
          seen,
        )
      ) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return port;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'parus-web-calls-'));
  turnPort = await startCoturn(join(dir, 'coturn'));
  relay = await startRelay({
    port: 0,
    dataDir: join(dir, 'relay'),
    webRoot: DIST,
    turn: { urls: [`turn:127.0.0.1:${turnPort}?transport=udp`], secret: TURN_SECRET },
  });
  url = `http://127.0.0.1:${relay.port}/`;
  browser = await launchChromium(MEDIA_FLAGS);
}, 60_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await relay?.close();
  coturn?.kill();
  rmSync(dir, { recursive: true, force: true });
});

function person(init: Array<() => void> = []): Promise<Person> {
  return openPerson({ browser, url }, { init: [RECORD_CONNECTIONS, ...init] });
}

/** Befriends, and the host opens the chat with the guest. */
async function befriendAndOpen(
  host: Person,
  guest: Person,
  hostName: string,
  guestName: string,
): Promise<void> {
  await befriend(host, guest, hostName, guestName);
  await chatList(host.page)
    .getByRole('button', { name: new RegExp(guestName) })
    .click();
}

/** Flips 通話只經由中繼伺服器 in the settings screen. */
async function relayOnlySwitch(page: Page, on: boolean): Promise<void> {
  await page.getByRole('button', { name: '設定' }).first().click();
  const settings = page.getByRole('dialog', { name: '設定' });
  const box = settings.getByRole('checkbox', { name: '通話只經由中繼伺服器' });
  expect(await box.isChecked()).toBe(!on);
  if (on) await box.check();
  else await box.uncheck();
  expect(await page.evaluate(() => localStorage.getItem('parus.callRelayOnly'))).toBe(on ? '1' : null);
  if (on) await shot(page, 'zh-TW-64-settings-relay-only');
  await page.keyboard.press('Escape');
  await settings.waitFor({ state: 'detached', timeout: WAIT.timeout });
}

interface Flow {
  bytes: number;
  framesDecoded: number;
}

/** The peak level of the received audio track, through Web Audio (the fake microphone beeps). */
function audioPeak(page: Page): Promise<number> {
  return page.evaluate(async () => {
    const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
    const track = all[all.length - 1]!.getReceivers().find((r) => r.track.kind === 'audio')!.track;
    const ctx = new AudioContext();
    await ctx.resume();
    const analyser = ctx.createAnalyser();
    ctx.createMediaStreamSource(new MediaStream([track])).connect(analyser);
    const data = new Float32Array(analyser.fftSize);
    let peak = 0;
    for (let i = 0; i < 40 && peak === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      analyser.getFloatTimeDomainData(data);
      for (const v of data) peak = Math.max(peak, Math.abs(v));
    }
    await ctx.close();
    return peak;
  });
}

/** What the page's last connection received so far. */
function flow(page: Page): Promise<Flow> {
  return page.evaluate(async () => {
    const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
    const pc = all[all.length - 1]!;
    const out = { bytes: 0, framesDecoded: 0 };
    (await pc.getStats()).forEach((r: Record<string, unknown>) => {
      if (r.type !== 'inbound-rtp') return;
      out.bytes += Number(r.bytesReceived ?? 0);
      if (r.kind === 'video') out.framesDecoded += Number(r.framesDecoded ?? 0);
    });
    return out;
  });
}

async function flowGrows(page: Page, check: (now: Flow) => boolean): Promise<Flow> {
  const until = Date.now() + WAIT.timeout;
  for (;;) {
    const now = await flow(page);
    if (check(now)) return now;
    if (Date.now() > until) throw new Error(`media did not flow: ${JSON.stringify(now)}`);
    await page.waitForTimeout(200);
  }
}

function messages(page: Page, name: string) {
  return page.getByRole('list', { name: `與 ${name} 的訊息` });
}

describe('calls in the browser', () => {
  let amei: Person;
  let ming: Person;

  it('阿美 calls 小明 (video): it rings, he answers, media flows both ways, both chats log the call', async () => {
    [amei, ming] = await Promise.all([person(), person()]);
    await Promise.all([
      createAccount(amei.page, '阿美', 'amei passphrase 2468', relay.address),
      createAccount(ming.page, '小明', 'ming passphrase 1357', relay.address),
    ]);
    await befriendAndOpen(amei, ming, '阿美', '小明');

    await amei.page.getByRole('button', { name: '視訊通話', exact: true }).click();
    const ring = ming.page.getByRole('dialog', { name: '通話' });
    await ring.getByText('視訊來電').waitFor(WAIT);
    await ring.getByText('阿美').waitFor(WAIT);
    await shot(ming.page, 'call-incoming');
    await ring.getByRole('button', { name: '接聽' }).click();

    // Both sides checked the certificate of the media path against the signed signalling.
    for (const p of [amei, ming])
      await p.page
        .getByRole('dialog', { name: '通話' })
        .getByText('已確認是對方簽署的加密連線')
        .waitFor(WAIT);
    for (const p of [amei, ming]) {
      const first = await flowGrows(p.page, (f) => f.bytes > 0);
      await flowGrows(p.page, (f) => f.bytes > first.bytes && f.framesDecoded > 0);
      expect(await audioPeak(p.page)).toBeGreaterThan(0);
    }
    await shot(amei.page, 'call-video');

    // Mute: the control says so.
    const controls = amei.page.getByRole('dialog', { name: '通話' });
    await controls.getByRole('button', { name: '靜音' }).click();
    await controls.getByRole('button', { name: '取消靜音' }).waitFor(WAIT);

    await controls.getByRole('button', { name: '結束通話' }).click();
    await messages(amei.page, '小明')
      .getByText(/視訊通話 通話時間 \d+:\d\d/)
      .waitFor(WAIT);
    await chatList(ming.page).getByRole('button', { name: /阿美/ }).click();
    await messages(ming.page, '阿美')
      .getByText(/視訊通話 通話時間 \d+:\d\d/)
      .waitFor(WAIT);
    await ming.page
      .getByRole('dialog', { name: '通話' })
      .waitFor({ state: 'detached', timeout: WAIT.timeout });
    await shot(ming.page, 'call-log');
    expect([...amei.problems, ...ming.problems]).toEqual([]);
  });

  it('a call 小明 does not answer is a missed call (未接來電) in his chat', async () => {
    await ming.page
      .getByRole('dialog', { name: '通話' })
      .waitFor({ state: 'detached', timeout: WAIT.timeout });
    await amei.page
      .getByRole('dialog', { name: '通話' })
      .waitFor({ state: 'detached', timeout: WAIT.timeout });
    await amei.page.getByRole('button', { name: '語音通話', exact: true }).click();
    await ming.page.getByRole('dialog', { name: '通話' }).getByText('語音來電').waitFor(WAIT);
    await amei.page.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '結束通話' }).click();
    await messages(ming.page, '阿美').getByText('未接來電').waitFor(WAIT);
    await messages(amei.page, '小明').getByText('對方未接聽').waitFor(WAIT);
  });

  it('通話只經由中繼伺服器 switched on in the settings: the next call uses relayed candidates only (coturn)', async () => {
    for (const p of [amei, ming]) {
      await p.page
        .getByRole('dialog', { name: '通話' })
        .waitFor({ state: 'detached', timeout: WAIT.timeout });
      await relayOnlySwitch(p.page, true);
    }
    await amei.page.getByRole('button', { name: '語音通話', exact: true }).click();
    await ming.page.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '接聽' }).click();
    for (const p of [amei, ming])
      await p.page
        .getByRole('dialog', { name: '通話' })
        .getByText('已確認是對方簽署的加密連線')
        .waitFor(WAIT);
    for (const p of [amei, ming]) {
      const first = await flowGrows(p.page, (f) => f.bytes > 0);
      await flowGrows(p.page, (f) => f.bytes > first.bytes);
      expect(await audioPeak(p.page)).toBeGreaterThan(0);
      // The pair in use starts at a relayed candidate (TURN), not a host one.
      const types = await p.page.evaluate(async () => {
        const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
        const pc = all[all.length - 1]!;
        const stats = new Map<string, Record<string, unknown>>();
        (await pc.getStats()).forEach((r: Record<string, unknown>) => stats.set(r.id as string, r));
        const out: string[] = [pc.getConfiguration().iceTransportPolicy ?? ''];
        for (const r of stats.values())
          if (r.type === 'candidate-pair' && r.state === 'succeeded' && r.nominated)
            out.push(String(stats.get(r.localCandidateId as string)?.candidateType));
        return out;
      });
      expect(types[0]).toBe('relay');
      expect(types.slice(1)).toContain('relay');
      expect(types.slice(1).every((t) => t === 'relay')).toBe(true);
    }
    await amei.page.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '結束通話' }).click();
  });

  it('when the media path breaks (coturn dies, then comes back on its port), the caller restarts ICE and media flows again', async () => {
    for (const p of [amei, ming])
      await p.page
        .getByRole('dialog', { name: '通話' })
        .waitFor({ state: 'detached', timeout: WAIT.timeout });
    // Relayed candidates only (the switch is still on): the path is coturn's, so stopping it
    // breaks the path as a network change does.
    await amei.page.getByRole('button', { name: '語音通話', exact: true }).click();
    await ming.page.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '接聽' }).click();
    for (const p of [amei, ming]) {
      await p.page
        .getByRole('dialog', { name: '通話' })
        .getByText('已確認是對方簽署的加密連線')
        .waitFor(WAIT);
      const first = await flowGrows(p.page, (f) => f.bytes > 0);
      await flowGrows(p.page, (f) => f.bytes > first.bytes);
    }
    const ufrag = (page: Page): Promise<string> =>
      page.evaluate(() => {
        const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
        return /a=ice-ufrag:(\S+)/.exec(all[all.length - 1]!.localDescription!.sdp)?.[1] ?? '';
      });
    const before = await ufrag(amei.page);

    const dead = coturn!;
    const gone = new Promise((r) => dead.once('exit', r));
    dead.kill();
    await gone;
    // The media stopped: both connections say so, and the call screen shows it.
    await amei.page
      .getByRole('dialog', { name: '通話' })
      .getByText('網路變動，重新連線中…')
      .waitFor({ timeout: 90_000 });
    const broken = await amei.page.evaluate(() => {
      const all = (window as unknown as { connections: RTCPeerConnection[] }).connections;
      return all[all.length - 1]!.connectionState;
    });
    expect(['disconnected', 'failed']).toContain(broken);
    const stalled = await flow(ming.page);

    await startCoturn(join(dir, 'coturn'), turnPort);
    for (const p of [amei, ming])
      await p.page
        .getByRole('dialog', { name: '通話' })
        .getByText(/^\d+:\d\d$/)
        .waitFor({ timeout: 90_000 });
    // An ICE restart (new credentials in the caller's description), and media again both ways.
    expect(await ufrag(amei.page)).not.toBe(before);
    await flowGrows(ming.page, (f) => f.bytes > stalled.bytes);
    const now = await flow(amei.page);
    await flowGrows(amei.page, (f) => f.bytes > now.bytes);
    expect(await audioPeak(ming.page)).toBeGreaterThan(0);
    await amei.page.getByRole('dialog', { name: '通話' }).getByRole('button', { name: '結束通話' }).click();
    for (const p of [amei, ming]) {
      await p.page
        .getByRole('dialog', { name: '通話' })
        .waitFor({ state: 'detached', timeout: WAIT.timeout });
      await relayOnlySwitch(p.page, false);
    }
  });

  it('a voice message recorded in one page (MediaRecorder, Opus) plays inline in the other', async () => {
    // Recorded from the (fake) microphone as the browser records voice: Opus in Ogg or WebM.
    const recorded = await amei.page.evaluate(async () => {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true });
      const type = MediaRecorder.isTypeSupported('audio/ogg;codecs=opus') ? 'audio/ogg' : 'audio/webm';
      const rec = new MediaRecorder(stream, { mimeType: `${type};codecs=opus` });
      const parts: Blob[] = [];
      rec.ondataavailable = (e) => parts.push(e.data);
      const done = new Promise((r) => (rec.onstop = r));
      rec.start();
      await new Promise((r) => setTimeout(r, 1500));
      rec.stop();
      await done;
      for (const t of stream.getTracks()) t.stop();
      return { type, bytes: Array.from(new Uint8Array(await new Blob(parts).arrayBuffer())) };
    });
    expect(recorded.bytes.length).toBeGreaterThan(1000);
    await amei.page.locator('.composer input[type="file"]').setInputFiles({
      name: recorded.type === 'audio/ogg' ? '語音.ogg' : '語音.webm',
      mimeType: recorded.type,
      buffer: Buffer.from(recorded.bytes),
    });
    const list = messages(ming.page, '阿美');
    await list
      .getByRole('button', { name: /播放語音訊息/ })
      .last()
      .click();
    await ming.page.waitForFunction(
      () => {
        const players = document.querySelectorAll<HTMLAudioElement>('audio.voice-player');
        const a = players[players.length - 1];
        return a !== undefined && a.currentTime > 0.2;
      },
      null,
      WAIT,
    );
  });

  it('hold to record: the voice message carries its length and waveform and plays in the other page', async () => {
    const button = amei.page.getByRole('button', { name: '按住錄音' });
    const box = (await button.boundingBox())!;
    await amei.page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await amei.page.mouse.down();
    await amei.page.getByRole('button', { name: '錄音中，放開傳送' }).waitFor(WAIT);
    await amei.page.waitForTimeout(1600); // the length of the recording itself
    await amei.page.mouse.up();
    const list = messages(ming.page, '阿美');
    const bubble = list
      .locator('.voice-message')
      .filter({ has: ming.page.locator('.voice-wave span') })
      .last();
    await bubble.waitFor(WAIT);
    expect(await bubble.locator('.voice-length').textContent()).toMatch(/^0:0[1-3]$/);
    expect(await bubble.locator('.voice-wave span').count()).toBe(48);
    await shot(ming.page, 'voice-message');
    await bubble.getByRole('button', { name: /播放語音訊息/ }).click();
    await ming.page.waitForFunction(
      () => {
        const players = document.querySelectorAll<HTMLAudioElement>('audio.voice-player');
        const a = players[players.length - 1];
        return a !== undefined && a.currentTime > 0.2;
      },
      null,
      WAIT,
    );
  });

  it("a fingerprint in the signalling that is not the media path's is refused with a visible warning", async () => {
    const [eve, hua] = await Promise.all([person([TAMPER_FINGERPRINT]), person()]);
    await Promise.all([
      createAccount(eve.page, '小芳', 'fang passphrase 1122', relay.address),
      createAccount(hua.page, '阿華', 'hua passphrase 3344', relay.address),
    ]);
    await befriendAndOpen(eve, hua, '小芳', '阿華');
    await eve.page.getByRole('button', { name: '語音通話', exact: true }).click();
    const warning = hua.page.getByRole('dialog', { name: '通話' }).getByRole('alert');
    await warning.getByText('安全檢查未通過', { exact: false }).waitFor(WAIT);
    await shot(hua.page, 'call-fingerprint-warning');
    // It never rang there.
    expect(await hua.page.getByRole('button', { name: '接聽' }).count()).toBe(0);
  });
});
