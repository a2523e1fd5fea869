/**
 * Fan-out lists in the queue database (fanout.ts, docs/decisions/0010-fan-out.md): a list
 * is its id, its key `fk` and a set of sender ids. Its writes go through the queue store's
 * group commit (SqliteQueueStore.sharedWrite), so an `fadd` or `frem` and the `fsend`s
 * around it commit in the order they came, and a fan-out reads the entries as they are
 * when its write runs.
 *
 * A list that nobody used (created, changed or sent to) for the message lifetime is
 * deleted by the purge, like the messages it could have sent.
 */
import type Database from 'better-sqlite3';
import { NotFoundError, QuotaError, StorageError, toHex } from '@parus/core';
import type { SharedAppend, SharedMessage } from './queue-store.ts';
import type { SqliteQueueStore } from './sqlite-queue-store.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS fanout_lists (
  lid BLOB PRIMARY KEY NOT NULL,
  fk BLOB NOT NULL,
  used INTEGER NOT NULL,
  entries INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS fanout_lists_by_use ON fanout_lists(used);
CREATE TABLE IF NOT EXISTS fanout_entries (
  lid BLOB NOT NULL REFERENCES fanout_lists(lid) ON DELETE CASCADE,
  sid BLOB NOT NULL,
  PRIMARY KEY (lid, sid)
) WITHOUT ROWID;
`;

/** Lists whose entries are kept in memory for the next `fsend`. */
const ENTRY_CACHE_LISTS = 256;

export interface FanoutList {
  fk: Uint8Array;
  /** Entries when last committed. */
  entries: number;
}

export interface FanoutStoreOptions {
  /** Lists on the relay. */
  maxLists: number;
  /** Entries on one list. */
  maxEntries: number;
}

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export class SqliteFanoutStore {
  private readonly stmt: {
    list: Database.Statement<[Uint8Array], { fk: Buffer; entries: number }>;
    insertList: Database.Statement<[Uint8Array, Uint8Array, number]>;
    deleteList: Database.Statement<[Uint8Array]>;
    touch: Database.Statement<[number, Uint8Array]>;
    addEntry: Database.Statement<[Uint8Array, Uint8Array]>;
    removeEntry: Database.Statement<[Uint8Array, Uint8Array]>;
    setCount: Database.Statement<[Uint8Array, Uint8Array]>;
    entries: Database.Statement<[Uint8Array], { sid: Buffer }>;
    unused: Database.Statement<[number], { lid: Buffer }>;
    count: Database.Statement<[], { n: number }>;
  };
  private lists: number;
  /** Sids of recently sent-to lists (hex lid), least recently used first. */
  private readonly entryCache = new Map<string, Uint8Array[]>();

  constructor(
    private readonly queues: SqliteQueueStore,
    private readonly opts: FanoutStoreOptions,
  ) {
    const db = queues.database;
    try {
      db.exec(SCHEMA);
    } catch (cause) {
      throw new StorageError('cannot prepare the fan-out tables', { cause });
    }
    this.stmt = {
      list: db.prepare('SELECT fk, entries FROM fanout_lists WHERE lid = ?'),
      insertList: db.prepare('INSERT INTO fanout_lists (lid, fk, used) VALUES (?, ?, ?)'),
      deleteList: db.prepare('DELETE FROM fanout_lists WHERE lid = ?'),
      touch: db.prepare('UPDATE fanout_lists SET used = ? WHERE lid = ?'),
      addEntry: db.prepare('INSERT OR IGNORE INTO fanout_entries (lid, sid) VALUES (?, ?)'),
      removeEntry: db.prepare('DELETE FROM fanout_entries WHERE lid = ? AND sid = ?'),
      setCount: db.prepare(
        'UPDATE fanout_lists SET entries = (SELECT COUNT(*) FROM fanout_entries WHERE lid = ?) WHERE lid = ?',
      ),
      entries: db.prepare('SELECT sid FROM fanout_entries WHERE lid = ?'),
      unused: db.prepare('SELECT lid FROM fanout_lists WHERE used <= ?'),
      count: db.prepare('SELECT COUNT(*) AS n FROM fanout_lists'),
    };
    this.lists = this.stmt.count.get()?.n ?? 0;
  }

  /** Lists on the relay. */
  get size(): number {
    return this.lists;
  }

  async list(lid: Uint8Array): Promise<FanoutList | undefined> {
    const row = this.read(() => this.stmt.list.get(lid));
    return row ? { fk: bytes(row.fk), entries: row.entries } : undefined;
  }

  /** QuotaError when the relay holds its most lists. */
  createList(lid: Uint8Array, fk: Uint8Array, now: number): Promise<void> {
    return this.queues.sharedWrite(() => {
      if (this.lists >= this.opts.maxLists) throw new QuotaError('the relay holds its most fan-out lists');
      try {
        this.stmt.insertList.run(lid, fk, now);
      } catch (cause) {
        throw new StorageError('list id already in use', { cause });
      }
      this.lists += 1;
    });
  }

  /**
   * Adds sids (already proven) to the list; ones already on it stay. All or nothing:
   * QuotaError past the list's most entries, NotFoundError when the list is gone.
   */
  addEntries(lid: Uint8Array, sids: readonly Uint8Array[], now: number): Promise<number> {
    return this.queues.sharedWrite(() => {
      this.entryCache.delete(toHex(lid));
      if (!this.stmt.list.get(lid)) throw new NotFoundError('no such fan-out list');
      for (const sid of sids) this.stmt.addEntry.run(lid, sid);
      this.stmt.setCount.run(lid, lid);
      const entries = this.stmt.list.get(lid)?.entries ?? 0;
      // Thrown inside the savepoint: the inserts above roll back with it.
      if (entries > this.opts.maxEntries) {
        throw new QuotaError(`a fan-out list holds at most ${this.opts.maxEntries} entries`);
      }
      this.stmt.touch.run(now, lid);
      return entries;
    });
  }

  /** Removes sids from the list; ones not on it are ignored. NotFoundError when the list is gone. */
  removeEntries(lid: Uint8Array, sids: readonly Uint8Array[], now: number): Promise<void> {
    return this.queues.sharedWrite(() => {
      this.entryCache.delete(toHex(lid));
      if (!this.stmt.list.get(lid)) throw new NotFoundError('no such fan-out list');
      for (const sid of sids) this.stmt.removeEntry.run(lid, sid);
      this.stmt.setCount.run(lid, lid);
      this.stmt.touch.run(now, lid);
    });
  }

  /** Deletes the list and its entries; NotFoundError when there is none. */
  dropList(lid: Uint8Array): Promise<void> {
    return this.queues.sharedWrite(() => {
      this.entryCache.delete(toHex(lid));
      if (this.stmt.deleteList.run(lid).changes === 0) throw new NotFoundError('no such fan-out list');
      this.lists -= 1;
    });
  }

  /** One body into every queue on the list, as the list is when the write runs. */
  fanout(lid: Uint8Array, message: SharedMessage, now: number): Promise<SharedAppend> {
    return this.queues.appendShared(message, () => {
      if (!this.stmt.list.get(lid)) throw new NotFoundError('no such fan-out list');
      this.stmt.touch.run(now, lid);
      return this.entriesOf(lid);
    });
  }

  /** Deletes lists unused since `before`; resolves to how many. */
  purgeUnused(before: number): Promise<number> {
    return this.queues.sharedWrite(() => {
      const rows = this.stmt.unused.all(before);
      for (const row of rows) {
        this.entryCache.delete(row.lid.toString('hex'));
        this.stmt.deleteList.run(row.lid);
      }
      this.lists = this.stmt.count.get()?.n ?? 0;
      return rows.length;
    });
  }

  private entriesOf(lid: Uint8Array): Uint8Array[] {
    const key = toHex(lid);
    let sids = this.entryCache.get(key);
    if (sids) {
      this.entryCache.delete(key);
    } else {
      sids = this.stmt.entries.all(lid).map((row) => bytes(row.sid));
      if (this.entryCache.size >= ENTRY_CACHE_LISTS) {
        const oldest = this.entryCache.keys().next().value;
        if (oldest !== undefined) this.entryCache.delete(oldest);
      }
    }
    this.entryCache.set(key, sids);
    return sids;
  }

  private read<T>(run: () => T): T {
    try {
      return run();
    } catch (cause) {
      throw new StorageError('fan-out list read failed', { cause });
    }
  }
}
