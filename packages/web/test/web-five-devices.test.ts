// Issue 12's whole scenario with real processes on loopback: one relay, Alice with a browser
// (Chromium, linked to her CLI account through 連結到現有帳號) and a CLI device, Bob with two
// CLI devices (`parus init --link` answered by `parus device link`), Carol with one. They become
// friends with short invitations and form a group of three; every message reaches every device
// of its recipients exactly once and shows on the sender's other devices as sent; 已讀 and
// delete for me sync between devices; Bob revokes his second device, which then gets nothing
// new; Alice's CLI is backed up and restored in a fresh home, which keeps chatting.
// Decisions 0030, 0038, 0039, 0040, 0041, 0054.
//
// The group is formed BEFORE the devices are linked (a group made after a link reaches the other
// device since decision 0060, not yet exercised here: the it.todo below).
//
// NOT PASSING YET, so it runs only with PARUS_SCENARIOS=1 (`PARUS_SCENARIOS=1 npx vitest run
// packages/web/test/web-five-devices.test.ts`, ~13 min on a loaded machine). Its last run
// (2026-12-08) passed friends, links, 已讀 and failed four steps, each a gap of issue 12:
// 1. Bob's second device got nothing from Alice's browser (two devices linked at about the same
//    time are in neither's snapshot and never introduce themselves to each other);
// 2. delete for me on Alice's CLI did not remove the message in her browser;
// 3. Bob's revoked device still got messages (the revocation's device set reused a sequence
//    number and was refused: decision 0062 "Not done");
// 4. the restored CLI's messages did not reach Bob and Carol (after the rotation of step 3).
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { befriend, formGroup, type ParusJson } from '../../cli/test/support/friends.ts';
import { WAIT, openPerson, startWorld, type Person, type World } from './helpers/app.ts';
import { cliDevice, linkBrowserToCli, spawnCli } from './helpers/cli.ts';

const PASS = { alice: 'alice passphrase 42', bob: 'bob passphrase 42', carol: 'carol passphrase 42' };
const GROUP = '三人行';
/** Reads by every CLI device before a condition is given up (each read sends and receives). */
const ROUNDS = 10;
/** Waits on the browser: it applies what arrives at once, but the machine is loaded. */
const LONG = { timeout: 120_000 };

interface Msg {
  id: string;
  dir: 'in' | 'out';
  text: string;
  alias: string;
  group?: string;
  status?: string;
}

/** One CLI device: its `parus … --json`, and every message its `parus read` printed so far. */
class Device {
  readonly json: ParusJson;
  readonly reads: Msg[] = [];
  constructor(
    readonly name: string,
    readonly home: string,
    readonly passphrase: string,
  ) {
    this.json = cliDevice(home, passphrase);
  }
  async read(args: string[] = []): Promise<Msg[]> {
    const got = (await this.json(['read', ...args])).messages as Msg[];
    this.reads.push(...got);
    return got;
  }
  /** `dir:text` of what `parus read` printed here, for the texts of this test (`tag`). */
  seen(tag: string): string[] {
    return this.reads
      .filter((m) => m.text?.includes(tag))
      .map((m) => `${m.dir}:${m.text}`)
      .sort();
  }
  async history(ref: string): Promise<Msg[]> {
    return (await this.json(['history', ref])).messages as Msg[];
  }
}

const t0 = Date.now();
/** PARUS_TEST_TRACE=FILE: each step and round with its time, appended to FILE (a long run's progress). */
function trace(s: string) {
  const file = process.env.PARUS_TEST_TRACE;
  if (file) appendFileSync(file, `${((Date.now() - t0) / 1000).toFixed(0)}s ${s}\n`);
}

let world: World;
let web: Person;
let aliceCli: Device;
let bob1: Device;
let bob2: Device;
let carol: Device;
let groupId = '';

/**
 * Every device in `devices` reads, round after round, until `done` holds (checked after each
 * round); fails after ROUNDS rounds with `what`.
 */
async function readUntil(
  devices: Device[],
  what: string,
  done: () => boolean | Promise<boolean>,
  detail: () => string = () => '',
) {
  for (let i = 0; i < ROUNDS; i++) {
    // At once: separate processes and homes, and each read mostly waits on the relay.
    await Promise.all(devices.map((d) => d.read()));
    trace(`${what}: round ${i + 1}`);
    if (await done()) return;
  }
  throw new Error(`not reached after ${ROUNDS} rounds: ${what} ${detail()}`);
}

/** True when `d`'s reads printed exactly `want` (as `dir:text`) among the texts tagged `tag`. */
function sawExactly(d: Device, tag: string, want: string[]): boolean {
  return JSON.stringify(d.seen(tag)) === JSON.stringify([...want].sort());
}

/** The chat list's entry for `name` (by its name, not its last message, which may quote another). */
function chat(page: Page, name: string) {
  return page
    .getByRole('list', { name: '聊天列表' })
    .locator('.chat-item')
    .filter({ has: page.locator('.chat-name', { hasText: name }) });
}

async function openChat(page: Page, name: string) {
  await chat(page, name).first().click();
  const list = page.getByRole('list', { name: `與 ${name} 的訊息` });
  await list.waitFor(WAIT);
  return list;
}

async function sendFromBrowser(page: Page, to: string, text: string): Promise<void> {
  const list = await openChat(page, to);
  await page.getByLabel('輸入訊息').fill(text);
  await page.getByLabel('輸入訊息').press('Enter');
  // Shown at once; whether it reaches everyone is what the reads below check.
  await list.locator('.msg-out', { hasText: text }).waitFor(LONG);
}

/** The browser shows `text` in the chat with `name`, once, as `dir`. */
async function browserShowsOnce(page: Page, name: string, dir: 'in' | 'out', text: string): Promise<void> {
  const list = await openChat(page, name);
  const bubble = list.locator(`.msg-${dir}`, { hasText: text });
  await bubble.first().waitFor(LONG);
  expect(await bubble.count(), `${name}: ${dir} ${text}`).toBe(1);
}

const RUN = process.env.PARUS_SCENARIOS === '1';

beforeAll(async () => {
  if (!RUN) return;
  world = await startWorld();
  aliceCli = new Device('Alice CLI', join(world.dir, 'alice'), PASS.alice);
  bob1 = new Device('Bob 1', join(world.dir, 'bob1'), PASS.bob);
  bob2 = new Device('Bob 2', join(world.dir, 'bob2'), PASS.bob);
  carol = new Device('Carol', join(world.dir, 'carol'), PASS.carol);
}, 60_000);

afterAll(async () => {
  await world?.close();
});

beforeEach((ctx) => {
  trace(`start: ${ctx.task.name}`);
  ctx.onTestFailed(() => trace(`FAILED: ${JSON.stringify(ctx.task.result?.errors?.map((e) => e.message))}`));
});

describe.runIf(RUN)('five devices of three people: browser, CLI, link, revoke, restore', () => {
  it('Alice, Bob and Carol become friends with short invitations and form a group of three', async () => {
    await Promise.all(
      [
        [aliceCli, 'Alice'],
        [bob1, 'Bob'],
        [carol, 'Carol'],
      ].map(([d, name]) =>
        (d as Device).json(['init', '--name', name as string, '--relay', world.relay.address]),
      ),
    );
    // One round each: the group's rounds below carry the device sets.
    const invites = [
      await befriend(aliceCli.json, bob1.json, { alias: 'Alice', rounds: 1 }),
      await befriend(aliceCli.json, carol.json, { alias: 'Alice', rounds: 1 }),
      await befriend(bob1.json, carol.json, { alias: 'Bob', rounds: 1 }),
    ];
    for (const { link } of invites) expect(link).toMatch(/^parus:i\//); // the short form
    const names = async (d: Device) =>
      ((await d.json(['contacts'])).contacts as Array<{ alias: string }>).map((c) => c.alias).sort();
    expect(await names(aliceCli)).toEqual(['Bob', 'Carol']);
    expect(await names(bob1)).toEqual(['Alice', 'Carol']);
    expect(await names(carol)).toEqual(['Alice', 'Bob']);
    groupId = await formGroup(aliceCli.json, GROUP, [
      { json: bob1.json, alias: 'Bob' },
      { json: carol.json, alias: 'Carol' },
    ]);
  }, 900_000);

  it.todo(
    'a group formed after the devices are linked reaches every device (h-grp: decision 0054 "Not done")',
  );
  it.todo(
    'Bob’s linked device and Carol reach each other in the group: a hidden group peer is not introduced to a linked device (h-grp: decision 0054 "Not done")',
  );

  it('Bob links a second CLI device; Alice links a browser to her CLI account', async () => {
    const offer = spawnCli(
      bob2.home,
      ['init', '--link', '--name', 'bob-phone', '--relay', world.relay.address, '--yes'],
      PASS.bob,
    );
    const link = (JSON.parse(await offer.line(0)) as { link: string }).link;
    const answered = await bob1.json(['device', 'link', link, '--yes']);
    expect(await offer.done).toBe(0);
    expect((answered.device as { name: string }).name).toBe('bob-phone');

    web = await openPerson(world);
    const linked = await linkBrowserToCli(web.page, {
      relay: world.relay.address,
      home: aliceCli.home,
      passphrase: PASS.alice,
      name: 'Alice 的瀏覽器',
    });
    expect(linked.result.code).toBe(linked.code);

    // The new devices introduce themselves to the contacts and to the group's members.
    // Carol is left out of the group check: Bob's first device reaches her in the group through
    // a hidden peer session (made by the group, not their contact), which a linked device does
    // not get yet (decision 0054 "Not done", h-grp's item; the it.todo below).
    await readUntil([bob2, bob1, aliceCli, carol], 'Bob’s second device is linked to Alice', async () => {
      const contacts = ((await bob2.json(['contacts'])).contacts as Array<{ alias: string }>).map(
        (c) => c.alias,
      );
      const members = (await bob2.json(['group', 'members', groupId])).members as Array<{
        name: string;
        linked: boolean;
      }>;
      return (
        contacts.length === 2 && members.length === 3 && members.every((m) => m.name !== 'Alice' || m.linked)
      );
    });
    for (const name of ['Bob', 'Carol', GROUP]) await chat(web.page, name).first().waitFor(LONG);
  }, 900_000);

  const T = '〔1〕';
  it('1:1 and group messages reach every device of their recipients once, and the sender’s other devices as sent', async () => {
    const page = web.page;
    await sendFromBrowser(page, 'Bob', `${T}A→B 網頁`);
    await aliceCli.json(['send', 'Carol', `${T}A→C cli`]);
    await bob1.json(['send', 'Alice', `${T}B1→A`]);
    await bob2.json(['send', 'Alice', `${T}B2→A`]);
    await carol.json(['send', 'Alice', `${T}C→A`]);
    await carol.json(['send', 'Bob', `${T}C→B`]);
    await aliceCli.json(['group', 'send', groupId, `${T}G alice cli`]);
    await sendFromBrowser(page, GROUP, `${T}G alice 網頁`);
    await bob1.json(['group', 'send', groupId, `${T}G bob1`]);
    await bob2.json(['group', 'send', groupId, `${T}G bob2`]);
    await carol.json(['group', 'send', groupId, `${T}G carol`]);

    const want = new Map<Device, string[]>([
      [
        aliceCli,
        [
          `out:${T}A→B 網頁`, // sent in the browser
          `in:${T}B1→A`,
          `in:${T}B2→A`,
          `in:${T}C→A`,
          `out:${T}G alice 網頁`,
          `in:${T}G bob1`,
          `in:${T}G bob2`,
          `in:${T}G carol`,
        ],
      ],
      [
        bob1,
        [
          `in:${T}A→B 網頁`,
          `out:${T}B2→A`, // sent on Bob's other device
          `in:${T}C→B`,
          `in:${T}G alice cli`,
          `in:${T}G alice 網頁`,
          `out:${T}G bob2`,
          `in:${T}G carol`,
        ],
      ],
      [
        bob2,
        [
          `in:${T}A→B 網頁`,
          `out:${T}B1→A`,
          `in:${T}C→B`,
          `in:${T}G alice cli`,
          `in:${T}G alice 網頁`,
          `out:${T}G bob1`,
          // not `in:G carol` yet: the hidden-peer it.todo above
        ],
      ],
      [
        carol,
        [
          `in:${T}A→C cli`,
          `in:${T}G alice cli`,
          `in:${T}G alice 網頁`,
          `in:${T}G bob1`,
          // not `in:G bob2` yet: the hidden-peer it.todo above
        ],
      ],
    ]);
    const devices = [...want.keys()];
    await readUntil(
      devices,
      'every message on every device',
      () => devices.every((d) => sawExactly(d, T, want.get(d)!)),
      () => devices.map((d) => `${d.name}: ${JSON.stringify(d.seen(T))}`).join('; '),
    );
    // One more round: nothing is printed twice.
    for (const d of devices) await d.read();
    for (const d of devices) expect(d.seen(T), d.name).toEqual([...want.get(d)!].sort());

    // Alice's browser: the CLI's messages as hers, everyone else's once.
    await browserShowsOnce(page, 'Carol', 'out', `${T}A→C cli`);
    await browserShowsOnce(page, 'Carol', 'in', `${T}C→A`);
    await browserShowsOnce(page, 'Bob', 'out', `${T}A→B 網頁`);
    await browserShowsOnce(page, 'Bob', 'in', `${T}B1→A`);
    await browserShowsOnce(page, 'Bob', 'in', `${T}B2→A`);
    for (const [dir, text] of [
      ['out', 'G alice cli'],
      ['out', 'G alice 網頁'],
      ['in', 'G bob1'],
      ['in', 'G bob2'],
      ['in', 'G carol'],
    ] as const)
      await browserShowsOnce(page, GROUP, dir, `${T}${text}`);

    // The histories agree: each message once, with its direction, on every device.
    const lines = (ms: Msg[]) =>
      ms
        .filter((m) => m.text?.includes(T))
        .map((m) => `${m.dir}:${m.text}`)
        .sort();
    for (const d of [bob1, bob2]) {
      expect(lines(await d.history('Alice')), d.name).toEqual(
        [`in:${T}A→B 網頁`, `out:${T}B1→A`, `out:${T}B2→A`].sort(),
      );
      const group = [`in:${T}G alice cli`, `in:${T}G alice 網頁`, `out:${T}G bob1`, `out:${T}G bob2`];
      expect(lines(await d.history(groupId)), d.name).toEqual(
        (d === bob1 ? [...group, `in:${T}G carol`] : group).sort(),
      );
    }
    expect(lines(await aliceCli.history('Bob'))).toEqual(
      [`out:${T}A→B 網頁`, `in:${T}B1→A`, `in:${T}B2→A`].sort(),
    );
    expect(web.problems).toEqual([]);
  }, 900_000);

  it('已讀 on one of Bob’s devices clears the unread count on the other', async () => {
    const text = '〔4〕A→B unread';
    await aliceCli.json(['send', 'Bob', text]);
    const unread = async (d: Device) =>
      (await d.history('Alice')).filter((m) => m.dir === 'in' && m.status !== 'read').length;
    await readUntil([bob2], 'the message on Bob’s second device', () => bob2.seen('〔4〕').length === 1);
    expect(await unread(bob2)).toBeGreaterThan(0);
    // Bob's first device prints the message and marks its chat read (read receipts, and a
    // `read` sync to the other device).
    let marked = 0;
    for (let i = 0; i < ROUNDS && marked === 0; i++) {
      const r = (await bob1.json(['read', '--mark-read'])) as { messages: Msg[]; markedRead: number };
      bob1.reads.push(...r.messages);
      marked = r.markedRead;
    }
    expect(bob1.seen('〔4〕')).toEqual([`in:${text}`]);
    expect(marked).toBeGreaterThan(0);
    expect(await unread(bob1)).toBe(0);
    await readUntil([bob2], 'the read state on Bob’s second device', async () => (await unread(bob2)) === 0);
  }, 900_000);

  it('delete for me on Alice’s CLI removes the message in Alice’s browser', async () => {
    const target = aliceCli.reads.find((m) => m.text === `${T}C→A`)!;
    expect(target).toBeDefined();
    const r = await aliceCli.json(['delete', target.id.slice(0, 12)]);
    expect(r).toMatchObject({ alias: 'Carol', id: target.id, deleted: 1 });
    const list = await openChat(web.page, 'Carol');
    await list.locator('.msg-in', { hasText: `${T}C→A` }).waitFor({ ...LONG, state: 'detached' });
    // The rest of the chat stays.
    await list.locator('.msg-out', { hasText: `${T}A→C cli` }).waitFor(WAIT);
    expect((await aliceCli.history('Carol')).map((m) => m.id)).not.toContain(target.id);
  }, 900_000);

  const R = '〔6〕';
  it('Bob revokes his second device: it gets nothing new, his first device gets everything', async () => {
    const { devices } = (await bob1.json(['devices'])) as { devices: Array<{ id: string; name: string }> };
    const phone = devices.find((d) => d.name === 'bob-phone')!;
    const revoked = await bob1.json(['device', 'revoke', phone.id]);
    expect(revoked.revoked).toBe(phone.id);
    const readsBefore = bob2.reads.length;
    // Bob's first device sends his new device set (decision 0038 "Revocation"); Alice and Carol
    // take it before they write.
    for (let i = 0; i < 2; i++) for (const d of [bob1, aliceCli, carol]) await d.read();
    await aliceCli.json(['send', 'Bob', `${R}A→B`]);
    await carol.json(['send', 'Bob', `${R}C→B`]);
    await aliceCli.json(['group', 'send', groupId, `${R}G alice`]);
    await carol.json(['group', 'send', groupId, `${R}G carol`]);
    await readUntil([aliceCli, carol, bob1], 'everything on Bob’s first device', () =>
      sawExactly(bob1, R, [`in:${R}A→B`, `in:${R}C→B`, `in:${R}G alice`, `in:${R}G carol`]),
    );
    // The revoked device still runs `parus read`: it prints nothing.
    for (let i = 0; i < 2; i++) await bob2.read();
    expect(bob2.seen(R)).toEqual([]);
    expect(bob2.reads.slice(readsBefore)).toEqual([]);
    const all = [...(await bob2.history('Alice')), ...(await bob2.history(groupId))];
    expect(all.filter((m) => m.text?.includes(R))).toEqual([]);
  }, 900_000);

  const B = '〔7〕';
  it('a backup of Alice’s CLI restores in a fresh home as a new device that chats with Bob and the group', async () => {
    const file = join(world.dir, 'alice.parusbak');
    await aliceCli.json(['backup', 'export', file]);
    const restored = new Device('Alice restored', join(world.dir, 'alice-restored'), PASS.alice);
    const r = await restored.json(['init', '--restore', file, '--name', 'alice-restored']);
    expect(r).toMatchObject({ name: 'Alice', contacts: 2 });
    await restored.json(['send', 'Bob', `${B}R→B`]);
    await restored.json(['group', 'send', groupId, `${B}G restored`]);
    await readUntil(
      [restored, bob1, carol, aliceCli],
      'the restored device’s messages at Bob and Carol',
      () =>
        sawExactly(bob1, B, [`in:${B}R→B`, `in:${B}G restored`]) &&
        sawExactly(carol, B, [`in:${B}G restored`]),
    );
    await bob1.json(['send', 'Alice', `${B}B→R`]);
    await carol.json(['group', 'send', groupId, `${B}G carol`]);
    await bob1.json(['group', 'send', groupId, `${B}G bob`]);
    await readUntil([bob1, carol, restored], 'Bob’s and Carol’s answers on the restored device', () =>
      sawExactly(restored, B, [`in:${B}B→R`, `in:${B}G carol`, `in:${B}G bob`]),
    );
    // Nothing was printed twice on any device in the whole run.
    for (const d of [aliceCli, bob1, bob2, carol, restored]) {
      const ids = d.reads.map((m) => m.id);
      expect(new Set(ids).size, d.name).toBe(ids.length);
    }
    expect(web.problems).toEqual([]);
  }, 900_000);
});
