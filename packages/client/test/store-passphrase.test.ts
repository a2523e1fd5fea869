// Changing the passphrase that opens a device's store (issue 15 item 6; decision 0030: each
// device's store passphrase is its own): the old one is checked, the data key is wrapped anew,
// every record still opens, and a refusal changes nothing. Real SQLite.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, UsageError, initCrypto, systemRandom } from '@parus/core';
import { SealedStore } from '../src/index.ts';
import { SqliteStore } from '../src/node/index.ts';

const FAST = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
const dir = mkdtempSync(join(tmpdir(), 'parus-pass-'));
beforeAll(async () => {
  await initCrypto();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('SealedStore.changePassphrase', () => {
  it('the new passphrase opens every record, the old one no longer does; refusals change nothing', async () => {
    const path = join(dir, 'a.db');
    const s = await SealedStore.open(new SqliteStore(path), 'old passphrase 1', {
      rng: systemRandom,
      create: true,
      cost: FAST,
    });
    await s.batch([{ type: 'put', collection: 'contacts', key: 'k1', value: utf8('阿明') }]);
    await s.close();

    const before = readFileSync(path);
    let raw = new SqliteStore(path);
    await expect(
      SealedStore.changePassphrase(raw, 'wrong passphrase', 'new passphrase 2', {
        rng: systemRandom,
        cost: FAST,
      }),
    ).rejects.toBeInstanceOf(AuthError);
    await expect(
      SealedStore.changePassphrase(raw, 'old passphrase 1', 'short', { rng: systemRandom, cost: FAST }),
    ).rejects.toBeInstanceOf(UsageError);
    await raw.close();
    expect(readFileSync(path).equals(before)).toBe(true);

    raw = new SqliteStore(path);
    await SealedStore.changePassphrase(raw, 'old passphrase 1', 'new passphrase 2', {
      rng: systemRandom,
      cost: FAST,
    });
    await raw.close();

    raw = new SqliteStore(path);
    await expect(
      SealedStore.open(raw, 'old passphrase 1', { rng: systemRandom, cost: FAST }),
    ).rejects.toBeInstanceOf(AuthError);
    const reopened = await SealedStore.open(raw, 'new passphrase 2', { rng: systemRandom, cost: FAST });
    expect(new TextDecoder().decode(await reopened.get('contacts', 'k1'))).toBe('阿明');
    await reopened.close();
  });
});
