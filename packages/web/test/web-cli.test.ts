// The web client and the `parus` CLI are the same protocol: a browser account and a CLI
// account (driven through packages/cli/bin/parus.js, as packages/cli/test/e2e.test.ts
// does) add each other, chat both ways, see each other's receipts, and a file sent with
// `parus send-file` opens in the browser. Here the relay
// itself serves the web client, with its own CSP, as `npm start` does.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARGON2ID_BROWSER, decodeCbor } from '@parus/core';
import { WAIT, createAccount, openPerson, shot, startWorld, type Person, type World } from './helpers/app.ts';
import { runCli, testPhoto } from './helpers/cli.ts';

let world: World;
let web: Person;
let home: string;

function cli(args: string[]): Promise<Record<string, unknown>> {
  return runCli(home, args, { passphrase: 'bob cli passphrase 5', timeout: 60_000 });
}

beforeAll(async () => {
  // A relay that takes files up to 1 MB, so that a too-big file is quick to make.
  world = await startWorld({ servedByRelay: true, maxBlobBytes: 1024 * 1024 });
  home = join(world.dir, 'bob');
  web = await openPerson(world);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('a web account and a CLI account', () => {
  it('add each other with the web invite link and chat both ways', async () => {
    await Promise.all([
      createAccount(web.page, '阿美', 'web passphrase 8642', world.relay.address),
      cli(['init', '--name', 'Bob', '--relay', world.relay.address]),
    ]);
    const page = web.page;
    await page.getByRole('button', { name: '加入好友' }).first().click();
    const link = await page.getByLabel('我的邀請連結').inputValue({ timeout: WAIT.timeout });
    expect(link).toMatch(/^parus:/);
    await page.keyboard.press('Escape');

    const accepted = await cli(['accept', link, '--alias', 'amei']);
    expect((accepted.contact as { alias: string }).alias).toBe('amei');
    const item = page.getByRole('list', { name: '聊天列表' }).getByRole('button', { name: /Bob/ });
    await item.waitFor(WAIT);

    const fromCli = '你好，我是 Bob（從終端機傳送）';
    await cli(['send', 'amei', fromCli]);
    await item.getByText('1 則未讀').waitFor({ ...WAIT, state: 'attached' });
    await item.click();
    const list = page.getByRole('list', { name: '與 Bob 的訊息' });
    await list.locator('.msg-in .text', { hasText: fromCli }).waitFor(WAIT);

    const fromWeb = '收到！這是網頁版的回覆。';
    await page.getByLabel('輸入訊息').fill(fromWeb);
    await page.getByLabel('輸入訊息').press('Enter');
    await list
      .locator('.msg-out', { hasText: fromWeb })
      .locator('.status-sent, .status-delivered')
      .waitFor(WAIT);

    const read = await cli(['read']);
    expect((read.messages as Array<{ text: string }>).map((m) => m.text)).toEqual([fromWeb]);
    // The CLI's delivery receipt reaches the browser: ✓✓.
    await list.locator('.msg-out', { hasText: fromWeb }).locator('.status-delivered').waitFor(WAIT);
    // And the browser's read receipt (已讀) reached the CLI.
    const history = await cli(['history', 'amei']);
    const mine = (history.messages as Array<{ text: string; dir: string; status: string }>).find(
      (m) => m.text === fromCli,
    );
    expect(mine).toMatchObject({ dir: 'out', status: 'read' });
    await shot(page, 'zh-TW-10-chat-with-cli');
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('the web account is guarded by the browser Argon2id profile, stored with it (decision 0027)', async () => {
    const meta = await web.page.evaluate(
      () =>
        new Promise<number[]>((resolve, reject) => {
          const req = indexedDB.open('parus-account');
          req.onerror = () => reject(new Error('cannot open the account database'));
          req.onsuccess = () => {
            const db = req.result;
            const get = db
              .transaction(db.objectStoreNames[0]!)
              .objectStore(db.objectStoreNames[0]!)
              .get(['_meta', 'kdf']);
            get.onsuccess = () => {
              const v = get.result as ArrayBuffer | Uint8Array;
              resolve(Array.from(v instanceof Uint8Array ? v : new Uint8Array(v)));
              db.close();
            };
            get.onerror = () => reject(new Error('cannot read the metadata'));
          };
        }),
    );
    const m = decodeCbor(Uint8Array.from(meta)) as { v: number; ops: number; mem: number };
    expect(m).toMatchObject({ v: 2, ops: ARGON2ID_BROWSER.opsLimit, mem: ARGON2ID_BROWSER.memLimit });
  }, 60_000);

  it('a file sent with `parus send-file` shows in the browser and saves with the same bytes', async () => {
    const page = web.page;
    const contents = Buffer.from('會議記錄\n一、下週三上午十點開會。\n'.repeat(500));
    const path = join(world.dir, 'notes.txt');
    await writeFile(path, contents);
    await cli(['send-file', 'amei', path, '--name', '會議記錄.txt', '--mime', 'text/plain']);

    const list = page.getByRole('list', { name: '與 Bob 的訊息' });
    const bubble = list.locator('.msg-in .file-card', { hasText: '會議記錄.txt' });
    await bubble.waitFor(WAIT);
    await expect(bubble.locator('.file-size').innerText()).resolves.toBe(
      `${Math.round(contents.length / 1024)} KB`,
    );
    await page
      .getByRole('list', { name: '聊天列表' })
      .getByRole('button', { name: /Bob/ })
      .getByText('[檔案] 會議記錄.txt')
      .waitFor(WAIT);
    const [download] = await Promise.all([
      page.waitForEvent('download', WAIT),
      bubble.getByRole('button', { name: '儲存檔案 會議記錄.txt' }).click(),
    ]);
    expect(download.suggestedFilename()).toBe('會議記錄.txt');
    expect(Buffer.compare(await readFile((await download.path())!), contents)).toBe(0);
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('a photo sent with `parus send-file` shows as a photo with its preview, not a file box', async () => {
    const page = web.page;
    // A JPEG named without an extension: the CLI finds the type from its bytes (issue 15).
    const path = join(world.dir, 'IMG_2001');
    await writeFile(path, testPhoto(1200, 800, 160));
    await cli(['send-file', 'amei', path]);

    const list = page.getByRole('list', { name: '與 Bob 的訊息' });
    const preview = list.locator('.msg-in .file-image img.thumbnail');
    await preview.waitFor(WAIT);
    // The browser decoded the preview: a picture with the photo's shape, not the grey placeholder.
    const shape = await preview.evaluate((img: HTMLImageElement) =>
      img.decode().then(() => ({ w: img.naturalWidth, h: img.naturalHeight })),
    );
    expect(shape.w).toBeGreaterThan(0);
    expect(shape.w / shape.h).toBeCloseTo(1.5, 1);
    expect(await list.locator('.msg-in .file-card', { hasText: 'IMG_2001' }).count()).toBe(0);
    await page.getByRole('list', { name: '聊天列表' }).getByRole('button', { name: /Bob/ }).waitFor(WAIT);
    expect(web.problems).toEqual([]);
  }, 120_000);

  it('a file larger than the relay takes is refused with a message in the active language', async () => {
    const page = web.page;
    await page.locator('.composer input[type="file"]').setInputFiles({
      name: 'big.bin',
      mimeType: 'application/octet-stream',
      buffer: Buffer.alloc(1536 * 1024, 1),
    });
    await page.getByRole('alert').getByText('big.bin：檔案太大，無法傳送。').waitFor(WAIT);
    const list = page.getByRole('list', { name: '與 Bob 的訊息' });
    expect(await list.locator('.file-card', { hasText: 'big.bin' }).count()).toBe(0);
    expect(web.problems).toEqual([]);
  }, 120_000);
});
