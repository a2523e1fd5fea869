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
import { MESSAGE_ID_BYTES, NotFoundError, QuotaError, StorageError } from '@parus/core';
import type { Delta, SqliteQueueStore } from './sqlite-queue-store.ts';

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

/** One body for every queue on a list. */
export interface SharedMessage {
  /** Receive time, ms since the epoch. */
  ts: number;
  expires: number;
  /** What each queue gets sealed: core encodeDeliveryPlaintext(ts, body). */
  plaintext: Uint8Array;
  /** Message ids for `n` queues, 16 random bytes each, concatenated (called when the write runs). */
  newMids: (n: number) => Uint8Array;
}

/** What a fan-out stored, and where it could not. */
export interface SharedAppend {
  /** One per queue that got the message. */
  stored: Array<{ rid: Uint8Array; mid: Uint8Array; seq: number }>;
  /** Sids of queues that were full. */
  full: Uint8Array[];
  /** Sids of queues that no longer exist. */
  gone: Uint8Array[];
}

interface CopyParams {
  lid: Uint8Array;
  size: number;
  maxCount: number;
  maxBytes: number;
}

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
  /** The queue quotas (RelayLimits), which each copy honours like a 1:1 send. */
  maxQueueMessages: number;
  maxQueueBytes: number;
}

type SkippedRow = { sid: Buffer; rid: Buffer | null; sk: Buffer | null };

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
    skipped: Database.Statement<[CopyParams], SkippedRow>;
    insertBody: Database.Statement<[number, Uint8Array]>;
    insertCopies: Database.Statement<
      [CopyParams & { mids: Uint8Array; ts: number; expires: number; bid: number }],
      { seq: number; rid: Buffer; mid: Buffer }
    >;
    bookCopies: Database.Statement<[{ size: number; first: number; last: number }]>;
    setRefs: Database.Statement<[number, number]>;
    deleteBody: Database.Statement<[number]>;
    unused: Database.Statement<[number], { lid: Buffer }>;
    count: Database.Statement<[], { n: number }>;
  };
  private lists: number;

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
      // A fan-out is set-based, so that SQLite walks the list once and no statement runs
      // per copy: the entries whose queue cannot take the message (gone, full), then one
      // INSERT ... SELECT of a message per queue that can, each with its own id cut from
      // @mids, then one UPDATE of their queues' usage (the copies' seqs are contiguous:
      // one connection, one statement).
      skipped: db.prepare(
        'SELECT e.sid AS sid, q.rid AS rid, q.sk AS sk FROM fanout_entries e LEFT JOIN queues q ON q.sid = e.sid ' +
          'WHERE e.lid = @lid AND (q.rid IS NULL OR q.sk IS NULL OR q.msg_count >= @maxCount OR q.msg_bytes + @size > @maxBytes)',
      ),
      insertBody: db.prepare('INSERT INTO bodies (refs, expires, body) VALUES (0, ?, ?)'),
      insertCopies: db.prepare(
        'INSERT INTO messages (rid, mid, ts, expires, body, bid) ' +
          `SELECT q.rid, substr(@mids, (row_number() OVER ()) * ${MESSAGE_ID_BYTES} - ${MESSAGE_ID_BYTES - 1}, ${MESSAGE_ID_BYTES}), ` +
          "@ts, @expires, x'', @bid FROM fanout_entries e JOIN queues q ON q.sid = e.sid " +
          'WHERE e.lid = @lid AND q.sk IS NOT NULL AND q.msg_count < @maxCount AND q.msg_bytes + @size <= @maxBytes ' +
          'RETURNING seq, rid, mid',
      ),
      bookCopies: db.prepare(
        'UPDATE queues SET msg_count = msg_count + 1, msg_bytes = msg_bytes + @size ' +
          'WHERE rid IN (SELECT rid FROM messages WHERE seq BETWEEN @first AND @last)',
      ),
      setRefs: db.prepare('UPDATE bodies SET refs = ? WHERE bid = ?'),
      deleteBody: db.prepare('DELETE FROM bodies WHERE bid = ?'),
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
      for (const sid of sids) this.stmt.removeEntry.run(lid, sid);
      this.stmt.setCount.run(lid, lid);
      this.stmt.touch.run(now, lid);
    });
  }

  /** Deletes the list and its entries; NotFoundError when there is none. */
  dropList(lid: Uint8Array): Promise<void> {
    return this.queues.sharedWrite(() => {
      if (this.stmt.deleteList.run(lid).changes === 0) throw new NotFoundError('no such fan-out list');
      this.lists -= 1;
    });
  }

  /**
   * One body into every queue on the list, as the list is when the write runs, in one
   * durable write: the body stored once, a message naming it in each queue with room.
   * Full and vanished queues are skipped and reported. NotFoundError when the list is gone.
   */
  fanout(lid: Uint8Array, message: SharedMessage): Promise<SharedAppend> {
    return this.queues.sharedWrite((delta) => {
      const list = this.stmt.list.get(lid);
      if (!list) throw new NotFoundError('no such fan-out list');
      this.stmt.touch.run(message.ts, lid);
      const params: CopyParams = {
        lid,
        size: message.plaintext.length,
        maxCount: this.opts.maxQueueMessages,
        maxBytes: this.opts.maxQueueBytes,
      };
      const out: SharedAppend = { stored: [], full: [], gone: [] };
      const skipped = this.skippedCopies(params, message.ts, delta);
      if (skipped.length === list.entries) {
        this.classify(skipped, out);
        return out;
      }
      const bid = Number(this.stmt.insertBody.run(message.expires, message.plaintext).lastInsertRowid);
      const mids = message.newMids(list.entries);
      if (mids.length !== list.entries * MESSAGE_ID_BYTES)
        throw new StorageError('wrong number of message ids');
      const rows = this.stmt.insertCopies.all({
        ...params,
        mids,
        ts: message.ts,
        expires: message.expires,
        bid,
      });
      let first = Infinity;
      let last = -Infinity;
      for (const row of rows) {
        if (row.seq < first) first = row.seq;
        if (row.seq > last) last = row.seq;
        out.stored.push({ rid: bytes(row.rid), mid: bytes(row.mid), seq: row.seq });
      }
      if (rows.length === 0) this.stmt.deleteBody.run(bid);
      else {
        this.stmt.bookCopies.run({ size: params.size, first, last });
        this.stmt.setRefs.run(rows.length, bid);
      }
      this.classify(skipped, out);
      delta.messages += rows.length;
      return out;
    });
  }

  /**
   * Entries whose queue cannot take a copy now. A full queue may hold expired messages
   * that only the periodic purge would drop: they are dropped now, as a 1:1 append does.
   */
  private skippedCopies(params: CopyParams, now: number, delta: Delta): SkippedRow[] {
    const rows = this.stmt.skipped.all(params);
    let purged = false;
    for (const row of rows) {
      if (row.rid !== null && row.sk !== null && this.queues.purgeQueue(row.rid, now, delta).n > 0)
        purged = true;
    }
    return purged ? this.stmt.skipped.all(params) : rows;
  }

  private classify(skipped: SkippedRow[], out: SharedAppend): void {
    for (const row of skipped) {
      // Entries are proven under the queue's sk (fanout.ts), so a queue without one is
      // counted as gone, like a deleted one.
      if (row.rid === null || row.sk === null) out.gone.push(bytes(row.sid));
      else out.full.push(bytes(row.sid));
    }
  }

  /** The key a queue's copies are sealed with as they go out live. */
  queueKeyOf(rid: Uint8Array): Uint8Array | undefined {
    return this.queues.queueKeyOf(rid);
  }

  /** Deletes lists unused since `before`; resolves to how many. */
  purgeUnused(before: number): Promise<number> {
    return this.queues.sharedWrite(() => {
      const rows = this.stmt.unused.all(before);
      for (const row of rows) {
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
