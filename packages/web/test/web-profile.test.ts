// 個人資料 (issue 15 item 6, decision 0056) in Chromium: the browser user sets a display name and a
// picture (made a JPEG of ≤ 256 px and 48 KiB on a canvas), which a CLI friend receives end to
// end; a file that is not a picture gets a clear message and changes nothing; the friend's
// picture from `parus profile --avatar` shows in the chat list and the chat header.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, openPerson, shot, startWorld, type Person, type World } from './helpers/app.ts';
import { browserMeetsCli, runCli, testPhoto } from './helpers/cli.ts';

let world: World;
let web: Person;
let home: string;

function cli(args: string[]): Promise<Record<string, unknown>> {
  return runCli(home, args, { passphrase: 'bob cli passphrase 5' });
}

beforeAll(async () => {
  world = await startWorld({ servedByRelay: true });
  home = join(world.dir, 'bob');
  web = await openPerson(world);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('個人資料', () => {
  it('a name and a picture set in the browser reach a CLI friend; a non-picture is refused; the friend’s picture shows', async () => {
    const page = web.page;
    await browserMeetsCli(page, cli, world.relay.address);

    await page.getByRole('button', { name: '設定' }).click();
    const form = page.locator('form.profile-edit');
    const notes = join(world.dir, 'notes.txt');
    await writeFile(notes, 'not a picture');
    await form.getByLabel('選擇大頭貼').setInputFiles(notes);
    await form.getByRole('alert').getByText('這個檔案不是圖片，大頭貼沒有變更。').waitFor(WAIT);
    await form.getByLabel('顯示名稱').fill('林阿美');
    await form.getByRole('button', { name: '儲存名稱' }).click();
    await form.getByRole('status').waitFor(WAIT);
    const selfie = join(world.dir, 'selfie.jpg');
    await writeFile(selfie, testPhoto(1200, 900, 200));
    await form.getByLabel('選擇大頭貼').setInputFiles(selfie);
    await form.getByRole('button', { name: '移除大頭貼' }).waitFor(WAIT);
    const mine = await form
      .locator('img.avatar-picture')
      .evaluate((img: HTMLImageElement) => img.decode().then(() => [img.naturalWidth, img.naturalHeight]));
    expect(mine).toEqual([256, 192]);
    await shot(page, 'zh-TW-56-profile');
    await page.keyboard.press('Escape');

    let contact: Record<string, unknown> = {};
    for (let i = 0; i < 10 && contact.avatar !== true; i++) {
      await cli(['read']);
      contact = ((await cli(['contacts'])).contacts as Array<Record<string, unknown>>)[0]!;
    }
    expect(contact).toMatchObject({ alias: 'amei', profileName: '林阿美', avatar: true });

    const bobPhoto = join(world.dir, 'bob.jpg');
    await writeFile(bobPhoto, testPhoto(640, 640, 40));
    await cli(['profile', '--name', '鮑伯', '--avatar', bobPhoto]);
    const item = page.getByRole('list', { name: '聊天列表' }).getByRole('button', { name: /Bob/ });
    await item.locator('img.avatar-picture').waitFor(WAIT);
    await item.click();
    await page.locator('.chat-head img.avatar-picture').waitFor(WAIT);
    await page.locator('.chat-head h2').getByText('鮑伯').waitFor(WAIT);
    await shot(page, 'zh-TW-57-friend-avatar');
    // On a phone (390×844): the header with the picture and both names fits, nothing scrolls sideways.
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('.chat-head img.avatar-picture').waitFor(WAIT);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(wide).toBeLessThanOrEqual(390);
    expect(web.problems).toEqual([]);
  }, 240_000);
});
