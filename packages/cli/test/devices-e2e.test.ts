// Devices and backups end to end: the real `parus` binary and a real relay process on loopback.
// Alice backs up her account, a wrong passphrase and a tampered file are refused with nothing
// created, the backup restores in a fresh home as a new device that lists both devices and
// revokes the old one.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress } = cliWorld('devices-e2e');
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
    const invite = await json('alice', ['invite']);
    await json('bob', ['accept', String(invite.link), '--alias', 'alice']);
    await json('alice', ['read']);
    await json('bob', ['read']);
    await json('alice', ['verify', 'Bob', '--confirm']);
    const { devices } = (await json('alice', ['devices'])) as { devices: Device[] };
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({ current: true, revoked: false });
    expect(devices[0]!.id).toMatch(/^[0-9a-f]{16}$/);
  }, 180_000);

  it('exports a backup, and never replaces an existing file', async () => {
    const r = await json('alice', ['backup', 'export', backup]);
    expect(r).toMatchObject({ file: backup, contacts: 1 });
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
    expect(r).toMatchObject({ name: 'Alice', relay: relayAddress(), device: 'new laptop', contacts: 1 });
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
