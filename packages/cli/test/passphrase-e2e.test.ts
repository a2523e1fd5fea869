// `parus passphrase` (issue 15 item 6, decision 0061): the account passphrase and the one that
// opens this device's store change together; a wrong old one or a too-short new one is refused
// and changes nothing; a device restored before catches up. The real binary.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress } = cliWorld('passphrase-e2e');
const dir = mkdtempSync(join(tmpdir(), 'parus-passphrase-e2e-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const NEW = 'alice 新的密碼 2026';

describe('parus passphrase', () => {
  it('refuses a wrong old passphrase and a short new one, then changes it', async () => {
    await json('alice', ['init', '--name', 'Alice', '--relay', relayAddress()]);
    const wrong = await parus('alice', ['passphrase'], {
      PARUS_PASSPHRASE: 'not the passphrase',
      PARUS_NEW_PASSPHRASE: NEW,
    });
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/AuthError/);
    const short = await parus('alice', ['passphrase'], { PARUS_NEW_PASSPHRASE: 'short' });
    expect(short.code).not.toBe(0);
    expect(short.stderr).toMatch(/UsageError/);
    // Nothing changed: the old passphrase still opens the account.
    expect((await parus('alice', ['contacts'])).code).toBe(0);

    const changed = await parus('alice', ['passphrase', '--json'], { PARUS_NEW_PASSPHRASE: NEW });
    expect(changed.code).toBe(0);
    expect(JSON.parse(changed.stdout.trim().split('\n').pop()!)).toEqual({ changed: true, scope: 'account' });
    const old = await parus('alice', ['contacts']);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toMatch(/AuthError/);
    const opened = await parus('alice', ['contacts', '--json'], { PARUS_PASSPHRASE: NEW });
    expect(opened.code).toBe(0);
  }, 180_000);

  it('on two devices: the change reaches the other one, where the old passphrase no longer revokes; old + new catch it up', async () => {
    const OLD = 'carol passphrase 42';
    const NEXT = 'carol 換了新密碼 2026';
    const phone = join(dir, 'phone');
    const backup = join(dir, 'carol.parusbak');
    await json('carol', ['init', '--name', 'Carol', '--relay', relayAddress()]);
    await json('carol', ['backup', 'export', backup]);
    await json('carol', ['init', '--restore', backup, '--home', phone, '--name', 'phone']);
    // The phone's session with the first device: the first device reads its hello and log.
    await json('carol', ['read']);
    await json('carol', ['read', '--home', phone]);
    const laptopId = (
      (await json('carol', ['devices'])) as { devices: Array<{ id: string; current: boolean }> }
    ).devices.find((d) => d.current)!.id;

    const changed = await parus('carol', ['passphrase', '--json'], { PARUS_NEW_PASSPHRASE: NEXT });
    expect(changed.code).toBe(0);
    expect(JSON.parse(changed.stdout.trim().split('\n').pop()!)).toMatchObject({ scope: 'account' });
    // The log goes out at the next command that connects, and the phone takes it.
    expect((await parus('carol', ['read', '--json'], { PARUS_PASSPHRASE: NEXT })).code).toBe(0);
    await json('carol', ['read', '--home', phone]);
    const listed = await json('carol', ['devices', '--home', phone]);
    expect(listed).toMatchObject({ accountPassphrase: false, waiting: 0 });
    const text = await parus('carol', ['devices', '--home', phone]);
    expect(text.stdout).toMatch(/parus passphrase/);
    // Someone who knows only the old passphrase cannot revoke from the phone.
    const revoke = await parus('carol', ['device', 'revoke', laptopId, '--home', phone, '--json']);
    expect(revoke.code).not.toBe(0);
    expect(JSON.parse(revoke.stdout.trim()).error.name).toBe('AuthError');
    // Old + new on the phone: it catches up, no second change is made.
    const caught = await parus('carol', ['passphrase', '--home', phone, '--json'], {
      PARUS_PASSPHRASE: OLD,
      PARUS_NEW_PASSPHRASE: NEXT,
    });
    expect(caught.code).toBe(0);
    expect(JSON.parse(caught.stdout.trim().split('\n').pop()!)).toEqual({ changed: true, scope: 'device' });
    const after = await parus('carol', ['devices', '--home', phone, '--json'], { PARUS_PASSPHRASE: NEXT });
    expect(JSON.parse(after.stdout.trim().split('\n').pop()!)).toMatchObject({ accountPassphrase: true });
  }, 300_000);
});
