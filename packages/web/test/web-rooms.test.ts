// Public rooms and private chat requests in the web client (decision 0013), two browsers on
// one loopback relay that are not contacts: 阿美 creates a public room and opens its share
// link (a new link once); 小華 pastes it into the add-friend dialog, which offers to join the
// room, and joins with a nickname; they talk in the room both ways; 小華 asks 阿美 for a
// private chat from the member list; 阿美 sees the request at the top of her chat list,
// accepts, and they talk one to one. 小明 tries a link from before the change and is refused,
// then joins by picking a picture of the room's QR code (decision 0017). The room screens again in English
// (PARUS_SCREENSHOTS=1 writes the en-14…17 and zh-TW-25…27 pictures of docs/guide*.md).
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { shortRoomLinkToText, toBase64Url } from '@parus/core';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import QRCode from 'qrcode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
let hua: Person;
let ming: Person;
/** The room's first link, from before 阿美 changed it: the full one, and the short one (decision 0059). */
let oldLink = '';
let oldShort = '';
const ROOM = '台北咖啡同好會';
const NOTE = '想請教手沖的豆子';

function roomMessages(page: Page) {
  return page.getByRole('list', { name: `與 ${ROOM} 的訊息` });
}

/** A 1:1 chat in the list (not the room, whose preview may name the same person). */
function contactItem(page: Page, name: string) {
  return chatList(page).locator('.chat-item:not(.group-item)', { hasText: name });
}

async function say(page: Page, text: string): Promise<void> {
  const box = page.getByLabel('輸入訊息');
  await box.fill(text);
  await box.press('Enter');
}

beforeAll(async () => {
  world = await startWorld();
  [amei, hua] = await Promise.all([openPerson(world), openPerson(world)]);
  await Promise.all([
    createAccount(amei.page, '阿美', 'amei room pass 1357', world.relay.address),
    createAccount(hua.page, 'Hua Chen', 'hua room pass 2468', world.relay.address),
  ]);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('public rooms in the browser', () => {
  let link = '';

  it('阿美 creates a public room and opens its share link (text and QR); a new link replaces it', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '建立群組' }).click();
    await page.getByLabel('群組名稱').fill(ROOM);
    await page.getByRole('radio', { name: '公開聊天室' }).check();
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('button', { name: '建立', exact: true }).click();
    await page.getByRole('heading', { name: ROOM }).waitFor(WAIT);
    await page.locator('.chat-head .room-tag', { hasText: '公開' }).waitFor(WAIT);
    await chatList(page)
      .getByRole('button', { name: new RegExp(`${ROOM} 公開聊天室`) })
      .waitFor(WAIT);

    await page.getByRole('button', { name: '分享連結' }).click();
    const box = page.getByLabel('聊天室連結');
    await box.waitFor(WAIT);
    const first = await box.inputValue();
    // The short link (relay, record id, key) and its small QR code; the full one on request.
    expect(first.startsWith('parus:r/')).toBe(true);
    expect(QRCode.create(first, { errorCorrectionLevel: 'L' }).version).toBeLessThanOrEqual(10);
    oldShort = first;
    await page.getByText('完整連結（較長，不必經過中繼站）').click();
    oldLink = await page.getByLabel('完整連結', { exact: true }).inputValue();
    expect(oldLink.startsWith('parus:room/')).toBe(true);
    await page.getByRole('img', { name: '聊天室 QR 碼' }).waitFor(WAIT);
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('button', { name: '更換連結' }).click();
    await page.getByRole('status').getByText('已更換連結，舊的連結已失效').waitFor(WAIT);
    link = await box.inputValue();
    expect(link.startsWith('parus:r/')).toBe(true);
    expect(link).not.toBe(first);
    await shot(page, 'zh-TW-25-room-share-link');
    await page.keyboard.press('Escape');
  });

  it('小華, not a contact of 阿美, pastes the link, joins with a nickname, and they talk both ways', async () => {
    const page = hua.page;
    await page.getByRole('button', { name: '加入好友' }).first().click();
    await page.getByLabel('好友的邀請連結').fill(link);
    await page.getByText(`這是聊天室「${ROOM}」的連結`).waitFor(WAIT);
    // The friend form makes way for the room's: no 加入 (accept an invitation) button.
    expect(await page.getByRole('button', { name: '加入', exact: true }).count()).toBe(0);
    await page.getByLabel('在聊天室的暱稱（選填）').fill('小華');
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('button', { name: '加入聊天室' }).click();
    await page.getByRole('heading', { name: ROOM }).waitFor(WAIT);
    // Joining completes once 阿美's browser has checked the link and invited the new key.
    await page.getByLabel('輸入訊息').waitFor(WAIT);
    await page.locator('.chat-head .room-tag', { hasText: '公開' }).waitFor(WAIT);
    expect(await contactItem(page, '阿美').count()).toBe(0);

    await say(page, '大家好，我是新來的');
    await roomMessages(amei.page)
      .locator('.msg-in', { hasText: '大家好，我是新來的' })
      .locator('.msg-from', { hasText: '小華' })
      .waitFor(WAIT);
    await say(amei.page, '歡迎！');
    await roomMessages(page).locator('.msg-in', { hasText: '歡迎！' }).waitFor(WAIT);
  });

  it('小華 asks 阿美 for a private chat from the member list; 阿美 accepts; they talk one to one', async () => {
    const page = hua.page;
    await page.getByRole('button', { name: '成員', exact: true }).click();
    await page.getByRole('button', { name: '私訊 阿美' }).click();
    await page.getByLabel('附上一句話（選填）').fill(NOTE);
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('button', { name: '送出邀請' }).click();
    await page.getByRole('status').getByText('已送出邀請給 阿美').waitFor(WAIT);
    await page.keyboard.press('Escape');

    const requests = amei.page.getByRole('region', { name: '私訊邀請' });
    await requests.getByText('小華 想和你私訊').waitFor(WAIT);
    await requests.getByText(`來自「${ROOM}」`).waitFor(WAIT);
    await requests.getByText(NOTE).waitFor(WAIT);
    expect(await unnamedControls(amei.page)).toEqual([]);
    await shot(amei.page, 'zh-TW-26-chat-request');
    await amei.page.getByRole('button', { name: '接受 小華 的私訊邀請' }).click();
    await amei.page.getByRole('list', { name: '與 小華 的訊息' }).waitFor(WAIT);
    expect(await requests.count()).toBe(0);

    await say(amei.page, '嗨，私下聊吧');
    await contactItem(page, '阿美').click();
    const atHua = page.getByRole('list', { name: '與 阿美 的訊息' });
    await atHua.locator('.msg-in', { hasText: '嗨，私下聊吧' }).waitFor(WAIT);
    await say(page, '好啊，謝謝你');
    await amei.page
      .getByRole('list', { name: '與 小華 的訊息' })
      .locator('.msg-in', { hasText: '好啊，謝謝你' })
      .waitFor(WAIT);
    for (const p of [amei, hua]) expect(p.problems).toEqual([]);
  });

  it('小明 pastes the link from before the change: the room answers it no longer works, and he dismisses it', async () => {
    ming = await openPerson(world);
    await createAccount(ming.page, '小明', 'ming room pass 9753', world.relay.address);
    const page = ming.page;
    await page.getByRole('button', { name: '加入好友' }).first().click();
    // The old short link: its record went with the change, so he is told at once.
    await page.getByLabel('好友的邀請連結').fill(oldShort);
    await page.getByRole('alert').getByText('這個聊天室連結已撤回或已過期。').waitFor(WAIT);
    expect(await page.getByRole('button', { name: '加入聊天室' }).count()).toBe(0);
    // A forged one (a byte of its key changed) does not open.
    const bytes = Buffer.from(link.slice('parus:r/'.length), 'base64url');
    bytes[1 + 32 + 16 + 5]! ^= 1;
    await page.getByLabel('好友的邀請連結').fill(`parus:r/${bytes.toString('base64url')}`);
    await page.getByRole('alert').getByText('這個聊天室連結無效。').waitFor(WAIT);
    await page.getByLabel('好友的邀請連結').fill('parus:r/AAAA');
    await page.getByRole('alert').getByText('這個聊天室連結無效。').waitFor(WAIT);
    // One whose relay does not answer (a loopback port nothing listens on).
    const server = createServer();
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const port = (server.address() as { port: number }).port;
    await new Promise((ok) => server.close(ok));
    const dead = shortRoomLinkToText({
      relay: `parus://${toBase64Url(new Uint8Array(32).fill(9))}@127.0.0.1:${port}`,
      cid: new Uint8Array(16).fill(1),
      key: new Uint8Array(32).fill(2),
    });
    await page.getByLabel('好友的邀請連結').fill(dead);
    await page.getByRole('alert').getByText('目前連不上這個聊天室連結的中繼站，請稍後再試。').waitFor(WAIT);
    // The old full link reaches the door, which answers that it no longer works.
    await page.getByLabel('好友的邀請連結').fill(oldLink);
    await page.getByText(`這是聊天室「${ROOM}」的連結`).waitFor(WAIT);
    await page.getByRole('button', { name: '加入聊天室' }).click();
    await page.getByRole('heading', { name: ROOM }).waitFor(WAIT);
    // 阿美's browser checks the link and answers; 加入中 makes way for why, and a way out.
    const refused = page.getByRole('region', { name: `無法加入「${ROOM}」` });
    await refused.waitFor(WAIT);
    await refused.getByText('這個連結已經失效：聊天室換了新連結。請向成員索取目前的連結。').waitFor(WAIT);
    const item = chatList(page).locator('.group-item', { hasText: ROOM });
    await item.locator('.badge-refused', { hasText: '已拒絕' }).waitFor(WAIT);
    await item.getByText('無法加入聊天室').waitFor(WAIT);
    expect(await item.getByText('加入中').count()).toBe(0);
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, 'zh-TW-27-room-refused');
    await refused.getByRole('button', { name: '關閉' }).click();
    await item.waitFor({ state: 'detached', ...WAIT });
    for (const p of [amei, hua, ming]) expect(p.problems).toEqual([]);
  });

  it('小明 picks a picture of the room’s QR code in the add-friend dialog and joins', async () => {
    const page = ming.page;
    const png = join(world.dir, 'room-qr.png');
    writeFileSync(png, await QRCode.toBuffer(link, { errorCorrectionLevel: 'L', margin: 4, scale: 4 }));
    await page.getByRole('button', { name: '加入好友' }).first().click();
    await page.getByLabel('選擇 QR 碼圖片').setInputFiles(png);
    // The scanned text is the room link: the dialog names the room and offers to join it.
    await page.getByText(`這是聊天室「${ROOM}」的連結`).waitFor(WAIT);
    expect(await page.getByLabel('好友的邀請連結').inputValue()).toBe(link);
    await page.getByLabel('在聊天室的暱稱（選填）').fill('小明');
    await page.getByRole('button', { name: '加入聊天室' }).click();
    await page.getByRole('heading', { name: ROOM }).waitFor(WAIT);
    await page.getByLabel('輸入訊息').waitFor(WAIT);
    await page.getByText(`成員 3 人`).waitFor(WAIT);
    await say(page, '掃 QR 碼進來的');
    // 阿美 let 小明 in, so she has a session with him at once (小華 gets one through her later).
    await chatList(amei.page).locator('.group-item', { hasText: ROOM }).click();
    await roomMessages(amei.page)
      .locator('.msg-in', { hasText: '掃 QR 碼進來的' })
      .locator('.msg-from', { hasText: '小明' })
      .waitFor(WAIT);
    for (const p of [amei, hua, ming]) expect(p.problems).toEqual([]);
  });

  it('the room screens in English: the share link, a chat request, a refused join', async () => {
    const english = async (page: Page): Promise<void> => {
      await page.getByRole('button', { name: '設定' }).click();
      await page.getByRole('button', { name: 'English' }).click();
      await page.getByRole('heading', { name: 'Settings' }).waitFor(WAIT);
      await page.keyboard.press('Escape');
    };
    await english(amei.page);
    await amei.page.getByRole('button', { name: 'Share link' }).click();
    await amei.page.getByRole('img', { name: 'Room QR code' }).waitFor(WAIT);
    expect(await amei.page.getByLabel('Room link').inputValue()).toBe(link);
    expect(await unnamedControls(amei.page)).toEqual([]);
    await shot(amei.page, 'en-14-room-share-link');
    await amei.page.keyboard.press('Escape');

    // 小明 (in zh-TW) asks 阿美 for a private chat; she reads the request in English.
    await ming.page.getByRole('button', { name: '成員', exact: true }).click();
    await ming.page.getByRole('button', { name: '私訊 阿美' }).click();
    await ming.page.getByLabel('附上一句話（選填）').fill('Which beans do you like?');
    await ming.page.getByRole('button', { name: '送出邀請' }).click();
    await ming.page.getByRole('status').getByText('已送出邀請給 阿美').waitFor(WAIT);
    await ming.page.keyboard.press('Escape');
    const requests = amei.page.getByRole('region', { name: 'Chat requests' });
    await requests.getByText('小明 would like to chat privately').waitFor(WAIT);
    await requests.getByText(`From “${ROOM}”`).waitFor(WAIT);
    expect(await unnamedControls(amei.page)).toEqual([]);
    await shot(amei.page, 'en-16-chat-request');
    await amei.page.getByRole('button', { name: 'Decline the request from 小明' }).click();
    await requests.waitFor({ state: 'detached', ...WAIT });

    // Someone else, in English, with the link from before the change.
    const chih = await openPerson(world);
    await createAccount(chih.page, 'Chih', 'chih room pass 8642', world.relay.address);
    await english(chih.page);
    await chih.page.getByRole('button', { name: 'Add friend' }).first().click();
    await chih.page.getByLabel("Your friend's invite link").fill(oldLink);
    await chih.page.getByText(`This is a link to the room “${ROOM}”`).waitFor(WAIT);
    await chih.page.getByLabel('Your nickname in the room (optional)').fill('Chih');
    await shot(chih.page, 'en-15-room-join');
    await chih.page.getByRole('button', { name: 'Join room' }).click();
    const refused = chih.page.getByRole('region', { name: `“${ROOM}” did not let you in` });
    await refused.getByText('This link no longer works', { exact: false }).waitFor(WAIT);
    await chih.page.locator('.group-item .badge-refused', { hasText: 'Refused' }).waitFor(WAIT);
    expect(await unnamedControls(chih.page)).toEqual([]);
    await shot(chih.page, 'en-17-room-refused');
    await refused.getByRole('button', { name: 'Dismiss' }).click();
    await refused.waitFor({ state: 'detached', ...WAIT });
    for (const p of [amei, hua, ming, chih]) expect(p.problems).toEqual([]);
  });
});
