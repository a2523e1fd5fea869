// A restored device chats with an existing contact (decision 0038), end to end: the real
// `parus` binary and a real relay process on loopback, each home a real SQLite store. Alice
// backs up, restores in a fresh home (`init --restore`), and the new device and Bob write to
// each other; Bob's messages reach Alice's old device too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { json, relayAddress, befriend } = cliWorld('restore-chat-e2e');
const dir = mkdtempSync(join(tmpdir(), 'parus-restore-chat-'));
const backup = join(dir, 'alice.parusbak');
const restored = join(dir, 'alice-restored');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function texts(args: string[]): Promise<string[]> {
  const r = await json('alice', ['read', ...args]);
  return (r.messages as Array<{ text: string }>).map((m) => m.text);
}

describe('a restored device chats with its contacts', () => {
  it('Alice and Bob are contacts and have exchanged their device sets', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    await befriend('alice', 'bob');
    await json('alice', ['backup', 'export', backup]);
  }, 240_000);

  it('init --restore makes a device that sends to Bob and reads his answer; the old device reads it too', async () => {
    const r = await json('alice', ['init', '--restore', backup, '--home', restored, '--name', 'new laptop']);
    expect(r).toMatchObject({ contacts: 1, waiting: 0 });
    await json('alice', ['send', 'Bob', 'hello from the restored device', '--home', restored]);
    const bob = await json('bob', ['read']);
    expect((bob.messages as Array<{ text: string }>).map((m) => m.text)).toContain(
      'hello from the restored device',
    );
    await json('bob', ['send', 'alice', 'welcome back']);
    expect(await texts(['--home', restored])).toContain('welcome back');
    expect(await texts([])).toContain('welcome back');
    // The old device still writes to Bob.
    await json('alice', ['send', 'Bob', 'and from the old one']);
    const again = await json('bob', ['read']);
    expect((again.messages as Array<{ text: string }>).map((m) => m.text)).toContain('and from the old one');
  }, 240_000);
});
