// Every Store implementation runs the same suite (STYLE.md: shared compliance suites).
import { mkdtempSync, rmSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthError, StorageError, UsageError, initCrypto, systemRandom, utf8 } from '@parus/core';
import { MemoryStore, SealedStore, type Store } from '../src/index.ts';
import { SqliteStore } from '../src/node/index.ts';

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
  it('puts, gets, lists sorted and deletes', async () => {
    const s = await make();
    expect(await s.get('c', 'missing')).toBeUndefined();
    await s.batch([
      { type: 'put', collection: 'c', key: 'b', value: utf8('two') },
      { type: 'put', collection: 'c', key: 'a', value: utf8('one') },
      { type: 'put', collection: 'other', key: 'a', value: utf8('x') },
    ]);
    expect(await s.get('c', 'a')).toEqual(utf8('one'));
    expect((await s.list('c')).map((e) => e.key)).toEqual(['a', 'b']);
    await s.batch([{ type: 'del', collection: 'c', key: 'a' }]);
    expect(await s.get('c', 'a')).toBeUndefined();
    expect((await s.list('c')).map((e) => e.key)).toEqual(['b']);
    expect(await s.list('empty')).toEqual([]);
    await s.close();
  });

  it('overwrites a key and returns copies, not shared buffers', async () => {
    const s = await make();
    const v = utf8('first');
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: v }]);
    v[0] = 0;
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('second') }]);
    const got = (await s.get('c', 'k'))!;
    expect(got).toEqual(utf8('second'));
    got[0] = 0;
    expect(await s.get('c', 'k')).toEqual(utf8('second'));
    await s.close();
  });

  it('rejects invalid names before writing anything (the batch is all or nothing)', async () => {
    const s = await make();
    await expect(
      s.batch([
        { type: 'put', collection: 'c', key: 'ok', value: utf8('1') },
        { type: 'put', collection: 'c', key: 'bad key/with slash', value: utf8('2') },
      ]),
    ).rejects.toThrow(UsageError);
    expect(await s.get('c', 'ok')).toBeUndefined();
    await s.close();
  });

  it('refuses use after close', async () => {
    const s = await make();
    await s.close();
    await expect(s.get('c', 'k')).rejects.toThrow();
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
