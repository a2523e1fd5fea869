// Every Store implementation runs the same suite (STYLE.md: shared compliance suites): the
// cases live in store-compliance-suite.ts, which the web package also runs in Chromium
// against IndexedDbStore.
import { chmodSync, mkdtempSync, rmSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, InternalError, StorageError, initCrypto, systemRandom, utf8 } from '@parus/core';
import { MemoryStore, SealedStore, type Store } from '../src/index.ts';
import { MirroredStore } from '../src/mirrored-store.ts';
import { SqliteStore } from '../src/node/index.ts';
import { storeComplianceCases } from './store-compliance-suite.ts';

const FAST = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'parus-store-'));
  dirs.push(d);
  return d;
}

beforeAll(async () => {
  await initCrypto();
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const backends: Array<[string, () => Promise<Store>]> = [
  ['MemoryStore', async () => new MemoryStore()],
  [
    // The account's outbox in memory (written through): the cases' collections mirrored.
    'MirroredStore over SqliteStore',
    async () => {
      const s = new MirroredStore(new SqliteStore(join(tempDir(), 'm.db')), ['c', 'b', 'c.d', 'empty']);
      await s.load();
      return s;
    },
  ],
  ['SqliteStore', async () => new SqliteStore(join(tempDir(), 'a.db'))],
  [
    'SealedStore over MemoryStore',
    async () =>
      SealedStore.open(new MemoryStore(), 'correct horse', { rng: systemRandom, create: true, cost: FAST }),
  ],
  [
    'SealedStore over SqliteStore',
    async () =>
      SealedStore.open(new SqliteStore(join(tempDir(), 'b.db')), 'correct horse', {
        rng: systemRandom,
        create: true,
        cost: FAST,
      }),
  ],
];

describe.each(backends)('%s', (_name, make) => {
  for (const c of storeComplianceCases) it(c.name, () => c.run(make));
});

describe('SqliteStore files', () => {
  it("are the owner's alone (0600), and an existing account's looser files are tightened on open", async () => {
    const dir = tempDir();
    const path = join(dir, 'account.db');
    const modes = (): Record<string, number> =>
      Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mode & 0o777]));
    const s = new SqliteStore(path);
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('v') }]);
    expect(Object.keys(modes()).sort()).toEqual(['account.db', 'account.db-shm', 'account.db-wal']);
    expect(Object.values(modes())).toEqual([0o600, 0o600, 0o600]);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644); // as an earlier version left them
    const again = new SqliteStore(path);
    expect(Object.values(modes())).toEqual([0o600, 0o600, 0o600]);
    expect(new TextDecoder().decode((await again.get('c', 'k'))!)).toBe('v');
    await s.close();
    await again.close();
  });
});

describe('SealedStore', () => {
  it('a wrong passphrase gets AuthError and reveals and changes nothing', async () => {
    const dir = tempDir();
    const path = join(dir, 'acct.db');
    const s = await SealedStore.open(new SqliteStore(path), 'right passphrase', {
      rng: systemRandom,
      create: true,
      cost: FAST,
    });
    await s.batch([{ type: 'put', collection: 'contacts', key: 'k1', value: utf8('secret alias: 阿明') }]);
    await s.close();
    const before = readFileSync(path);
    const raw = new SqliteStore(path);
    await expect(SealedStore.open(raw, 'wrong passphrase', { rng: systemRandom })).rejects.toThrow(AuthError);
    await raw.close();
    expect(readFileSync(path)).toEqual(before);
    const again = await SealedStore.open(new SqliteStore(path), 'right passphrase', { rng: systemRandom });
    expect(new TextDecoder().decode((await again.get('contacts', 'k1'))!)).toBe('secret alias: 阿明');
    await again.close();
  });

  it('keeps no plaintext on disk', async () => {
    const dir = tempDir();
    const s = await SealedStore.open(new SqliteStore(join(dir, 'acct.db')), 'pw pw pw pw', {
      rng: systemRandom,
      create: true,
      cost: FAST,
    });
    await s.batch([{ type: 'put', collection: 'm', key: 'x', value: utf8('PLAINTEXT-MARKER-42') }]);
    await s.close();
    for (const f of readdirSync(dir)) {
      expect(readFileSync(join(dir, f)).includes(Buffer.from('PLAINTEXT-MARKER-42'))).toBe(false);
    }
  });

  it('a value moved to another key or tampered with is a StorageError', async () => {
    const inner = new MemoryStore();
    const s = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, create: true, cost: FAST });
    await s.batch([{ type: 'put', collection: 'm', key: 'a', value: utf8('hello') }]);
    const sealed = (await inner.get('m', 'a'))!;
    await inner.batch([{ type: 'put', collection: 'm', key: 'b', value: sealed }]);
    await expect(s.get('m', 'b')).rejects.toThrow(StorageError);
    const flipped = sealed.slice();
    flipped[flipped.length - 1]! ^= 1;
    await inner.batch([{ type: 'put', collection: 'm', key: 'a', value: flipped }]);
    await expect(s.get('m', 'a')).rejects.toThrow(StorageError);
  });

  it('opening an empty store without create is an AuthError', async () => {
    await expect(SealedStore.open(new MemoryStore(), 'x', { rng: systemRandom })).rejects.toThrow(AuthError);
  });
});

describe('MirroredStore', () => {
  it('changes its memory copy only once the backend has the batch', async () => {
    const inner = new MemoryStore();
    const s = new MirroredStore(inner, ['c']);
    await s.load();
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('kept') }]);
    // A batch the backend refuses (a bad key) leaves both as they were.
    await expect(
      s.batch([
        { type: 'put', collection: 'c', key: 'k', value: utf8('lost') },
        { type: 'put', collection: 'c', key: 'bad key', value: utf8('x') },
      ]),
    ).rejects.toThrow();
    expect(await s.get('c', 'k')).toEqual(utf8('kept'));
    expect(await inner.get('c', 'k')).toEqual(utf8('kept'));
    // What another opening of the same backend reads is what the copy shows.
    const again = new MirroredStore(inner, ['c']);
    await again.load();
    expect(await again.list('c')).toEqual(await s.list('c'));
  });

  it('decodes a value once, and again only after it changed', async () => {
    const s = new MirroredStore(new MemoryStore(), ['c']);
    await s.load();
    let decodes = 0;
    const decode = (b: Uint8Array): string => {
      decodes++;
      return new TextDecoder().decode(b);
    };
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('one') }]);
    expect(s.decoded('c', 'k', decode)).toBe('one');
    expect(s.entries('c', decode)).toEqual([{ key: 'k', value: 'one' }]);
    expect(decodes).toBe(1);
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('two') }]);
    expect(s.decoded('c', 'k', decode)).toBe('two');
    expect(decodes).toBe(2);
    expect(() => s.decoded('other', 'k', decode)).toThrow(InternalError);
  });
});
