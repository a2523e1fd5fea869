// Own devices end to end (decision 0039): the real `parus` binary and a real relay process on
// loopback. Alice restores her backup in a second home; the two devices open their session;
// a message sent from the first shows on the second as hers, and a delete on the second
// removes it from the first.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { json, relayAddress, befriend } = cliWorld('own-sync-e2e');
const dir = mkdtempSync(join(tmpdir(), 'parus-own-sync-e2e-'));
const backup = join(dir, 'alice.parusbak');
const phone = join(dir, 'phone');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Message {
  id: string;
  alias: string;
  dir: string;
  text: string;
}

describe('parus on two devices of one account', () => {
  it('Alice and Bob become contacts; Alice restores her backup as a second device', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    await befriend('alice', 'bob'); // with Bob's device set, which the backup carries to the phone
    await json('alice', ['backup', 'export', backup]);
    await json('alice', ['init', '--restore', backup, '--home', phone, '--name', 'phone']);
    // The phone introduces itself to Bob and opens its session with the laptop.
    await json('alice', ['read', '--home', phone]);
    await json('alice', ['read']);
    await json('bob', ['read']);
    await json('alice', ['read', '--home', phone]);
    const { devices } = (await json('alice', ['devices'])) as { devices: Array<{ name: string }> };
    expect(devices.map((d) => d.name)).toContain('phone');
    const { contacts } = (await json('alice', ['contacts', '--home', phone])) as {
      contacts: Array<{ alias: string }>;
    };
    expect(contacts.map((c) => c.alias)).toEqual(['Bob']);
  }, 300_000);

  it('a message sent on the first device shows on the second as mine; a delete there removes it on both', async () => {
    const sent = (await json('alice', ['send', 'Bob', 'sent from the laptop'])).message as Message;
    const read = (await json('alice', ['read', '--home', phone])).messages as Message[];
    const copies = read.filter((m) => m.id === sent.id);
    expect(copies).toHaveLength(1);
    expect(copies[0]).toMatchObject({ dir: 'out', text: 'sent from the laptop' });
    const bobs = (await json('bob', ['read'])).messages as Message[];
    expect(bobs.filter((m) => m.text === 'sent from the laptop')).toHaveLength(1);

    const deleted = await json('alice', ['delete', sent.id.slice(0, 12), '--home', phone]);
    expect(deleted).toMatchObject({ alias: 'Bob', id: sent.id, deleted: 1 });
    await json('alice', ['read']);
    const history = (await json('alice', ['history', 'Bob'])).messages as Message[];
    expect(history.map((m) => m.id)).not.toContain(sent.id);
    const phoneHistory = (await json('alice', ['history', 'Bob', '--home', phone])).messages as Message[];
    expect(phoneHistory.map((m) => m.id)).not.toContain(sent.id);
  }, 300_000);
});
