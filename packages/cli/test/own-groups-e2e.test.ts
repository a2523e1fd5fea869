// My groups on two devices end to end (decision 0054): the real `parus` binary and a real relay
// process on loopback. Alice and Bob are in a group; Alice restores her backup in a second home;
// a group message sent on either of Alice's devices shows on the other as hers, once, Bob's
// reaches both once, and a topic set on the phone shows on the laptop; a group made on the
// laptop after the restore shows on the phone, which chats in it (decision 0060).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';
import { formGroup } from './support/friends.ts';

const { json, relayAddress, befriend, device } = cliWorld('own-groups-e2e');
const dir = mkdtempSync(join(tmpdir(), 'parus-own-groups-e2e-'));
const backup = join(dir, 'alice.parusbak');
const phone = join(dir, 'phone');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Message {
  id: string;
  dir: string;
  text: string;
  group?: string;
}

let id = '';

/** Everyone reads, a few rounds (each `read` sends what waits and takes what came). */
async function rounds(n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await json('alice', ['read']);
    await json('bob', ['read']);
    await json('alice', ['read', '--home', phone]);
  }
}

const history = async (args: string[]): Promise<Message[]> =>
  (await json('alice', ['history', 'Birds', ...args])).messages as Message[];

describe('parus groups on two devices of one account', () => {
  it('Alice and Bob in a group; Alice restores her backup as a second device', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    await befriend('alice', 'bob');
    id = await formGroup(device('alice'), 'Birds', [{ json: device('bob'), alias: 'Bob' }]);
    await json('alice', ['backup', 'export', backup]);
    await json('alice', ['init', '--restore', backup, '--home', phone, '--name', 'phone']);
    await rounds(3);
    const members = (await json('alice', ['group', 'members', id, '--home', phone])).members as Array<{
      linked: boolean;
    }>;
    expect(members.map((m) => m.linked)).toEqual([true, true]);
  }, 900_000);

  it('a group message from either device shows on the other as mine, once; Bob’s reaches both once', async () => {
    await json('alice', ['group', 'send', id, 'from the laptop']);
    await rounds(2);
    await json('alice', ['group', 'send', id, 'from the phone', '--home', phone]);
    await rounds(2);
    await json('bob', ['group', 'send', id, 'from Bob']);
    await rounds(2);
    const lines = (ms: Message[]) => ms.map((m) => `${m.dir}:${m.text}`);
    const want = ['out:from the laptop', 'out:from the phone', 'in:from Bob'];
    expect(lines(await history([]))).toEqual(want);
    expect(lines(await history(['--home', phone]))).toEqual(want);
    const bob = (await json('bob', ['history', 'Birds'])).messages as Message[];
    expect(lines(bob)).toEqual(['in:from the laptop', 'in:from the phone', 'out:from Bob']);
  }, 900_000);

  it('a topic set on the phone shows on the laptop', async () => {
    await json('alice', ['group', 'topic', id, 'dawn chorus', '--home', phone]);
    await rounds(2);
    const { groups } = (await json('alice', ['group', 'list'])) as {
      groups: Array<{ id: string; topic: string }>;
    };
    expect(groups.find((x) => x.id === id)?.topic).toBe('dawn chorus');
  }, 900_000);

  it('a group made on the laptop after the restore shows on the phone, and the phone chats in it (decision 0060)', async () => {
    const late = ((await json('alice', ['group', 'create', 'Late'])).group as { id: string }).id;
    await json('alice', ['group', 'invite', late, 'Bob']);
    await json('bob', ['read']);
    await json('bob', ['group', 'join', late]);
    await rounds(3);
    const { groups } = (await json('alice', ['group', 'list', '--home', phone])) as {
      groups: Array<{ id: string; name: string; status: string; members: number }>;
    };
    expect(groups.find((x) => x.id === late)).toMatchObject({ name: 'Late', status: 'joined', members: 2 });
    await json('alice', ['group', 'send', late, 'late from the phone', '--home', phone]);
    await rounds(2);
    await json('bob', ['group', 'send', late, 'late from Bob']);
    await rounds(2);
    const lines = async (who: 'alice' | 'bob', args: string[]): Promise<string[]> =>
      ((await json(who, ['history', 'Late', ...args])).messages as Message[]).map(
        (m) => `${m.dir}:${m.text}`,
      );
    expect(await lines('alice', ['--home', phone])).toEqual(['out:late from the phone', 'in:late from Bob']);
    expect(await lines('alice', [])).toEqual(['out:late from the phone', 'in:late from Bob']);
    expect(await lines('bob', [])).toEqual(['in:late from the phone', 'out:late from Bob']);
  }, 900_000);
});
