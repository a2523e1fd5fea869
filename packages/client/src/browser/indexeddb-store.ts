/**
 * The account store in a browser: IndexedDB (DESIGN.md "Clients"). One database per
 * account, one object store, records keyed by the array [collection, key]: IndexedDB orders
 * array keys element by element, so a collection is the contiguous range
 * [collection] .. [collection, []] (an array sorts after every string), already sorted by
 * key, and new collections need no schema change. Store names are restricted to ASCII
 * (checkStoreName), where IndexedDB's code-unit order is the same as JavaScript's `<`.
 *
 * A batch is one readwrite transaction with strict durability: it resolves on `complete`
 * (committed to disk) and any failure aborts the whole of it. Values are stored as fresh
 * copies of exactly their bytes, and structured cloning hands every read a new buffer.
 * Encryption at rest is not done here: wrap it in a SealedStore.
 */
import { StorageError, UsageError } from '@parus/core';
import { checkStoreName, type Store, type StoreEntry, type StoreOp } from '../store.ts';

const RECORDS = 'records';
const VERSION = 1;

export interface IndexedDbStoreOptions {
  /** Another IDBFactory than the global `indexedDB` (a worker's, or a test double). */
  indexedDB?: IDBFactory;
}

function factory(opts: IndexedDbStoreOptions): IDBFactory {
  const f = opts.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!f) throw new StorageError('IndexedDB is not available here');
  return f;
}

function checkDatabaseName(name: string): void {
  if (typeof name !== 'string' || name.length < 1 || name.length > 128)
    throw new UsageError('database name must be 1-128 characters');
}

function request<T>(req: IDBRequest<T>, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(new StorageError(`IndexedDB ${what} failed`, { cause: req.error }));
  });
}

function toBytes(value: unknown, what: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (value instanceof ArrayBuffer) return new Uint8Array(value);
  throw new StorageError(`record ${what} is not bytes`);
}

export class IndexedDbStore implements Store {
  private db: IDBDatabase | undefined;

  private constructor(db: IDBDatabase) {
    this.db = db;
    // Another tab upgrading or deleting the database: let it, and refuse further use here.
    db.onversionchange = () => {
      db.close();
      this.db = undefined;
    };
    db.onclose = () => {
      this.db = undefined;
    };
  }

  /** Opens (creating if needed) the database `name`. */
  static async open(name: string, opts: IndexedDbStoreOptions = {}): Promise<IndexedDbStore> {
    checkDatabaseName(name);
    const req = factory(opts).open(name, VERSION);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(RECORDS)) req.result.createObjectStore(RECORDS);
    };
    req.onblocked = () => undefined; // waits for the other connection to close
    return new IndexedDbStore(await request(req, 'open'));
  }

  /** Deletes the database `name` and everything in it. */
  static async destroy(name: string, opts: IndexedDbStoreOptions = {}): Promise<void> {
    checkDatabaseName(name);
    await request(factory(opts).deleteDatabase(name), 'delete');
  }

  private database(): IDBDatabase {
    if (!this.db) throw new UsageError('store is closed');
    return this.db;
  }

  private transaction(mode: IDBTransactionMode): IDBObjectStore {
    try {
      return this.database()
        .transaction(RECORDS, mode, mode === 'readwrite' ? { durability: 'strict' } : undefined)
        .objectStore(RECORDS);
    } catch (cause) {
      if (cause instanceof UsageError) throw cause;
      throw new StorageError('IndexedDB transaction could not start', { cause });
    }
  }

  async get(collection: string, key: string): Promise<Uint8Array | undefined> {
    this.database();
    checkStoreName('collection', collection);
    checkStoreName('key', key);
    const value = await request(this.transaction('readonly').get([collection, key]), 'read');
    return value === undefined ? undefined : toBytes(value, `${collection}/${key}`);
  }

  async list(collection: string): Promise<StoreEntry[]> {
    this.database();
    checkStoreName('collection', collection);
    const store = this.transaction('readonly');
    const range = IDBKeyRange.bound([collection], [collection, []]);
    const [keys, values] = await Promise.all([
      request(store.getAllKeys(range), 'list'),
      request(store.getAll(range), 'list'),
    ]);
    if (keys.length !== values.length) throw new StorageError('IndexedDB list changed while read');
    return keys.map((k, i) => {
      const key = Array.isArray(k) ? k[1] : undefined;
      if (typeof key !== 'string') throw new StorageError(`collection ${collection} holds a bad key`);
      return { key, value: toBytes(values[i], `${collection}/${key}`) };
    });
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    this.database();
    for (const op of ops) {
      checkStoreName('collection', op.collection);
      checkStoreName('key', op.key);
      if (op.type === 'put' && !(op.value instanceof Uint8Array))
        throw new UsageError('store values must be Uint8Array');
    }
    if (ops.length === 0) return;
    const store = this.transaction('readwrite');
    const tx = store.transaction;
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(new StorageError('IndexedDB batch was aborted', { cause: tx.error }));
      try {
        for (const op of ops) {
          // slice(): exactly the value's bytes, never the rest of a larger underlying buffer.
          if (op.type === 'put') store.put(op.value.slice(), [op.collection, op.key]);
          else store.delete([op.collection, op.key]);
        }
      } catch (cause) {
        // A request that cannot even be placed (quota, clone failure): nothing is committed.
        try {
          tx.abort();
        } catch {
          // already aborting
        }
        reject(new StorageError('IndexedDB batch failed', { cause }));
      }
    });
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    db?.close();
  }
}
