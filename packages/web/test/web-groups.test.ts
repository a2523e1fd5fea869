// Groups in the web client, three browsers on one loopback relay: 阿美 makes a group and
// invites 小明 and 阿華, who join from the chat list; 阿美 pins an announcement; 小明
// mentions 阿華 through the @ completion (keyboard only); read counts reach 已讀 2; a
// member's /topic is refused in words; 阿美 removes 阿華, who sees it; 阿美 makes 小明 a
// moderator, whose /topic then works; a reload keeps the group.
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  WAIT,
  befriend,
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
let ming: Person;
let hua: Person;
const PASS = { amei: 'amei group pass 1357', ming: 'ming group pass 2468', hua: 'hua group pass 3579' };
const GROUP = '週末爬山';
const PIN = '週六早上 8 點在捷運站集合';

function groupItem(page: Page) {
  return chatList(page).getByRole('button', { name: new RegExp(GROUP) });
}

function messages(page: Page) {
  return page.getByRole('list', { name: `與 ${GROUP} 的訊息` });
}

async function joinFromList(p: Person): Promise<void> {
  await groupItem(p.page).getByText('新邀請').waitFor(WAIT);
  await groupItem(p.page).click();
  await p.page.getByText(`阿美 邀請你加入「${GROUP}」`).waitFor(WAIT);
  expect(await unnamedControls(p.page)).toEqual([]);
  await p.page.getByRole('button', { name: '加入', exact: true }).click();
  await p.page.getByLabel('輸入訊息').waitFor(WAIT);
}

beforeAll(async () => {
  world = await startWorld();
  [amei, ming, hua] = await Promise.all([openPerson(world), openPerson(world), openPerson(world)]);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

describe('groups in the browser', () => {
  it('阿美 creates a group with two friends, who join from their chat lists', async () => {
    await Promise.all([
      createAccount(amei.page, '阿美', PASS.amei, world.relay.address),
      createAccount(ming.page, '小明', PASS.ming, world.relay.address),
      createAccount(hua.page, '阿華', PASS.hua, world.relay.address),
    ]);
    await befriend(amei, ming, '阿美', '小明');
    await befriend(amei, hua, '阿美', '阿華');

    const page = amei.page;
    await page.getByRole('button', { name: '建立群組' }).click();
    await page.getByLabel('群組名稱').fill(GROUP);
    await page.getByRole('checkbox', { name: '小明' }).check();
    await page.getByRole('checkbox', { name: '阿華' }).check();
    expect(await unnamedControls(page)).toEqual([]);
    await page.getByRole('button', { name: '建立', exact: true }).click();
    await page.getByRole('heading', { name: GROUP }).waitFor(WAIT);

    await Promise.all([joinFromList(ming), joinFromList(hua)]);
    for (const p of [amei, ming, hua]) await p.page.getByText('成員 3 人').first().waitFor(WAIT);
  });

  it('阿美 pins an announcement (公告) that everyone sees', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '成員', exact: true }).click();
    await page.getByRole('textbox', { name: '公告' }).fill(PIN);
    await page.getByRole('button', { name: '儲存 公告' }).click();
    await page.getByRole('status').getByText('公告已更新').waitFor(WAIT);
    expect(await unnamedControls(page)).toEqual([]);
    await page.keyboard.press('Escape');
    for (const p of [amei, ming, hua])
      await p.page.getByRole('region', { name: '公告' }).getByText(PIN).waitFor(WAIT);
  });

  it('小明 mentions 阿華 with the keyboard; 阿華 sees it marked; read counts reach 已讀 2', async () => {
    const page = ming.page;
    const box = page.getByLabel('輸入訊息');
    await box.focus();
    await page.keyboard.type('@阿');
    const options = page.getByRole('listbox', { name: '要提及的成員' }).getByRole('option');
    await options.first().waitFor(WAIT);
    expect(await options.locator('.mention-name').allInnerTexts()).toEqual(['阿美', '阿華']);
    await page.keyboard.press('ArrowDown');
    expect(await box.getAttribute('aria-activedescendant')).toBe(await options.nth(1).getAttribute('id'));
    await page.keyboard.press('Enter');
    expect(await box.inputValue()).toBe('@阿華 ');
    await page.keyboard.type('明天要一起去嗎？');
    await page.keyboard.press('Enter');
    const mine = messages(page).locator('.msg-out', { hasText: '明天要一起去嗎？' });
    await mine.waitFor(WAIT);
    await mine.locator('mark.mention', { hasText: '@阿華' }).waitFor(WAIT);

    // 阿華 and 阿美 have the group open: the message is read there.
    const atHua = messages(hua.page).locator('.msg-in', { hasText: '明天要一起去嗎？' });
    await atHua.waitFor(WAIT);
    await atHua.getByText('提到你').waitFor(WAIT);
    await atHua.getByText('小明').first().waitFor(WAIT);
    const atAmei = messages(amei.page).locator('.msg-in', { hasText: '明天要一起去嗎？' });
    await atAmei.waitFor(WAIT);
    expect(await atAmei.getByText('提到你').count()).toBe(0);
    // Screen readers hear it, with who wrote it and in which group.
    await amei.page
      .locator('[aria-live="polite"]')
      .getByText(`小明 @ ${GROUP} 傳來新訊息：@阿華 明天要一起去嗎？`)
      .waitFor({ ...WAIT, state: 'attached' });

    await mine.getByText('已讀 2').waitFor(WAIT);
    await shot(ming.page, 'zh-TW-23-group-chat');
  });

  it('a member without the power gets a localised refusal for /topic; /me is an action', async () => {
    const page = hua.page;
    const box = page.getByLabel('輸入訊息');
    await box.fill('/topic 改成去海邊');
    await box.press('Enter');
    await page.getByRole('alert').getByText('需要版主以上的權限才能這麼做').waitFor(WAIT);
    await box.fill('/me 揮揮手');
    await box.press('Enter');
    await messages(amei.page).locator('.msg-action', { hasText: '* 阿華 揮揮手' }).waitFor(WAIT);
  });

  it('阿美 removes 阿華, who sees that she was removed', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '成員', exact: true }).click();
    const members = page.locator('.member-list');
    await members.getByText('建立者').waitFor(WAIT);
    await shot(page, 'zh-TW-24-group-members');
    await page.getByRole('button', { name: '將 阿華 移出群組' }).click();
    // 移出 asks first; nothing happens before the answer.
    const ask = page.getByRole('dialog', { name: '移出成員？' });
    await ask.getByText('要將 阿華 移出群組嗎？').waitFor(WAIT);
    await ask.getByRole('button', { name: '移出', exact: true }).click();
    await page.getByRole('status').getByText('已將 阿華 移出群組').waitFor(WAIT);
    await page.keyboard.press('Escape');
    await page.getByText('成員 2 人').first().waitFor(WAIT);
    await hua.page.getByRole('alert').getByText('你已被移出這個群組').waitFor(WAIT);
    expect(await hua.page.getByLabel('輸入訊息').isDisabled()).toBe(true);
    // The chat list says so too (a kick is not leaving).
    await groupItem(hua.page).getByText('你已被移出').waitFor(WAIT);
  });

  it('阿美 makes 小明 a moderator, whose /topic then reaches everyone', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '成員', exact: true }).click();
    await page.getByRole('combobox', { name: '變更 小明 的角色' }).selectOption('moderator');
    await page.getByRole('status').getByText('已變更 小明 的角色').waitFor(WAIT);
    await page.keyboard.press('Escape');
    const box = ming.page.getByLabel('輸入訊息');
    await ming.page.getByRole('button', { name: '成員', exact: true }).click();
    await ming.page.locator('.member-list .role-tag.role-moderator').waitFor(WAIT);
    await ming.page.keyboard.press('Escape');
    await box.fill('/topic 帶水和午餐');
    await box.press('Enter');
    await ming.page.getByRole('status').getByText('主題已更新').waitFor(WAIT);
    for (const p of [amei, ming]) await p.page.getByText('成員 2 人 · 帶水和午餐').waitFor(WAIT);
  });

  it('阿美 turns history sharing on from the member panel; 小明 sees that it is on', async () => {
    const page = amei.page;
    await page.getByRole('button', { name: '成員', exact: true }).click();
    const sharing = page.getByRole('checkbox', { name: '與新成員分享聊天記錄' });
    expect(await sharing.isChecked()).toBe(false);
    await sharing.check();
    await page.getByRole('status').getByText('已開啟分享聊天記錄').waitFor(WAIT);
    await page.keyboard.press('Escape');
    // A moderator has no settings power: no switch, only what is set.
    await ming.page.getByRole('button', { name: '成員', exact: true }).click();
    await ming.page.getByText('新成員可看到聊天記錄（從開啟分享時起）').waitFor(WAIT);
    expect(await ming.page.getByRole('checkbox', { name: '與新成員分享聊天記錄' }).count()).toBe(0);
    await ming.page.keyboard.press('Escape');
  });

  it('小明 steps down from moderator to member; 阿美 sees it (issue 11)', async () => {
    await ming.page.getByRole('button', { name: '成員', exact: true }).click();
    // Only lower roles are offered for oneself.
    const own = ming.page.getByRole('combobox', { name: '降低自己的角色' });
    await own.waitFor(WAIT);
    expect(await own.locator('option').allTextContents()).toEqual(['版主', '成員']);
    await own.selectOption('member');
    await ming.page.getByRole('status').getByText('已降低你的角色').waitFor(WAIT);
    await ming.page.keyboard.press('Escape');
    await amei.page.getByRole('button', { name: '成員', exact: true }).click();
    const row = amei.page.locator('.member-list li', { hasText: '小明' });
    await row.locator('.role-tag.role-member').waitFor(WAIT);
    await amei.page.keyboard.press('Escape');
  });

  it('a reload keeps the group, its messages and the announcement', async () => {
    const page = ming.page;
    await page.reload();
    await page.getByLabel('密碼', { exact: true }).fill(PASS.ming);
    await page.getByRole('button', { name: '解鎖' }).click();
    await groupItem(page).click();
    await page.getByRole('region', { name: '公告' }).getByText(PIN).waitFor(WAIT);
    await messages(page)
      .locator('.msg-out', { hasText: '明天要一起去嗎？' })
      .getByText('已讀 2')
      .waitFor(WAIT);
    await page.getByText('成員 2 人 · 帶水和午餐').waitFor(WAIT);
  });

  it('shows the group chat and the member list in English', async () => {
    const page = ming.page;
    await page.getByRole('button', { name: '設定' }).click();
    await page.getByRole('button', { name: 'English' }).click();
    await page.getByRole('heading', { name: 'Settings' }).waitFor(WAIT);
    await page.keyboard.press('Escape');
    await page.getByRole('region', { name: 'Announcement' }).getByText(PIN).waitFor(WAIT);
    await page.getByText('Read by 2').first().waitFor(WAIT);
    await shot(page, 'en-12-group-chat');
    await page.getByRole('button', { name: 'Members', exact: true }).click();
    await page.locator('.member-list').getByText('Creator').waitFor(WAIT);
    expect(await unnamedControls(page)).toEqual([]);
    await shot(page, 'en-13-group-members');
    await page.keyboard.press('Escape');
    for (const p of [amei, ming, hua]) expect(p.problems).toEqual([]);
  });
});
