// The web 裝置 and 備份 screens against the real `parus` CLI and a real relay on loopback
// (decisions 0030, 0031, 0041): a new browser links to a CLI account (CLI → web) with its
// history, a CLI device links to a web account (web → CLI), the web account revokes that device
// with a wrong then the right passphrase, exports a backup and restores it in a fresh browser
// context (a wrong passphrase and a changed byte are refused with no account made).
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WAIT, createAccount, openPerson, shot, startWorld, type World } from './helpers/app.ts';
import { linkBrowserToCli, runCli, spawnCli } from './helpers/cli.ts';

const BOB_PASS = 'bob cli passphrase 5';
const AMEI_PASS = 'web passphrase 8642';
let world: World;

function cli(home: string, args: string[], passphrase = BOB_PASS): Promise<Record<string, unknown>> {
  return runCli(home, args, { passphrase, timeout: 120_000 });
}

async function openSettings(page: Page, which: '裝置' | '備份'): Promise<void> {
  await page.getByRole('button', { name: '設定' }).first().click();
  await page.getByRole('dialog', { name: '設定' }).getByRole('button', { name: which }).click();
  await page.getByRole('dialog', { name: which }).waitFor(WAIT);
}

async function mobileShot(page: Page, name: string): Promise<void> {
  await shot(page, name);
  const size = page.viewportSize();
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, `${name}-mobile`);
  if (size) await page.setViewportSize(size);
}

async function deviceNames(page: Page): Promise<string[]> {
  const list = page.getByRole('list', { name: '裝置列表' });
  await list.waitFor(WAIT);
  return list.locator('.device-row').allInnerTexts();
}

beforeAll(async () => {
  world = await startWorld();
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('web devices and backups with the CLI', () => {
  it('CLI → web: a new browser links to a CLI account and gets its history; both list it', async () => {
    const bob = join(world.dir, 'bob');
    const carol = join(world.dir, 'carol');
    await cli(bob, ['init', '--name', 'Bob', '--relay', world.relay.address]);
    await cli(carol, ['init', '--name', 'Carol', '--relay', world.relay.address], 'carol pass 77');
    const invite = await cli(carol, ['invite'], 'carol pass 77');
    await cli(bob, ['accept', String(invite.link), '--alias', 'carol']);
    await cli(carol, ['read'], 'carol pass 77');
    await cli(bob, ['send', 'carol', '第一則']);
    await cli(carol, ['read'], 'carol pass 77');
    await cli(carol, ['send', 'Bob', '第二則'], 'carol pass 77');
    await cli(bob, ['read']);

    const web = await openPerson(world);
    const page = web.page;
    const linked = await linkBrowserToCli(page, {
      relay: world.relay.address,
      home: bob,
      passphrase: BOB_PASS,
      name: 'Bob 的瀏覽器',
      history: 'all',
      shots: (step) =>
        step === 'form'
          ? shot(page, 'zh-TW-40-link-form')
          : mobileShot(page, step === 'offer' ? 'zh-TW-41-link-offer' : 'zh-TW-42-link-code'),
    });
    expect(linked.link).toMatch(/^parus:device\//);
    const shown = linked.code;
    expect(shown).toMatch(/^\d{3} \d{3}$/);
    const result = linked.result as { code: string; device: { name: string }; messages: number };
    expect(result.code).toBe(shown);
    expect(result.device.name).toBe('Bob 的瀏覽器');
    expect(result.messages).toBe(2);
    // The carried chat is in the new browser's chat list, with its last message.
    await page
      .getByRole('list', { name: '聊天列表' })
      .getByRole('button', { name: /carol/ })
      .filter({ hasText: '第二則' })
      .waitFor({ timeout: 120_000 });

    await openSettings(page, '裝置');
    const rows = await deviceNames(page);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toContain('Bob 的瀏覽器');
    expect(rows[1]).toContain('這個裝置');
    const { devices } = (await cli(bob, ['devices'])) as { devices: Array<{ name: string }> };
    expect(devices.map((d) => d.name)).toContain('Bob 的瀏覽器');
    expect(web.problems).toEqual([]);
    await web.context.close();
  }, 300_000);

  it('web → CLI: a CLI device links to a web account; revoking it needs the right passphrase', async () => {
    const web = await openPerson(world);
    const page = web.page;
    await createAccount(page, '阿美', AMEI_PASS, world.relay.address);
    const home = join(world.dir, 'amei-laptop');
    const offer = spawnCli(
      home,
      ['init', '--link', '--name', 'amei-laptop', '--relay', world.relay.address, '--yes'],
      AMEI_PASS,
    );
    const link = (JSON.parse(await offer.line(0)) as { link: string }).link;

    await openSettings(page, '裝置');
    expect(await deviceNames(page)).toHaveLength(1);
    await page.getByRole('button', { name: '連結新裝置' }).click();
    await page.getByLabel('新裝置的連結').fill(link);
    await page.getByRole('radio', { name: '全部' }).check();
    await mobileShot(page, 'zh-TW-43-link-device');
    await page.getByRole('button', { name: '開始連結' }).click();
    const code = page.locator('.code-digits');
    await code.waitFor({ timeout: 60_000 });
    const shown = (await code.innerText()).trim();
    await page.getByRole('button', { name: '相同，繼續' }).click();
    await page.getByText('已連結「amei-laptop」').waitFor({ timeout: 60_000 });
    expect(await offer.done).toBe(0);
    const result = JSON.parse(offer.lines[offer.lines.length - 1]!) as { code: string; name: string };
    expect(result.code).toBe(shown);
    expect(result.name).toBe('阿美');
    await page.waitForFunction(() => document.querySelectorAll('.device-row').length === 2, undefined, WAIT);
    await mobileShot(page, 'zh-TW-44-devices');

    // Revoke: a wrong passphrase changes nothing; the right one revokes.
    const row = page.locator('.device-row', { hasText: 'amei-laptop' });
    await row.getByRole('button', { name: '撤銷' }).click();
    await page.getByLabel('帳號密碼').fill('not the passphrase');
    await page.getByRole('button', { name: '撤銷這個裝置' }).click();
    await page.getByText('帳號密碼錯誤，沒有任何變更。').waitFor(WAIT);
    expect(await row.innerText()).not.toContain('已撤銷');
    await mobileShot(page, 'zh-TW-45-revoke');
    await page.getByLabel('帳號密碼').fill(AMEI_PASS);
    await page.getByRole('button', { name: '撤銷這個裝置' }).click();
    await row.getByText('已撤銷').waitFor({ timeout: 60_000 });
    const cliDevices = (await cli(home, ['devices'], AMEI_PASS)) as { devices: unknown[] };
    expect(cliDevices.devices).toHaveLength(2);
    expect(web.problems).toEqual([]);

    // 備份: a wrong passphrase makes no file; the right one downloads it.
    await page.keyboard.press('Escape');
    await openSettings(page, '備份');
    await page.getByLabel('帳號密碼').fill('not the passphrase');
    await page.getByRole('button', { name: '匯出備份檔' }).click();
    await page.getByText('帳號密碼錯誤，沒有任何變更。').waitFor(WAIT);
    await page.getByLabel('帳號密碼').fill(AMEI_PASS);
    await mobileShot(page, 'zh-TW-46-backup');
    const [download] = await Promise.all([
      page.waitForEvent('download', { timeout: 60_000 }),
      page.getByRole('button', { name: '匯出備份檔' }).click(),
    ]);
    expect(download.suggestedFilename()).toMatch(/^parus-backup-\d{4}-\d{2}-\d{2}\.parus$/);
    const file = join(world.dir, 'amei.parus');
    await download.saveAs(file);
    const bytes = await readFile(file);
    const tampered = join(world.dir, 'tampered.parus');
    const changed = Buffer.from(bytes);
    changed[changed.length - 20]! ^= 1;
    await writeFile(tampered, changed);
    await web.context.close();

    // 從備份還原 in a fresh browser context.
    const fresh = await openPerson(world);
    const p2 = fresh.page;
    const restore = async (path: string, passphrase: string, name = ''): Promise<void> => {
      await p2.goto(world.url);
      await p2.getByRole('button', { name: '從備份還原' }).click();
      await p2.getByRole('heading', { name: '從備份還原' }).waitFor({ timeout: 60_000 });
      await p2.getByLabel('備份檔').setInputFiles(path);
      await p2.getByLabel('帳號密碼').fill(passphrase);
      if (name) await p2.getByLabel('這個裝置的名稱').fill(name);
      await p2.getByRole('button', { name: '還原' }).click();
    };
    const refused = p2.getByText('密碼錯誤，或備份檔已損毀或被修改。沒有建立任何帳號。');
    await restore(file, 'not the passphrase');
    await refused.waitFor({ timeout: 60_000 });
    await mobileShot(p2, 'zh-TW-47-restore');
    await restore(tampered, AMEI_PASS);
    await refused.waitFor({ timeout: 60_000 });
    // Nothing was created: the first screen still offers to create an account.
    await p2.goto(world.url);
    await p2.getByRole('heading', { name: '建立帳號' }).waitFor(WAIT);
    await restore(file, AMEI_PASS, '還原的瀏覽器');
    await p2.getByRole('button', { name: '加入好友' }).first().waitFor({ timeout: 60_000 });
    await openSettings(p2, '裝置');
    const rows = await deviceNames(p2);
    expect(rows).toHaveLength(3);
    expect(rows[1]).toContain('已撤銷');
    expect(rows[2]).toContain('還原的瀏覽器');
    expect(rows[2]).toContain('這個裝置');
    expect(fresh.problems).toEqual([]);
    await fresh.context.close();
  }, 400_000);
});
