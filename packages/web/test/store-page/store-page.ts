/**
 * Runs inside Chromium: the shared Store compliance cases (packages/client/test/
 * store-compliance-suite.ts) against IndexedDbStore and SealedStore over it, plus what only
 * a persistent browser store has to show. The Node side calls `parusStoreTests.run`.
 */
import { SealedStore, type Store } from '@parus/client';
import { IndexedDbStore } from '@parus/client/browser';
import { AuthError, UsageError, initCrypto, systemRandom, utf8 } from '@parus/core';
import { storeComplianceCases } from '../../../client/test/store-compliance-suite.ts';

const FAST = { opsLimit: 1, memLimit: 8 * 1024 * 1024 };
let counter = 0;
const fresh = (): string => `compliance-${Date.now()}-${counter++}`;

const backends: Record<string, () => Promise<Store>> = {
  IndexedDbStore: () => IndexedDbStore.open(fresh()),
  'SealedStore over IndexedDbStore': async () => {
    await initCrypto();
    return SealedStore.open(await IndexedDbStore.open(fresh()), 'correct horse', {
      rng: systemRandom,
      create: true,
      cost: FAST,
    });
  },
};

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`check failed: ${what}`);
}

async function rawValues(name: string): Promise<Uint8Array[]> {
  const db = await new Promise<IDBDatabase>((resolve, reject) => {
    const req = indexedDB.open(name);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
  try {
    const out: Uint8Array[] = [];
    for (const storeName of Array.from(db.objectStoreNames)) {
      const all = await new Promise<unknown[]>((resolve, reject) => {
        const req = db.transaction(storeName).objectStore(storeName).getAll();
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
      for (const v of all) if (v instanceof Uint8Array) out.push(v);
    }
    return out;
  } finally {
    db.close();
  }
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

const browserCases: Record<string, () => Promise<void>> = {
  'keeps its data after close, in a new connection': async () => {
    const name = fresh();
    const a = await IndexedDbStore.open(name);
    await a.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('kept') }]);
    await a.close();
    const b = await IndexedDbStore.open(name);
    const got = await b.get('c', 'k');
    check(got !== undefined && new TextDecoder().decode(got) === 'kept', 'value after reopening');
    await b.close();
  },
  'databases of different names are apart': async () => {
    const a = await IndexedDbStore.open(fresh());
    const b = await IndexedDbStore.open(fresh());
    await a.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('a') }]);
    check((await b.get('c', 'k')) === undefined, 'b does not see a');
    await a.close();
    await b.close();
  },
  'after close it is a UsageError, and destroy removes everything': async () => {
    const name = fresh();
    const s = await IndexedDbStore.open(name);
    await s.batch([{ type: 'put', collection: 'c', key: 'k', value: utf8('x') }]);
    await s.close();
    await s.get('c', 'k').then(
      () => check(false, 'get after close resolved'),
      (e: unknown) => check(e instanceof UsageError, 'UsageError after close'),
    );
    await IndexedDbStore.destroy(name);
    const again = await IndexedDbStore.open(name);
    check((await again.list('c')).length === 0, 'empty after destroy');
    await again.close();
  },
  'sealed: a wrong passphrase is an AuthError and the database holds no plaintext': async () => {
    await initCrypto();
    const name = fresh();
    const marker = 'PLAINTEXT-MARKER 你好 42';
    const s = await SealedStore.open(await IndexedDbStore.open(name), 'right passphrase', {
      rng: systemRandom,
      create: true,
      cost: FAST,
    });
    await s.batch([{ type: 'put', collection: 'm', key: 'x', value: utf8(marker) }]);
    await s.close();
    const before = await rawValues(name);
    for (const v of before) check(!contains(v, utf8(marker)), 'no plaintext at rest');
    const raw = await IndexedDbStore.open(name);
    await SealedStore.open(raw, 'wrong passphrase', { rng: systemRandom }).then(
      () => check(false, 'wrong passphrase accepted'),
      (e: unknown) => check(e instanceof AuthError, 'AuthError for a wrong passphrase'),
    );
    await raw.close();
    const after = await rawValues(name);
    check(after.length === before.length, 'nothing added or removed');
    after.forEach((v, i) =>
      check(v.length === before[i]!.length && contains(v, before[i]!), 'nothing changed'),
    );
    const ok = await SealedStore.open(await IndexedDbStore.open(name), 'right passphrase', {
      rng: systemRandom,
      cost: FAST,
    });
    const got = await ok.get('m', 'x');
    check(
      got !== undefined && new TextDecoder().decode(got) === marker,
      'readable with the right passphrase',
    );
    await ok.close();
  },
};

declare global {
  interface Window {
    parusStoreTests: {
      run(backend: string, name: string): Promise<void>;
      runBrowserCase(name: string): Promise<void>;
    };
  }
}

window.parusStoreTests = {
  async run(backend, name) {
    const make = backends[backend];
    const c = storeComplianceCases.find((x) => x.name === name);
    if (!make || !c) throw new Error(`no case ${backend} / ${name}`);
    await c.run(make);
  },
  async runBrowserCase(name) {
    const c = browserCases[name];
    if (!c) throw new Error(`no browser case ${name}`);
    await c();
  },
};
document.body.dataset.ready = 'yes';
