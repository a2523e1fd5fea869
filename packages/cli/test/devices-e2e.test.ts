// Devices and backups end to end: the real `parus` binary and a real relay process on loopback.
// Alice backs up her account, a wrong passphrase and a tampered file are refused with nothing
// created, the backup restores in a fresh home as a new device that lists both devices and
// revokes the old one.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { LinkChannel } from '@parus/client';
import { nodeTransport } from '@parus/client/node';
import { initCrypto, parseLinkOffer, systemRandom } from '@parus/core';
import { cliWorld } from './support/cli-world.ts';

const { parus, parusWithInput, json, relayAddress, setClock, befriend } = cliWorld('devices-e2e');
const BIN = resolve(import.meta.dirname, '../bin/parus.js');
const dir = mkdtempSync(join(tmpdir(), 'parus-devices-e2e-'));
const backup = join(dir, 'alice.parusbak');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Device {
  id: string;
  name: string;
  current: boolean;
  revoked: boolean;
}

describe('parus devices and backups end to end', () => {
  it('Alice and Bob become contacts; Alice has one device, this one', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    await json('bob', ['init', '--name', 'Bob', '--relay', relayAddress()]);
    await befriend('alice', 'bob');
    await json('alice', ['verify', 'Bob', '--confirm']);
    const { devices } = (await json('alice', ['devices'])) as { devices: Device[] };
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ current: true, revoked: false });
    expect(devices[0]!.id).toMatch(/^[0-9a-f]{16}$/);
  }, 180_000);

  it('exports a backup with its history, and never replaces an existing file', async () => {
    await json('alice', ['send', 'Bob', 'hello from the old laptop']);
    await json('bob', ['read']);
    // --history takes all, none or a number of days: anything else writes nothing.
    const bogus = await parus('alice', ['backup', 'export', backup, '--history', 'lots']);
    expect(bogus.code).toBe(2);
    expect(existsSync(backup)).toBe(false);
    const r = await json('alice', ['backup', 'export', backup]);
    expect(r).toMatchObject({ file: backup, contacts: 1, messages: 1 });
    const bytes = readFileSync(backup);
    expect(bytes.subarray(0, 8).toString()).toBe('PARUSBAK');
    expect(bytes.includes(Buffer.from('Bob'))).toBe(false);
    const again = await parus('alice', ['backup', 'export', backup]);
    expect(again.code).toBe(2);
  }, 120_000);

  it('refuses a wrong passphrase and a tampered file, and creates nothing', async () => {
    const home = join(dir, 'wrong');
    // Bob's passphrase is not Alice's.
    const wrong = await parus('bob', ['init', '--restore', backup, '--home', home, '--json']);
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout.trim()).error.name).toBe('VerificationError');
    expect(existsSync(join(home, 'account.db'))).toBe(false);
    const bytes = readFileSync(backup);
    bytes[bytes.length - 3]! ^= 0x40;
    const tampered = join(dir, 'tampered.parusbak');
    writeFileSync(tampered, bytes);
    const bad = await parus('alice', ['init', '--restore', tampered, '--home', home, '--json']);
    expect(JSON.parse(bad.stdout.trim()).error.name).toBe('VerificationError');
    expect(existsSync(join(home, 'account.db'))).toBe(false);
  }, 120_000);

  it('restores in a fresh home as a new device, which lists both and revokes the old one', async () => {
    const home = join(dir, 'restored');
    const r = await json('alice', ['init', '--restore', backup, '--home', home, '--name', 'new laptop']);
    expect(r).toMatchObject({
      name: 'Alice',
      relay: relayAddress(),
      device: 'new laptop',
      contacts: 1,
      messages: 1,
    });
    const { devices } = (await json('alice', ['devices', '--home', home])) as { devices: Device[] };
    expect(devices.map((d) => [d.name, d.current, d.revoked])).toEqual([
      [expect.any(String), false, false],
      ['new laptop', true, false],
    ]);
    const old = devices[0]!;
    const revoked = await json('alice', ['device', 'revoke', old.id, '--home', home]);
    expect(revoked.revoked).toBe(old.id);
    const after = (await json('alice', ['devices', '--home', home])) as { devices: Device[] };
    expect(after.devices.map((d) => d.revoked)).toEqual([true, false]);
    // The last device is not revoked.
    const last = await parus('alice', ['device', 'revoke', after.devices[1]!.id, '--home', home, '--json']);
    expect(JSON.parse(last.stdout.trim()).error.name).toBe('ProtocolError');
  }, 180_000);
});

/** A new device of Bob's (`parus init --link`) in its own home: its link, and its end. */
function newDevice(
  home: string,
  name: string,
): { link: Promise<string>; done: Promise<{ code: number; last: string }>; child: ChildProcess } {
  const child = spawn(
    process.execPath,
    [BIN, 'init', '--link', '--name', name, '--relay', relayAddress(), '--yes', '--json', '--home', home],
    {
      env: { ...process.env, PARUS_PASSPHRASE: 'bob passphrase 42', PARUS_INSECURE_TEST_KDF: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  const link = new Promise<string>((found, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      if (lines.length === 1) found((JSON.parse(line) as { link: string }).link);
    });
    child.once('exit', () => fail(new Error('the new device ended before printing its link')));
  });
  const done = new Promise<{ code: number; last: string }>((end) =>
    child.once('exit', (code) => end({ code: code ?? 1, last: lines[lines.length - 1] ?? '' })),
  );
  return { link, done, child };
}

describe('parus device linking end to end', () => {
  it('Bob links a new device: both show the same code, it gets the account, both logs list it', async () => {
    const home = join(dir, 'bob-laptop');
    const n = newDevice(home, 'bob laptop');
    const link = await n.link;
    expect(link).toMatch(/^parus:device\//);
    // Whoever sees the link can write to its queue: bodies that are not this link's are skipped.
    await initCrypto();
    const intruder = await LinkChannel.open({
      address: relayAddress(),
      transport: nodeTransport(),
      rng: systemRandom,
    });
    const offer = parseLinkOffer(link);
    for (const junk of [new Uint8Array([1, 2, 3]), systemRandom.bytes(300), new Uint8Array(0)])
      await intruder.send(offer.sid, junk);
    await intruder.close();
    const answered = await json('bob', ['device', 'link', link, '--yes']);
    const ended = await n.done;
    expect(ended.code).toBe(0);
    const result = JSON.parse(ended.last) as { code: string; name: string; devices: Device[] };
    expect(result.code).toMatch(/^\d{3} \d{3}$/);
    expect(answered.code).toBe(result.code);
    expect(result.name).toBe('Bob');
    expect(result.devices.map((d) => [d.current, d.revoked])).toEqual([
      [false, false],
      [true, false],
    ]);
    expect((answered.device as Device).name).toBe('bob laptop');
    const { devices } = (await json('bob', ['devices'])) as { devices: Device[] };
    expect(devices.map((d) => [d.name, d.current])).toEqual([
      [devices[0]!.name, true],
      ['bob laptop', false],
    ]);
    // The link was answered once: answering it again is a replay.
    const again = await parus('bob', ['device', 'link', link, '--yes', '--json']);
    expect(JSON.parse(again.stdout.trim()).error.name).toBe('ReplayError');
  }, 240_000);

  it('refuses an expired link, and links nothing when the codes are not confirmed', async () => {
    const home = join(dir, 'bob-tablet');
    const n = newDevice(home, 'bob tablet');
    const link = await n.link;
    setClock('bob', '+2h');
    try {
      const late = await parus('bob', ['device', 'link', link, '--yes', '--json']);
      expect(JSON.parse(late.stdout.trim()).error.name).toBe('ExpiredError');
    } finally {
      setClock('bob', undefined);
    }
    // Bob answers but does not confirm the code: nothing goes to the new device.
    const refused = await parusWithInput('bob', ['device', 'link', link, '--json'], 'n\n');
    expect(refused.code).toBe(2);
    n.child.kill('SIGTERM');
    await n.done;
    expect(existsSync(join(home, 'account.db'))).toBe(false);
    const { devices } = (await json('bob', ['devices'])) as { devices: Device[] };
    expect(devices.map((d) => d.name)).not.toContain('bob tablet');
  }, 240_000);
});
