// Peer text in the browser (docs/decisions/0024), against a real relay: the contacts are real
// engines in this process (one of them skips the name checks, as an attacker would). A name or
// message with a right-to-left override is isolated in its own <bdi> and its override shown as
// a marker, the app's own verify banner reads as written, a message of only zero-width
// characters shows its markers instead of an empty bubble, and a contact whose name breaks the
// one name rule is never added.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { initCrypto } from '@parus/core';
import { Account, MemoryStore } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import { C } from '../../client/src/account/account-context.ts';
import { decodeAccount, encodeRecord } from '../../client/src/records.ts';
import { WAIT, createAccount, openPerson, startWorld, type Person, type World } from './helpers/app.ts';

let world: World;
let amei: Person;
const engines: Account[] = [];

const RLO_TEXT = 'invoice\u202efdp.exe';
const ZERO_WIDTH = '\u200b\u200b\u200b';
const SARAH = 'שרה';

/** A contact as a real engine in this process, its store rewritten first when `rename` is given. */
async function engine(name: string, rename?: string): Promise<Account> {
  const store = new (class extends MemoryStore {
    override async close(): Promise<void> {}
  })();
  const made = await Account.create({ store, transport: nodeTransport(), name, relay: world.relay.address });
  let a = made;
  if (rename !== undefined) {
    await made.close();
    const self = decodeAccount((await store.get(C.account, 'self'))!);
    await store.batch([
      { type: 'put', collection: C.account, key: 'self', value: encodeRecord({ ...self, name: rename }) },
    ]);
    a = await Account.open({ store, transport: nodeTransport() });
  }
  engines.push(a);
  await a.start();
  return a;
}

/** A fresh invitation link of the page's account. */
async function inviteLink(page: Page): Promise<string> {
  await page.getByRole('button', { name: '加入好友' }).first().click();
  await page.getByRole('button', { name: '產生新的連結' }).click();
  const box = page.getByLabel('我的邀請連結');
  await box.waitFor(WAIT);
  const link = await box.inputValue();
  await page.keyboard.press('Escape');
  return link;
}

beforeAll(async () => {
  await initCrypto();
  world = await startWorld();
  amei = await openPerson(world);
  await createAccount(amei.page, '阿美', 'amei passphrase 2468', world.relay.address);
}, 60_000);

afterAll(async () => {
  for (const a of engines) await a.close().catch(() => undefined);
  await world?.close();
});

describe('peer text in the web client', () => {
  it('never adds a contact whose name carries a right-to-left override', async () => {
    const eve = await engine('eve', `eve${'\u202e'}exe.pdf`);
    await eve.acceptInvite(await inviteLink(amei.page), { alias: 'amei' });
    await eve.sync();
    // An honest contact after her: once she is in the list, eve's request was handled too.
    const sarah = await engine(SARAH);
    await sarah.acceptInvite(await inviteLink(amei.page), { alias: 'amei' });
    await sarah.sync();
    const list = amei.page.getByRole('list', { name: '聊天列表' });
    await list.getByRole('button', { name: new RegExp(SARAH) }).waitFor(WAIT);
    const names = await list.locator('.chat-name').allTextContents();
    expect(names).toEqual([SARAH]);
    expect(names.join('')).not.toMatch(/\u202e/u);
  });

  it('isolates an RTL name and a message with an override; the banner reads as written; zero-width is not empty', async () => {
    const sarah = engines[1]!;
    await sarah.sendText('amei', RLO_TEXT);
    await sarah.sendText('amei', ZERO_WIDTH);
    await sarah.sync();
    const page = amei.page;
    await page
      .getByRole('list', { name: '聊天列表' })
      .getByRole('button', { name: new RegExp(SARAH) })
      .click();
    const list = page.getByRole('list', { name: `與 ${SARAH} 的訊息` });
    await list.locator('.msg-in').nth(1).waitFor(WAIT);

    const seen = await page.evaluate(() => {
      const rows = Array.from(document.querySelectorAll('.msg-in .bubble'));
      const texts = rows.map((b) => b.querySelector('.text') as HTMLElement);
      const banner = document.querySelector('.banner-gentle p') as HTMLElement;
      const h2 = document.querySelector('.chat-title h2') as HTMLElement;
      const bdiIn = (el: Element | null): boolean => !!el?.closest('bdi');
      return {
        texts: texts.map((t) => t.textContent),
        isolated: texts.map((t) => t.tagName === 'BDI' && getComputedStyle(t).unicodeBidi === 'isolate'),
        marks: texts.map((t) =>
          Array.from(t.querySelectorAll('.char-mark')).map((m) => m.getAttribute('title')),
        ),
        widths: texts.map((t) => t.getBoundingClientRect().width),
        heading: { text: h2.textContent, isolated: bdiIn(h2.querySelector('.peer-text')) },
        banner: {
          text: banner.textContent,
          names: Array.from(banner.querySelectorAll('bdi')).map((b) => b.textContent),
        },
        preview: document.querySelector('.chat-preview')?.textContent,
      };
    });
    expect(seen.texts).toEqual(['invoice⟨U+202E⟩fdp.exe', '⟨U+200B⟩⟨U+200B⟩⟨U+200B⟩']);
    expect(seen.isolated).toEqual([true, true]);
    expect(seen.marks).toEqual([['U+202E'], ['U+200B', 'U+200B', 'U+200B']]);
    for (const w of seen.widths) expect(w).toBeGreaterThan(20);
    expect(seen.heading).toEqual({ text: SARAH, isolated: true });
    // The app's own sentence, in its own order, with the name isolated inside it.
    expect(seen.banner.text).toBe(`還沒有和 ${SARAH} 比對安全碼。當面或用其他管道比對，確認沒有人冒充。`);
    expect(seen.banner.names).toEqual([SARAH]);
    expect(seen.preview).toBe('⟨U+200B⟩⟨U+200B⟩⟨U+200B⟩');
    // Nothing anywhere on the page can reorder the text around it.
    const body = await page.evaluate(() => document.body.textContent ?? '');
    expect(body).not.toMatch(/[\u202a-\u202e\u2066-\u2069]/u);
    expect(amei.problems).toEqual([]);
  });
});
