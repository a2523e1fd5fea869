/**
 * Fan-out lists in the queue database (fanout.ts, docs/decisions/0011-fan-out.md): a list
 * is its id, its key `fk` and a set of sender ids. Its writes go through the queue store's
 * group commit (SqliteQueueStore.sharedWrite), so an `fadd` or `frem` and the `fsend`s
 * around it commit in the order they came, and a fan-out reads the entries as they are
 * when its write runs. A fan-out stores its body once (the queue store's `bodies`) and a
 * message naming it in each queue; the queue store seals those per queue when they go out.
 *
 * A list that nobody used (created, changed or sent to) for the message lifetime is
 * deleted by the purge, like the messages it could have sent.
 */
import type Database from 'better-sqlite3';
import {
  MESSAGE_ID_BYTES,
  NotFoundError,
  QUEUE_ID_BYTES,
  QuotaError,
  StorageError,
  toHex,
} from '@parus/core';
import type {
  FanoutList,
  FanoutStore,
  FanoutStoreOptions,
  SharedAppend,
  SharedMessage,
} from '../../fanout-store.ts';
import type { SqliteQueueStore } from './sqlite-queue-store.ts';

export type { FanoutList, FanoutStoreOptions, SharedAppend, SharedMessage };

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

/** A list's entry as the fan-out needs it: its queue, if it can take copies (secured). */
interface Target {
  sid: Uint8Array;
  /** Null when the queue is gone or not secured. */
  rid: Uint8Array | null;
  key: string;
  /** The key its copies are sealed with as they go out live. */
  queueKey: Uint8Array;
}

/** A list's targets, valid while no queue was created, secured or deleted. */
interface TargetCache {
  generation: number;
  targets: Target[];
}

/** Lists whose targets are kept in memory. */
const MAX_CACHED_LISTS = 1_000;

type TargetRow = { sid: Buffer; rid: Buffer | null; sk: Buffer | null; qkey: Buffer | null };

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export class SqliteFanoutStore implements FanoutStore {
  private readonly stmt: {
    list: Database.Statement<[Uint8Array], { fk: Buffer; entries: number }>;
    insertList: Database.Statement<[Uint8Array, Uint8Array, number]>;
    deleteList: Database.Statement<[Uint8Array]>;
    touch: Database.Statement<[number, Uint8Array]>;
    addEntry: Database.Statement<[Uint8Array, Uint8Array]>;
    removeEntry: Database.Statement<[Uint8Array, Uint8Array]>;
    setCount: Database.Statement<[Uint8Array, Uint8Array]>;
    targets: Database.Statement<[Uint8Array], TargetRow>;
    insertBody: Database.Statement<[number, number, Uint8Array, number, number, number]>;
    insertCopies: Database.Statement<
      [{ n: number; first: number; rids: Uint8Array; mids: Uint8Array; bid: number }]
    >;
    unused: Database.Statement<[number], { lid: Buffer }>;
    count: Database.Statement<[], { n: number }>;
  };
  private lists: number;
  /** Targets of recently used lists, by lid (hex), least recently used first. */
  private readonly targetCache = new Map<string, TargetCache>();

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
      targets: db.prepare(
        'SELECT e.sid AS sid, q.rid AS rid, q.sk AS sk, q.qkey AS qkey FROM fanout_entries e LEFT JOIN queues q ON q.sid = e.sid WHERE e.lid = ?',
      ),
      insertBody: db.prepare(
        'INSERT INTO bodies (refs, expires, body, ts, first, last) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      // The leanest row per copy: its seq (the key: one upload's copies side by side), its
      // queue, its id and its body (docs/decisions/0016). One statement per upload: SQLite
      // loops over the queues and the ids in C, cutting them from two byte strings.
      insertCopies: db.prepare(
        'WITH RECURSIVE i(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM i WHERE x + 1 < @n) ' +
          'INSERT INTO copies (seq, rid, mid, bid) ' +
          'SELECT @first + x, substr(@rids, x * 24 + 1, 24), substr(@mids, x * 16 + 1, 16), @bid FROM i',
      ),
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
      if (!this.stmt.list.get(lid)) throw new NotFoundError('no such fan-out list');
      this.targetCache.delete(toHex(lid));
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
      if (!this.stmt.list.get(lid)) throw new NotFoundError('no such fan-out list');
      this.targetCache.delete(toHex(lid));
      for (const sid of sids) this.stmt.removeEntry.run(lid, sid);
      this.stmt.setCount.run(lid, lid);
      this.stmt.touch.run(now, lid);
    });
  }

  /** Deletes the list and its entries; NotFoundError when there is none. */
  dropList(lid: Uint8Array): Promise<void> {
    return this.queues.sharedWrite(() => {
      this.targetCache.delete(toHex(lid));
      if (this.stmt.deleteList.run(lid).changes === 0) throw new NotFoundError('no such fan-out list');
      this.lists -= 1;
    });
  }

  /**
   * One body into every queue on the list, as the list is when the write runs, in one
   * durable write: the body stored once, a copy naming it in each queue with room (one
   * small row each; the queues' usage is counted in memory and written once per commit).
   * Full and vanished queues are skipped and reported. NotFoundError when the list is gone.
   */
  fanout(lid: Uint8Array, message: SharedMessage): Promise<SharedAppend> {
    return this.queues.sharedWrite((delta) => {
      if (!this.stmt.list.get(lid)) throw new NotFoundError('no such fan-out list');
      this.stmt.touch.run(message.ts, lid);
      const size = message.plaintext.length;
      const out: SharedAppend = { stored: [], full: [], gone: [] };
      const queues = this.queues;
      const room: Target[] = [];
      for (const target of this.targetsOf(lid)) {
        if (target.rid === null) {
          // Entries are proven under the queue's sk (fanout.ts), so a queue without one is
          // counted as gone, like a deleted one.
          out.gone.push(target.sid);
          continue;
        }
        let held = queues.heldBy(target.key, target.rid);
        if (!held) {
          out.gone.push(target.sid);
          continue;
        }
        // A full queue may hold expired messages that only the periodic purge would drop:
        // they are dropped now, as a 1:1 append does.
        if (!this.fits(held.n, held.b, size)) {
          queues.purgeQueue(target.rid, message.ts, delta);
          held = queues.heldBy(target.key, target.rid)!;
        }
        if (!this.fits(held.n, held.b, size)) {
          out.full.push(target.sid);
          continue;
        }
        room.push(target);
      }
      if (room.length === 0) return out;
      const mids = message.newMids(room.length);
      if (mids.length !== room.length * MESSAGE_ID_BYTES)
        throw new StorageError('wrong number of message ids');
      const first = queues.takeSeqs(room.length);
      const bid = Number(
        this.stmt.insertBody.run(
          room.length,
          message.expires,
          message.plaintext,
          message.ts,
          first,
          first + room.length - 1,
        ).lastInsertRowid,
      );
      const keys: string[] = [];
      const rids = new Uint8Array(room.length * QUEUE_ID_BYTES);
      for (let i = 0; i < room.length; i++) {
        const target = room[i]!;
        const rid = target.rid!;
        rids.set(rid, i * QUEUE_ID_BYTES);
        keys.push(target.key);
        const mid = mids.subarray(i * MESSAGE_ID_BYTES, (i + 1) * MESSAGE_ID_BYTES);
        out.stored.push({ rid, key: target.key, queueKey: target.queueKey, mid, seq: first + i });
      }
      this.stmt.insertCopies.run({ n: room.length, first, rids, mids, bid });
      queues.copies.addRun(keys, first, size);
      delta.messages += room.length;
      return out;
    });
  }

  private fits(count: number, held: number, size: number): boolean {
    return count + 1 <= this.opts.maxQueueMessages && held + size <= this.opts.maxQueueBytes;
  }

  /** The list's entries with their queues, read again only when queues or the list changed. */
  private targetsOf(lid: Uint8Array): Target[] {
    const id = toHex(lid);
    const generation = this.queues.queueGeneration;
    const cached = this.targetCache.get(id);
    this.targetCache.delete(id);
    if (cached && cached.generation === generation) {
      this.targetCache.set(id, cached);
      return cached.targets;
    }
    const targets = this.stmt.targets.all(lid).map((row): Target => {
      const rid = row.rid === null || row.sk === null ? null : bytes(row.rid);
      const queueKey = row.qkey === null ? new Uint8Array(0) : bytes(row.qkey);
      return { sid: bytes(row.sid), rid, key: rid === null ? '' : toHex(rid), queueKey };
    });
    this.targetCache.set(id, { generation, targets });
    if (this.targetCache.size > MAX_CACHED_LISTS) {
      const oldest = this.targetCache.keys().next().value;
      if (oldest !== undefined) this.targetCache.delete(oldest);
    }
    return targets;
  }

  /** Deletes lists unused since `before`; resolves to how many. */
  purgeUnused(before: number): Promise<number> {
    return this.queues.sharedWrite(() => {
      const rows = this.stmt.unused.all(before);
      for (const row of rows) {
        this.targetCache.delete(row.lid.toString('hex'));
        this.stmt.deleteList.run(row.lid);
      }
      this.lists = this.stmt.count.get()?.n ?? 0;
      return rows.length;
    });
  }

  private read<T>(run: () => T): T {
    try {
      return run();
    } catch (cause) {
      throw new StorageError('fan-out list read failed', { cause });
    }
  }
}
