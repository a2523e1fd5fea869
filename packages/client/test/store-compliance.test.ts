// Every Store implementation runs the same suite (STYLE.md: shared compliance suites): the
// cases live in store-compliance-suite.ts, which the web package also runs in Chromium
// against IndexedDbStore.
import { chmodSync, mkdtempSync, rmSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARGON2ID_INTERACTIVE,
  ARGON2ID_MODERATE,
  AuthError,
  InternalError,
  StorageError,
  argon2id,
  decodeCbor,
  encodeCbor,
  initCrypto,
  sealWithNonce,
  systemRandom,
  utf8,
  type Argon2idCost,
} from '@parus/core';
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
    const again = await SealedStore.open(new SqliteStore(path), 'right passphrase', {
      rng: systemRandom,
      cost: FAST,
    });
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

describe('SealedStore profiles (decision 0027)', () => {
  const LIGHT: Argon2idCost = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
  const STRONGER: Argon2idCost = { opsLimit: 2, memLimit: 16 * 1024 * 1024 };
  /** The version and profile stored beside the data. */
  const profileOf = async (inner: Store): Promise<unknown> => {
    const m = decodeCbor((await inner.get('_meta', 'kdf'))!) as { v?: number; ops: number; mem: number };
    return { v: m.v ?? 1, opsLimit: m.ops, memLimit: m.mem };
  };

  /** A store as the first version wrote it: the Argon2id output is the data key, a check value beside. */
  async function v1Store(passphrase: string, cost: Argon2idCost): Promise<MemoryStore> {
    const inner = new MemoryStore();
    const salt = systemRandom.bytes(16);
    const key = argon2id(utf8(passphrase), salt, cost);
    const check = sealWithNonce(systemRandom, key, utf8('parus-store-check-v1'), utf8('check'));
    const meta = { v: 1, salt, ops: cost.opsLimit, mem: cost.memLimit, check };
    const ad = utf8('parus-record-v1\0contacts\0k1');
    await inner.batch([
      { type: 'put', collection: '_meta', key: 'kdf', value: encodeCbor(meta) },
      {
        type: 'put',
        collection: 'contacts',
        key: 'k1',
        value: sealWithNonce(systemRandom, key, utf8('阿明'), ad),
      },
    ]);
    return inner;
  }

  it('real accounts default to the moderate profile; the light one is for tests only', () => {
    expect(ARGON2ID_MODERATE.opsLimit).toBeGreaterThanOrEqual(3);
    expect(ARGON2ID_MODERATE.memLimit).toBeGreaterThanOrEqual(256 * 1024 * 1024);
    expect(ARGON2ID_INTERACTIVE).toEqual({ opsLimit: 2, memLimit: 64 * 1024 * 1024 });
  });

  it('stores the profile with the account and opens it with that profile', async () => {
    const inner = new MemoryStore();
    const s = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, create: true, cost: LIGHT });
    expect(s.profile).toEqual(LIGHT);
    expect(await profileOf(inner)).toEqual({ v: 2, ...LIGHT });
    await s.batch([{ type: 'put', collection: 'm', key: 'x', value: utf8('kept') }]);
    const again = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, cost: LIGHT });
    expect(new TextDecoder().decode((await again.get('m', 'x'))!)).toBe('kept');
    expect(await profileOf(inner)).toEqual({ v: 2, ...LIGHT });
  });

  it('raises an account kept under a weaker profile when it is opened, and never lowers one', async () => {
    const inner = new MemoryStore();
    const s = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, create: true, cost: LIGHT });
    await s.batch([{ type: 'put', collection: 'm', key: 'x', value: utf8('kept') }]);
    const raised = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, cost: STRONGER });
    expect(raised.profile).toEqual(STRONGER);
    expect(await profileOf(inner)).toEqual({ v: 2, ...STRONGER });
    expect(new TextDecoder().decode((await raised.get('m', 'x'))!)).toBe('kept');
    // A client that asks for less opens it as it is.
    const lighter = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, cost: LIGHT });
    expect(lighter.profile).toEqual(STRONGER);
    expect(await profileOf(inner)).toEqual({ v: 2, ...STRONGER });
    expect(new TextDecoder().decode((await lighter.get('m', 'x'))!)).toBe('kept');
  });

  it('opens an account of the first version and moves it to a wrapped key under the profile asked for', async () => {
    const inner = await v1Store('pw pw pw pw', LIGHT);
    const s = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, cost: STRONGER });
    expect(new TextDecoder().decode((await s.get('contacts', 'k1'))!)).toBe('阿明');
    expect(await profileOf(inner)).toEqual({ v: 2, ...STRONGER });
    const again = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, cost: STRONGER });
    expect(new TextDecoder().decode((await again.get('contacts', 'k1'))!)).toBe('阿明');
  });

  it('a wrong passphrase is an AuthError and upgrades nothing, for either version', async () => {
    for (const inner of [
      await v1Store('right passphrase', LIGHT),
      await (async () => {
        const m = new MemoryStore();
        await SealedStore.open(m, 'right passphrase', { rng: systemRandom, create: true, cost: LIGHT });
        return m;
      })(),
    ]) {
      const before = await inner.get('_meta', 'kdf');
      await expect(
        SealedStore.open(inner, 'wrong passphrase', { rng: systemRandom, cost: STRONGER }),
      ).rejects.toThrow(AuthError);
      expect(await inner.get('_meta', 'kdf')).toEqual(before);
    }
  });

  it('an upgrade cut short (the write fails, as in a crash) loses nothing: the old profile still opens it', async () => {
    for (const make of [
      () => v1Store('pw pw pw pw', LIGHT),
      async () => {
        const m = new MemoryStore();
        const s = await SealedStore.open(m, 'pw pw pw pw', { rng: systemRandom, create: true, cost: LIGHT });
        await s.batch([{ type: 'put', collection: 'contacts', key: 'k1', value: utf8('阿明') }]);
        return m;
      },
    ]) {
      const inner = await make();
      const before = await inner.get('_meta', 'kdf');
      // The backend dies at the metadata write: nothing of the batch lands.
      const failing: Store = {
        get: (c, k) => inner.get(c, k),
        list: (c) => inner.list(c),
        batch: async (ops) => {
          if (ops.some((op) => op.collection === '_meta')) throw new StorageError('disk gone');
          await inner.batch(ops);
        },
        close: () => inner.close(),
      };
      const s = await SealedStore.open(failing, 'pw pw pw pw', { rng: systemRandom, cost: STRONGER });
      expect(s.profile).toEqual(LIGHT);
      expect(new TextDecoder().decode((await s.get('contacts', 'k1'))!)).toBe('阿明');
      expect(await inner.get('_meta', 'kdf')).toEqual(before);
      // The next open (the disk back) upgrades it.
      const next = await SealedStore.open(inner, 'pw pw pw pw', { rng: systemRandom, cost: STRONGER });
      expect(next.profile).toEqual(STRONGER);
      expect(new TextDecoder().decode((await next.get('contacts', 'k1'))!)).toBe('阿明');
    }
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
