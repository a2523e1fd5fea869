// `parus passphrase` (issue 15 item 6): the passphrase that opens this device's account changes;
// a wrong old one or a too-short new one is refused and changes nothing. The real binary.
import { describe, expect, it } from 'vitest';
import { cliWorld } from './support/cli-world.ts';

const { parus, json, relayAddress } = cliWorld('passphrase-e2e');
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
    expect(JSON.parse(changed.stdout.trim().split('\n').pop()!)).toEqual({ changed: true });
    const old = await parus('alice', ['contacts']);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toMatch(/AuthError/);
    const opened = await parus('alice', ['contacts', '--json'], { PARUS_PASSPHRASE: NEW });
    expect(opened.code).toBe(0);
  }, 180_000);
});
