/**
 * QueueStore on SQLite (better-sqlite3), the relay's default store.
 *
 * Durability and throughput: WAL journal with synchronous=FULL (a commit is fsynced before
 * the relay answers `ok`, so an acknowledged message survives a power cut, not only a crash
 * of the relay), and group commit — every
 * mutation called during one event-loop turn is queued and written in a single transaction
 * on the next `setImmediate`; each caller's promise settles after that commit. Each
 * mutation runs inside its own savepoint, so one that fails (a full queue, a vanished
 * queue, even a bug) is rolled back alone and the rest of the batch still commits.
 *
 * The database is opened in exclusive locking mode: a second relay started on the same
 * data folder fails at once instead of sharing queues it cannot deliver.
 */
import Database from 'better-sqlite3';
import {
  AuthError,
  NotFoundError,
  ParusError,
  ProtocolError,
  QuotaError,
  StorageError,
  toHex,
} from '@parus/core';
import { CopyIndex } from '../../copy-index.ts';
import { HeldMessages } from '../../held-messages.ts';
import type { HeldMessage } from '../../held-messages.ts';
import { QueueUsage } from '../../queue-usage.ts';
import type {
  Accepted,
  AppendOptions,
  NewMessage,
  QueueRecord,
  QueueStore,
  SecureResult,
  StoreCounts,
  StoredMessage,
} from '../../queue-store.ts';
import { preparePrivateDatabase } from '../../private-files.ts';

export interface SqliteQueueStoreOptions {
  /** The database file; created if missing. */
  path: string;
  maxQueueMessages: number;
  maxQueueBytes: number;
  /**
   * Seals a shared body for one queue as it goes out (core sealDeliveryPlaintext with a
   * fresh nonce). Without it, messages stored by a fan-out (sqlite-fanout-store.ts) cannot be read.
   */
  sealShared?: (queueKey: Uint8Array, mid: Uint8Array, plaintext: Uint8Array) => Uint8Array;
  /** SQLite's page cache for this database, KiB; SQLite's default (2,000) if not given. */
  cacheKiB?: number;
  /**
   * How long a message taken by accept() waits in memory for its recipient's ack before it
   * is written (held-messages.ts); 0 writes it with the commit of its own turn. Default 0.
   */
  ackWaitMs?: number;
  /** Bytes of held messages past which every held message is written at the next commit. */
  maxHeldBytes?: number;
  /** Monotonic milliseconds, for ackWaitMs. Default performance.now. */
  clock?: () => number;
}

/**
 * 2: shared bodies (`bodies`, `messages.bid`) for fan-out.
 * 3: fan-out copies in `copies`, keyed by queue and seq, with no other index than the one
 *    that finds a body's copies (docs/decisions/0015); `bodies.ts`.
 * 4: copies keyed by seq alone, appended side by side; each queue's copies and their usage
 *    in memory (copy-index.ts), `queues.msg_count`/`msg_bytes` for 1:1 messages only;
 *    `bodies.first`/`last`, the seq range of a body's copies (docs/decisions/0016).
 */
const SCHEMA_VERSION = 4;

// Message columns: `expires` before `body`, so that reading it never walks a large body's
// overflow pages.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  rid BLOB PRIMARY KEY NOT NULL,
  sid BLOB NOT NULL UNIQUE,
  rk BLOB NOT NULL,
  sk BLOB,
  qkey BLOB NOT NULL,
  created INTEGER NOT NULL,
  msg_count INTEGER NOT NULL DEFAULT 0,
  msg_bytes INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  rid BLOB NOT NULL REFERENCES queues(rid) ON DELETE CASCADE,
  mid BLOB NOT NULL UNIQUE,
  ts INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages(rid, seq);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages(expires);
CREATE TABLE IF NOT EXISTS bodies (
  bid INTEGER PRIMARY KEY,
  refs INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  body BLOB NOT NULL,
  ts INTEGER NOT NULL DEFAULT 0,
  first INTEGER NOT NULL DEFAULT 0,
  last INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX IF NOT EXISTS bodies_by_expiry ON bodies(expires);
CREATE TABLE IF NOT EXISTS copies (
  seq INTEGER PRIMARY KEY,
  rid BLOB NOT NULL,
  mid BLOB NOT NULL,
  bid INTEGER NOT NULL
);
`;

// A copy stored by a fan-out (sqlite-fanout-store.ts) is a row of `copies`: its queue, its
// seq (from the same sequence as `messages`, so a queue's messages and copies interleave in
// order), its id, and the shared body it names in `bodies`: the relay's plaintext CBOR
// {ts, body}, stored once and sealed per queue when it goes out (sealShared). A copy has
// no expiry of its own: it expires with its body. `bodies.refs` counts the copies naming it;
// an ack lowers it and the last one deletes the body; copies deleted otherwise (with their
// queue) leave it to the purge, which deletes expired bodies with every copy naming them.
// A copy counts for its body's length in its queue's quota.
const MIGRATE_2_TO_3 = `
CREATE TABLE copies (
  rid BLOB NOT NULL,
  seq INTEGER NOT NULL,
  mid BLOB NOT NULL,
  bid INTEGER NOT NULL,
  PRIMARY KEY (rid, seq)
) WITHOUT ROWID;
CREATE INDEX copies_by_body ON copies(bid);
ALTER TABLE bodies ADD COLUMN ts INTEGER NOT NULL DEFAULT 0;
UPDATE bodies SET ts = COALESCE((SELECT m.ts FROM messages m WHERE m.bid = bodies.bid LIMIT 1), 0);
INSERT INTO copies (rid, seq, mid, bid) SELECT rid, seq, mid, bid FROM messages WHERE bid IS NOT NULL;
DELETE FROM messages WHERE bid IS NOT NULL;
ALTER TABLE messages DROP COLUMN bid;
`;

// Version 4 (docs/decisions/0016): copies keyed by seq alone. A body's copies took one block
// of consecutive seqs, so `first`..`last` (its remaining copies' smallest and largest seq)
// holds no other body's copy. Queue rows count 1:1 messages only; copies are counted in
// memory from `copies` when the relay opens the database.
const MIGRATE_3_TO_4 = `
CREATE TABLE copies_v4 (
  seq INTEGER PRIMARY KEY,
  rid BLOB NOT NULL,
  mid BLOB NOT NULL,
  bid INTEGER NOT NULL
);
INSERT INTO copies_v4 (seq, rid, mid, bid) SELECT seq, rid, mid, bid FROM copies ORDER BY seq;
DROP TABLE copies;
ALTER TABLE copies_v4 RENAME TO copies;
ALTER TABLE bodies ADD COLUMN first INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bodies ADD COLUMN last INTEGER NOT NULL DEFAULT -1;
UPDATE bodies SET first = COALESCE((SELECT min(seq) FROM copies c WHERE c.bid = bodies.bid), 0),
  last = COALESCE((SELECT max(seq) FROM copies c WHERE c.bid = bodies.bid), -1);
UPDATE queues SET msg_count = (SELECT COUNT(*) FROM messages m WHERE m.rid = queues.rid),
  msg_bytes = (SELECT COALESCE(SUM(length(m.body)), 0) FROM messages m WHERE m.rid = queues.rid);
`;

/** Expired messages deleted per transaction, so a large purge never stalls the relay long. */
const PURGE_CHUNK = 5_000;
/** Expired shared bodies deleted per transaction, each with up to a list's entries of copies. */
const BODY_PURGE_CHUNK = 50;
/** What a held message costs in memory beside its body, counted against maxHeldBytes. */
const HELD_OVERHEAD_BYTES = 256;
/** Queue records kept in memory for the hot path (send, ack). */
const QUEUE_CACHE_MAX = 10_000;

interface QueueRow {
  rid: Buffer;
  sid: Buffer;
  rk: Buffer;
  sk: Buffer | null;
  qkey: Buffer;
  created: number;
}
interface MessageRow {
  seq: number;
  mid: Buffer;
  ts: number;
  expires: number;
  /** The sealed body of a 1:1 message, or the shared body of a fan-out copy. */
  body: Buffer;
  /** 1 for a fan-out copy, whose body is sealed as it is read. */
  shared: number;
}
interface QueueKeyRow {
  sk: Buffer | null;
}

/** A Uint8Array view of a Buffer that SQLite returned (Buffer#slice would not copy). */
function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * A queue record whose keys and ids share one buffer: records stay in the queue cache (one
 * per queue in use, up to QUEUE_CACHE_MAX), and a separate buffer for each of five short
 * fields cost about 1 KiB more per record (docs/decisions/0035).
 */
function toQueue(r: QueueRow): QueueRecord {
  const fields = [r.rid, r.sid, r.rk, r.qkey, ...(r.sk === null ? [] : [r.sk])];
  const all = new Uint8Array(fields.reduce((n, f) => n + f.byteLength, 0));
  let at = 0;
  const [rid, sid, rk, queueKey, sk] = fields.map((f) => {
    all.set(f, at);
    at += f.byteLength;
    return all.subarray(at - f.byteLength, at);
  });
  return { rid: rid!, sid: sid!, rk: rk!, sk: sk ?? null, queueKey: queueKey!, created: r.created };
}

/** Changes to the in-memory totals that one mutation makes, applied once it commits. */
export interface Delta {
  queues: number;
  messages: number;
}

interface PendingWrite {
  run(delta: Delta): unknown;
  /** Must be fsynced before it settles (false: only an ack's deletes, see commitPending). */
  sync: boolean;
  /**
   * Changes at most one row, by its last statement: atomic without a savepoint of its own.
   * A function is asked right before the write runs (accept(): whether it must purge first).
   */
  oneChange: boolean | (() => boolean);
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class SqliteQueueStore implements QueueStore {
  private readonly db: Database.Database;
  private readonly limits: { maxQueueMessages: number; maxQueueBytes: number };
  private readonly totals: StoreCounts;
  private pending: PendingWrite[] = [];
  /** References to shared bodies dropped by the writes of the commit under way, by bid. */
  private readonly droppedRefs = new Map<number, number>();
  /** Queue usage of 1:1 messages (quotas), in memory and written once per commit per queue. */
  readonly usage: QueueUsage;
  /** Each queue's fan-out copies and their bytes, in memory only (rebuilt when opened). */
  readonly copies = new CopyIndex();
  /** 1:1 messages accepted and not yet written, waiting for their acks (held-messages.ts). */
  readonly held = new HeldMessages();
  private readonly ackWaitMs: number;
  private readonly maxHeldBytes: number;
  private readonly clock: () => number;
  private heldTimer: NodeJS.Timeout | undefined;
  /** Held messages that were acked, or written, since the store opened (for the relay's stats). */
  readonly heldCounts = { acked: 0, written: 0 };
  /** Queues deleted by the commit under way (rid hex), forgotten by `usage` once it commits. */
  private deletedQueues: string[] = [];
  /** The next seq of a message or a copy; one sequence for both tables. */
  private nextSeq: number;
  /**
   * Grows whenever a queue is created, secured or deleted, so that a sibling store's view
   * of queues (sqlite-fanout-store.ts: a list's targets) knows when to read them again.
   */
  queueGeneration = 0;
  private flushScheduled = false;
  /** Whether commits are fsynced now (synchronous = FULL), see commitPending. */
  private synchronous = true;
  private closed = false;
  private readonly inSavepoint: (run: () => unknown) => unknown;
  private readonly pageSize: number;

  private readonly stmt: {
    queueByRid: Database.Statement<[Uint8Array], QueueRow>;
    queueBySid: Database.Statement<[Uint8Array], QueueRow>;
    queueUsage: Database.Statement<[Uint8Array], { msg_count: number; msg_bytes: number }>;
    queueSk: Database.Statement<[Uint8Array], QueueKeyRow>;
    saveSeq: Database.Statement<[number]>;
    copyRow: Database.Statement<[number, Uint8Array, Uint8Array], { bid: number; len: number | null }>;
    copyMid: Database.Statement<[number], { mid: Buffer }>;
    copyBySeq: Database.Statement<[number], { expires: number; len: number }>;
    deleteCopyBySeq: Database.Statement<[number]>;
    readCopy: Database.Statement<[number], { mid: Buffer; ts: number; expires: number; body: Buffer }>;
    expiredBodies: Database.Statement<
      [number, number],
      { bid: number; len: number; first: number; last: number }
    >;
    deleteCopiesOfBody: Database.Statement<[number, number, number], { seq: number; rid: Buffer }>;
    deleteBody: Database.Statement<[number]>;
    dropRefs: Database.Statement<[number, number], { refs: number }>;
    pendingCount: Database.Statement<[Uint8Array, number], { n: number }>;
    messagesAfter: Database.Statement<
      [{ rid: Uint8Array; after: number; now: number; limit: number }],
      MessageRow
    >;
    insertQueue: Database.Statement<
      [Uint8Array, Uint8Array, Uint8Array, Uint8Array | null, Uint8Array, number]
    >;
    setSk: Database.Statement<[Uint8Array, Uint8Array]>;
    deleteQueue: Database.Statement<[Uint8Array], { msg_count: number }>;
    insertMessage: Database.Statement<[number, Uint8Array, Uint8Array, number, number, Uint8Array]>;
    addUsage: Database.Statement<[number, number, Uint8Array]>;
    deleteMessage: Database.Statement<[Uint8Array, Uint8Array], { len: number }>;
    expiredInQueue: Database.Statement<[Uint8Array, number], { n: number; b: number }>;
    deleteExpiredInQueue: Database.Statement<[Uint8Array, number]>;
    expiredChunk: Database.Statement<[number, number], { seq: number; rid: Buffer; len: number }>;
    deleteBySeq: Database.Statement<[number]>;
  };

  constructor(opts: SqliteQueueStoreOptions) {
    this.limits = { maxQueueMessages: opts.maxQueueMessages, maxQueueBytes: opts.maxQueueBytes };
    this.ackWaitMs = opts.ackWaitMs ?? 0;
    this.maxHeldBytes = opts.maxHeldBytes ?? 64 * 1024 * 1024;
    this.clock = opts.clock ?? (() => performance.now());
    try {
      // One connection only; the busy timeout matters just for a second relay on the same file.
      if (opts.path !== ':memory:') preparePrivateDatabase(opts.path);
      this.db = new Database(opts.path, { timeout: 500 });
    } catch (cause) {
      throw new StorageError('cannot open the queue database', { cause });
    }
    try {
      // Exclusive locking must come before WAL mode, so no shared-memory index is used.
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.pragma('foreign_keys = ON');
      if (opts.cacheKiB !== undefined) this.db.pragma(`cache_size = -${Math.floor(opts.cacheKiB)}`);
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new StorageError('queue database is from a newer relay');
      // Version 1 has no shared bodies yet: SCHEMA adds what it lacks.
      if (version === 2 || version === 3) {
        this.db.transaction(() => {
          if (version === 2) this.db.exec(MIGRATE_2_TO_3);
          this.db.exec(MIGRATE_3_TO_4);
        })();
      }
      this.db.exec(SCHEMA);
      // Also a write, which takes the exclusive lock now rather than at the first message.
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    } catch (cause) {
      this.db.close();
      if (cause instanceof StorageError) throw cause;
      const busy = (cause as { code?: unknown }).code === 'SQLITE_BUSY';
      throw new StorageError(
        busy ? 'queue database is in use by another relay' : 'cannot prepare the queue database',
        {
          cause,
        },
      );
    }
    const db = this.db;
    this.stmt = {
      queueByRid: db.prepare('SELECT rid, sid, rk, sk, qkey, created FROM queues WHERE rid = ?'),
      queueBySid: db.prepare('SELECT rid, sid, rk, sk, qkey, created FROM queues WHERE sid = ?'),
      queueUsage: db.prepare('SELECT msg_count, msg_bytes FROM queues WHERE rid = ?'),
      queueSk: db.prepare('SELECT sk FROM queues WHERE rid = ?'),
      saveSeq: db.prepare("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'messages'"),
      // A read, then a delete by seq: cheaper than one DELETE … RETURNING, which SQLite
      // runs through a temporary table.
      copyRow: db.prepare(
        'SELECT c.bid AS bid, length(b.body) AS len FROM copies c LEFT JOIN bodies b ON b.bid = c.bid ' +
          'WHERE c.seq = ? AND c.rid = ? AND c.mid = ?',
      ),
      copyMid: db.prepare('SELECT mid FROM copies WHERE seq = ?'),
      copyBySeq: db.prepare(
        'SELECT b.expires AS expires, length(b.body) AS len FROM copies c JOIN bodies b ON b.bid = c.bid WHERE c.seq = ?',
      ),
      deleteCopyBySeq: db.prepare('DELETE FROM copies WHERE seq = ?'),
      readCopy: db.prepare(
        'SELECT c.mid AS mid, b.ts AS ts, b.expires AS expires, b.body AS body FROM copies c ' +
          'JOIN bodies b ON b.bid = c.bid WHERE c.seq = ?',
      ),
      expiredBodies: db.prepare(
        'SELECT bid, length(body) AS len, first, last FROM bodies WHERE expires <= ? ORDER BY expires LIMIT ?',
      ),
      deleteCopiesOfBody: db.prepare(
        'DELETE FROM copies WHERE seq BETWEEN ? AND ? AND bid = ? RETURNING seq, rid',
      ),
      deleteBody: db.prepare('DELETE FROM bodies WHERE bid = ?'),
      dropRefs: db.prepare('UPDATE bodies SET refs = refs - ? WHERE bid = ? RETURNING refs'),
      pendingCount: db.prepare('SELECT COUNT(*) AS n FROM messages WHERE rid = ? AND expires > ?'),
      messagesAfter: db.prepare(
        'SELECT seq, mid, ts, expires, body, 0 AS shared FROM messages ' +
          'WHERE rid = @rid AND seq > @after AND expires > @now ORDER BY seq LIMIT @limit',
      ),
      insertQueue: db.prepare(
        'INSERT INTO queues (rid, sid, rk, sk, qkey, created) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      setSk: db.prepare('UPDATE queues SET sk = ? WHERE rid = ?'),
      deleteQueue: db.prepare('DELETE FROM queues WHERE rid = ? RETURNING msg_count'),
      insertMessage: db.prepare(
        'INSERT INTO messages (seq, rid, mid, ts, expires, body) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      addUsage: db.prepare(
        'UPDATE queues SET msg_count = msg_count + ?, msg_bytes = msg_bytes + ? WHERE rid = ?',
      ),
      deleteMessage: db.prepare(
        'DELETE FROM messages WHERE mid = ? AND rid = ? RETURNING length(body) AS len',
      ),
      expiredInQueue: db.prepare(
        'SELECT COUNT(*) AS n, COALESCE(SUM(length(body)), 0) AS b FROM messages WHERE rid = ? AND expires <= ?',
      ),
      deleteExpiredInQueue: db.prepare('DELETE FROM messages WHERE rid = ? AND expires <= ?'),
      expiredChunk: db.prepare(
        'SELECT seq, rid, length(body) AS len FROM messages WHERE expires <= ? ORDER BY expires LIMIT ?',
      ),
      deleteBySeq: db.prepare('DELETE FROM messages WHERE seq = ?'),
    };
    const totals = db.prepare('SELECT COUNT(*) AS q, COALESCE(SUM(msg_count), 0) AS m FROM queues').get() as {
      q: number;
      m: number;
    };
    // Each queue's copies, in seq order, with the bytes they count for in its quota.
    const held = db
      .prepare(
        'SELECT c.seq AS seq, c.rid AS rid, length(b.body) AS len FROM copies c JOIN bodies b ON b.bid = c.bid ORDER BY c.seq',
      )
      .iterate() as IterableIterator<{ seq: number; rid: Buffer; len: number }>;
    for (const row of held) this.copies.restore(row.rid.toString('hex'), row.seq, row.len);
    this.totals = { queues: totals.q, messages: totals.m + this.copies.size };
    this.pageSize = db.pragma('page_size', { simple: true }) as number;
    this.inSavepoint = db.transaction((run: () => unknown) => run());
    this.usage = new QueueUsage((rid) => {
      const row = this.stmt.queueUsage.get(rid);
      return row ? { n: row.msg_count, b: row.msg_bytes } : undefined;
    });
    // Messages take seqs from AUTOINCREMENT's counter, copies too (saved with each fan-out).
    db.prepare(
      "INSERT INTO sqlite_sequence (name, seq) SELECT 'messages', 0 WHERE NOT EXISTS " +
        "(SELECT 1 FROM sqlite_sequence WHERE name = 'messages')",
    ).run();
    const last = db
      .prepare(
        "SELECT max((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), " +
          'COALESCE((SELECT max(seq) FROM copies), 0)) AS s',
      )
      .get() as { s: number };
    this.nextSeq = last.s + 1;
    this.sealShared = opts.sealShared;
  }

  private readonly sealShared: SqliteQueueStoreOptions['sealShared'];

  /** The database, for a store that keeps its tables beside these (sqlite-fanout-store.ts). */
  get database(): Database.Database {
    if (this.closed) throw new StorageError('queue store is closed');
    return this.db;
  }

  /**
   * Queues a mutation of such a store into this one's group commit, in its own savepoint,
   * so its writes and these commit together and in call order.
   */
  sharedWrite<T>(run: (delta: Delta) => T): Promise<T> {
    return this.write(run);
  }

  /**
   * `n` consecutive seqs for the write under way (a sibling store's copies); saved in the
   * database with it, so that no seq is given twice, not even after a restart.
   */
  takeSeqs(n: number): number {
    const first = this.nextSeq;
    this.nextSeq += n;
    this.stmt.saveSeq.run(this.nextSeq - 1);
    return first;
  }

  // ---- Reads: synchronous in SQLite, promised for the interface ------------------------

  async queueByRid(rid: Uint8Array): Promise<QueueRecord | undefined> {
    return this.cachedQueue('r', rid, () => this.stmt.queueByRid.get(rid));
  }

  async queueBySid(sid: Uint8Array): Promise<QueueRecord | undefined> {
    return this.cachedQueue('s', sid, () => this.stmt.queueBySid.get(sid));
  }

  /**
   * Every send and every ack looks its queue up; the records of busy queues are kept in a
   * bounded LRU map. Only this store changes queues, and it evicts a record when it runs the
   * change (secure, delete), so the cache never says more than the database does.
   */
  private readonly queueCache = new Map<string, QueueRecord>();

  private cachedQueue(
    kind: 'r' | 's',
    id: Uint8Array,
    load: () => QueueRow | undefined,
  ): QueueRecord | undefined {
    const key = kind + toHex(id);
    const hit = this.queueCache.get(key);
    if (hit) {
      this.queueCache.delete(key);
      this.queueCache.set(key, hit);
      return hit;
    }
    const row = this.read(load);
    if (!row) return undefined;
    const queue = toQueue(row);
    this.queueCache.set(key, queue);
    if (this.queueCache.size > QUEUE_CACHE_MAX) {
      const oldest = this.queueCache.keys().next().value;
      if (oldest !== undefined) this.queueCache.delete(oldest);
    }
    return queue;
  }

  private forgetQueue(rid: Uint8Array): void {
    const row = this.stmt.queueByRid.get(rid);
    const sid = this.queueCache.get('r' + toHex(rid))?.sid ?? (row ? bytes(row.sid) : undefined);
    this.queueCache.delete('r' + toHex(rid));
    if (sid) this.queueCache.delete('s' + toHex(sid));
  }

  async pendingCount(rid: Uint8Array, now: number): Promise<number> {
    return this.read(() => {
      const key = toHex(rid);
      let n = (this.stmt.pendingCount.get(rid, now)?.n ?? 0) + this.held.held(key).n;
      for (const seq of this.copies.seqsOf(key)) {
        if ((this.stmt.copyBySeq.get(seq)?.expires ?? 0) > now) n += 1;
      }
      return n;
    });
  }

  /** A queue's usage, 1:1 messages and fan-out copies together; undefined when it has no row. */
  heldBy(key: string, rid: Uint8Array): { n: number; b: number } | undefined {
    const usage = this.usage.get(key, rid);
    if (!usage) return undefined;
    const copies = this.copies.held(key);
    const held = this.held.held(key);
    return { n: usage.n + copies.n + held.n, b: usage.b + copies.b + held.b };
  }

  async messagesAfter(
    rid: Uint8Array,
    afterSeq: number,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]> {
    return this.read(() => {
      const rows = this.stmt.messagesAfter.all({ rid, after: afterSeq, now, limit });
      // Up to `limit` of the queue's live copies after the cursor (expired ones skipped, so
      // read on past them), merged with the messages in seq order.
      const key = toHex(rid);
      let cursor = afterSeq;
      let want = limit;
      while (want > 0) {
        const seqs = this.copies.after(key, cursor, want);
        for (const seq of seqs) {
          const copy = this.stmt.readCopy.get(seq);
          if (!copy || copy.expires <= now) continue;
          rows.push({ seq, mid: copy.mid, ts: copy.ts, expires: copy.expires, body: copy.body, shared: 1 });
          want -= 1;
        }
        if (seqs.length === 0) break;
        cursor = seqs[seqs.length - 1]!;
      }
      rows.sort((a, b) => a.seq - b.seq);
      if (rows.length > limit) rows.length = limit;
      let queue: QueueRecord | undefined;
      const stored = rows.map((row): StoredMessage => {
        const mid = bytes(row.mid);
        let body = bytes(row.body);
        if (row.shared === 1) {
          queue ??= this.cachedQueue('r', rid, () => this.stmt.queueByRid.get(rid));
          if (!queue || !this.sealShared) throw new StorageError('cannot seal a shared body');
          body = this.sealShared(queue.queueKey, mid, body);
        }
        return { seq: row.seq, rid, mid, ts: row.ts, expires: row.expires, body };
      });
      // Messages accepted and not yet written come after none of these in particular: merge.
      const held = this.held.after(key, afterSeq, limit);
      if (held.length === 0) return stored;
      const merged = [...stored, ...held].sort((a, b) => a.seq - b.seq);
      if (merged.length > limit) merged.length = limit;
      return merged;
    });
  }

  counts(): StoreCounts {
    return { ...this.totals };
  }

  /**
   * Bytes of the database in use: its pages less the free ones (what deletes gave back and
   * new rows reuse), as this connection sees it, write-ahead log included.
   */
  storedBytes(): number {
    return this.read(() => {
      const pages = this.db.pragma('page_count', { simple: true }) as number;
      const free = this.db.pragma('freelist_count', { simple: true }) as number;
      return (pages - free) * this.pageSize;
    });
  }

  // ---- Mutations: queued, committed together -----------------------------------------

  createQueue(queue: QueueRecord): Promise<void> {
    return this.write((delta) => {
      try {
        this.stmt.insertQueue.run(queue.rid, queue.sid, queue.rk, queue.sk, queue.queueKey, queue.created);
      } catch (cause) {
        throw new StorageError('queue id already in use', { cause });
      }
      this.queueGeneration += 1;
      delta.queues += 1;
    });
  }

  secureQueue(rid: Uint8Array, sk: Uint8Array): Promise<SecureResult> {
    return this.write((): SecureResult => {
      const row = this.stmt.queueSk.get(rid);
      if (!row) throw new NotFoundError('no such queue');
      if (row.sk === null) {
        this.forgetQueue(rid);
        this.queueGeneration += 1;
        this.stmt.setSk.run(sk, rid);
        return 'secured';
      }
      if (sameKey(bytes(row.sk), sk)) return 'unchanged';
      throw new ProtocolError('queue is already secured with another sender key');
    });
  }

  deleteQueue(rid: Uint8Array): Promise<void> {
    return this.write((delta) => {
      this.forgetQueue(rid);
      this.queueGeneration += 1;
      const key = toHex(rid);
      const held = this.heldBy(key, rid)?.n ?? 0;
      if (!this.stmt.deleteQueue.get(rid)) throw new NotFoundError('no such queue');
      // Its messages not yet written go too; their senders' waits end (accepted, then deleted).
      this.held.takeQueue(key);
      // Its copies go; their bodies lose the references with the purge (or the last ack).
      for (const seq of this.copies.seqsOf(key)) this.stmt.deleteCopyBySeq.run(seq);
      this.copies.dropQueue(key);
      this.deletedQueues.push(key);
      delta.queues -= 1;
      delta.messages -= held;
    });
  }

  append(message: NewMessage, opts: AppendOptions): Promise<StoredMessage> {
    return this.write((delta): StoredMessage => {
      const key = toHex(message.rid);
      this.checkedAppend(key, message, opts, delta);
      const seq = this.nextSeq++;
      this.stmt.insertMessage.run(seq, message.rid, message.mid, message.ts, message.expires, message.body);
      this.usage.add(key, message.rid, 1, message.body.length);
      delta.messages += 1;
      return { ...message, seq };
    });
  }

  /**
   * The checks of a message going into its queue, inside a write: the queue exists, its
   * sender key is the one checked, and the message fits its quota (expired messages purged
   * first when it does not). Returns the message.
   */
  private checkedAppend(key: string, message: NewMessage, opts: AppendOptions, delta: Delta): NewMessage {
    const usage = this.heldBy(key, message.rid);
    if (!usage) throw new NotFoundError('no such queue');
    // A cached record is what the database says: the write that secures or deletes a queue
    // evicts it as it runs (forgetQueue), so a send to a busy queue reads nothing here
    // (docs/decisions/0051).
    const cached = this.queueCache.get('r' + key);
    let sk: Uint8Array | null;
    if (cached) sk = cached.sk;
    else {
      const row = this.stmt.queueSk.get(message.rid);
      if (!row) throw new NotFoundError('no such queue');
      sk = row.sk === null ? null : bytes(row.sk);
    }
    if (!sameKey(sk, opts.checkedSk)) {
      throw new AuthError('queue was secured with another sender key');
    }
    let { n: count, b: size } = usage;
    if (!this.fits(count, size, message.body.length)) {
      // Expired messages still count until the periodic purge; drop them before refusing.
      const freed = this.purgeQueue(message.rid, message.ts, delta);
      count -= freed.n;
      size -= freed.b;
      if (!this.fits(count, size, message.body.length)) throw new QuotaError('queue is full');
    }
    return message;
  }

  /** Whether the message fits its queue's quota as things are (no purge needed). */
  private fitsNow(key: string, message: NewMessage): boolean {
    const usage = this.heldBy(key, message.rid);
    return usage !== undefined && this.fits(usage.n, usage.b, message.body.length);
  }

  accept(message: NewMessage, opts: AppendOptions): Promise<Accepted> {
    if (this.ackWaitMs <= 0) {
      return this.append(message, opts).then((stored) => ({ message: stored, settled: Promise.resolve() }));
    }
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const settled = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // The sender waits on it; a relay that drops the sender meanwhile must not see it unhandled.
    settled.catch(() => {});
    const key = toHex(message.rid);
    return this.write(
      (delta): Accepted => {
        const stored: StoredMessage = {
          ...this.checkedAppend(key, message, opts, delta),
          seq: this.nextSeq++,
        };
        this.held.add({ message: stored, key, since: this.clock(), resolve, reject });
        delta.messages += 1;
        return { message: stored, settled };
      },
      // Nothing is written now, unless the queue is full and expired messages go first.
      { sync: false, oneChange: () => this.fitsNow(key, message) },
    );
  }

  /**
   * A held message that will not be acked soon (nobody took it: its recipient is offline, or
   * its window full): written with the next commit instead of waiting its ackWaitMs.
   */
  writeSoon(message: StoredMessage): void {
    if (!this.held.expedite(message.seq)) return;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        this.commitPending();
      });
    }
  }

  deleteMessage(rid: Uint8Array, mid: Uint8Array, seq?: number): Promise<void> {
    return this.deleteMessages(rid, [seq === undefined ? { mid } : { mid, seq }]);
  }

  deleteMessages(rid: Uint8Array, acks: ReadonlyArray<{ mid: Uint8Array; seq?: number }>): Promise<void> {
    return this.write(
      (delta) => {
        const key = toHex(rid);
        // References dropped only once every id was found: a batch is all or nothing.
        const drops: number[] = [];
        for (const { mid, seq } of acks) {
          const bid = this.deleteOne(rid, key, mid, seq);
          if (bid !== undefined) drops.push(bid);
          delta.messages -= 1;
        }
        // A shared body loses a reference per copy; refs are counted down once per commit and
        // body (a fan-out's acks come together), in the same transaction. Last, so that a
        // write that fails never drops one.
        for (const bid of drops) this.droppedRefs.set(bid, (this.droppedRefs.get(bid) ?? 0) + 1);
      },
      // deleteOne deletes one row, in its last statement, or throws before any: a batch of
      // one (most acks of a fan-out's copies) needs no savepoint.
      { sync: false, oneChange: acks.length === 1 },
    );
  }

  /**
   * Deletes one message or copy of the queue, inside a write; resolves to the body a copy
   * named. NotFoundError when the queue has no such message.
   */
  private deleteOne(
    rid: Uint8Array,
    key: string,
    mid: Uint8Array,
    seq: number | undefined,
  ): number | undefined {
    // A message accepted and not yet written is acked in memory: it never reaches the disk.
    if (this.held.take(key, mid, seq)) return undefined;
    // A copy delivered on this relay run is found by its seq (the subscription's hint); a
    // 1:1 message by its id; a copy delivered before a restart by its id among the queue's
    // copies (a bounded queue).
    const hinted = seq === undefined ? undefined : this.stmt.copyRow.get(seq, rid, mid);
    if (!hinted) {
      const message = this.stmt.deleteMessage.get(mid, rid);
      if (message) {
        if (this.usage.get(key, rid)) this.usage.add(key, rid, -1, -message.len);
        return undefined;
      }
    }
    const at = hinted ? seq : this.findCopy(key, mid);
    const copy = hinted ?? (at === undefined ? undefined : this.stmt.copyRow.get(at, rid, mid));
    if (!copy || at === undefined) throw new NotFoundError('no such message in this queue');
    this.stmt.deleteCopyBySeq.run(at);
    this.copies.remove(key, at, copy.len ?? 0);
    return copy.bid;
  }

  async purgeExpired(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.write((delta) => {
        let deleted = 0;
        const rows = this.stmt.expiredChunk.all(now, PURGE_CHUNK);
        for (const row of rows) {
          this.stmt.deleteBySeq.run(row.seq);
          const r = bytes(row.rid);
          const key = toHex(r);
          if (this.usage.get(key, r)) this.usage.add(key, r, -1, -row.len);
          deleted += 1;
        }
        // Expired bodies go with every copy naming them (a body has at most a list's entries,
        // in its own range of seqs).
        const bodies = this.stmt.expiredBodies.all(now, BODY_PURGE_CHUNK);
        for (const body of bodies) {
          for (const copy of this.stmt.deleteCopiesOfBody.all(body.first, body.last, body.bid)) {
            this.copies.remove(copy.rid.toString('hex'), copy.seq, body.len);
            deleted += 1;
          }
          this.stmt.deleteBody.run(body.bid);
        }
        delta.messages -= deleted;
        return { deleted, more: rows.length === PURGE_CHUNK || bodies.length === BODY_PURGE_CHUNK };
      });
      total += n.deleted;
      if (!n.more) return total;
    }
  }

  /** Commits what is queued and writes every held message. */
  async flush(): Promise<void> {
    this.commitPending(true);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commitPending(true);
    clearTimeout(this.heldTimer);
    this.heldTimer = undefined;
    this.closed = true;
    this.db.close();
  }

  // ---- Internals ----------------------------------------------------------------------

  private fits(count: number, size: number, extra: number): boolean {
    return count + 1 <= this.limits.maxQueueMessages && size + extra <= this.limits.maxQueueBytes;
  }

  /** Deletes a queue's expired messages; for a sibling store's write (sqlite-fanout-store.ts) too. */
  purgeQueue(rid: Uint8Array, now: number, delta: Delta): { n: number; b: number } {
    const messages = this.stmt.expiredInQueue.get(rid, now) ?? { n: 0, b: 0 };
    if (messages.n > 0) this.stmt.deleteExpiredInQueue.run(rid, now);
    const key = toHex(rid);
    if (messages.n > 0 && this.usage.get(key, rid)) this.usage.add(key, rid, -messages.n, -messages.b);
    // Copies expire with their bodies, oldest first: stop at the first one still alive.
    const copies = { n: 0, b: 0 };
    for (const seq of [...this.copies.seqsOf(key)]) {
      const copy = this.stmt.copyBySeq.get(seq);
      if (copy && copy.expires > now) break;
      this.stmt.deleteCopyBySeq.run(seq);
      this.copies.remove(key, seq, copy?.len ?? 0);
      copies.n += 1;
      copies.b += copy?.len ?? 0;
    }
    const expired = { n: messages.n + copies.n, b: messages.b + copies.b };
    delta.messages -= expired.n;
    return expired;
  }

  /** The seq of copy `mid` among the queue's copies (an ack that came without a seq hint). */
  private findCopy(key: string, mid: Uint8Array): number | undefined {
    for (const seq of this.copies.seqsOf(key)) {
      const row = this.stmt.copyMid.get(seq);
      if (row && sameKey(bytes(row.mid), mid)) return seq;
    }
    return undefined;
  }

  private read<T>(run: () => T): T {
    if (this.closed) throw new StorageError('queue store is closed');
    try {
      return run();
    } catch (cause) {
      throw new StorageError('queue database read failed', { cause });
    }
  }

  private write<T>(
    run: (delta: Delta) => T,
    { sync = true, oneChange = false }: { sync?: boolean; oneChange?: boolean | (() => boolean) } = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, sync, oneChange, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.commitPending();
        });
      }
    });
  }

  /** A commit when the oldest held message has waited its ackWaitMs. */
  private scheduleHeld(): void {
    if (this.heldTimer !== undefined || this.closed) return;
    const oldest = this.held.oldestSince();
    if (oldest === undefined) return;
    const wait = Math.max(1, Math.ceil(oldest + this.ackWaitMs - this.clock()));
    this.heldTimer = setTimeout(() => {
      this.heldTimer = undefined;
      this.commitPending();
    }, wait);
  }

  /**
   * Group commit: one transaction for everything queued, one savepoint per mutation; then
   * the held messages that waited their ackWaitMs (all of them with `all`, or when they hold
   * more than maxHeldBytes) are written in the same transaction.
   */
  private commitPending(all = false): void {
    if (this.closed) return;
    const now = this.clock();
    const allHeld = all || this.held.bytes + this.held.size * HELD_OVERHEAD_BYTES > this.maxHeldBytes;
    const oldest = this.held.oldestSince();
    const heldDue =
      oldest !== undefined && (allHeld || oldest <= now - this.ackWaitMs || this.held.expedited > 0);
    if (this.pending.length === 0 && !heldDue) return this.scheduleHeld();
    const batch = this.pending;
    this.pending = [];
    // A commit of acks alone (deletes) is not fsynced: it becomes durable with the next
    // commit that is (an fsync flushes every earlier WAL frame) or the next checkpoint. A
    // power cut before that only brings acked messages back, which recipients deduplicate
    // (DESIGN.md "Delivery"); whatever stores a message is fsynced before it is answered.
    const sync = heldDue || batch.some((w) => w.sync);
    if (sync !== this.synchronous) {
      this.db.pragma(`synchronous = ${sync ? 'FULL' : 'NORMAL'}`);
      this.synchronous = sync;
    }
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const committed: Delta = { queues: 0, messages: 0 };
    const deleted: string[] = [];
    let written: HeldMessage[] = [];
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          const delta: Delta = { queues: 0, messages: 0 };
          try {
            // A savepoint per mutation, so that one that fails changes nothing; a mutation of
            // one change is atomic as its statement is (SQLite undoes a failed statement).
            const one = typeof write.oneChange === 'function' ? write.oneChange() : write.oneChange;
            const value = one ? write.run(delta) : this.inSavepoint(() => write.run(delta));
            this.usage.keepMutation();
            this.copies.keepMutation();
            this.held.keepMutation();
            deleted.push(...this.deletedQueues);
            this.deletedQueues = [];
            committed.queues += delta.queues;
            committed.messages += delta.messages;
            outcomes.push({ ok: true, value });
          } catch (error) {
            this.usage.undoMutation();
            this.copies.undoMutation();
            this.held.undoMutation();
            this.deletedQueues = [];
            outcomes.push({
              ok: false,
              error:
                error instanceof ParusError
                  ? error
                  : new StorageError('queue database write failed', { cause: error }),
            });
          }
        }
        // After this batch's acks took theirs: held messages not acked in time are written.
        if (heldDue) {
          written = this.held.takeDue(now - this.ackWaitMs, allHeld);
          for (const { message: m, key } of written) {
            this.stmt.insertMessage.run(m.seq, m.rid, m.mid, m.ts, m.expires, m.body);
            if (this.usage.get(key, m.rid)) this.usage.add(key, m.rid, 1, m.body.length);
          }
          this.usage.keepMutation();
        }
        for (const [bid, n] of this.droppedRefs) {
          const body = this.stmt.dropRefs.get(n, bid);
          if (body && body.refs <= 0) this.stmt.deleteBody.run(bid);
        }
        this.droppedRefs.clear();
        // Each queue's usage once, whatever number of messages and copies changed it.
        this.usage.flush((n, b, rid) => this.stmt.addUsage.run(n, b, rid));
      })();
      this.usage.committed();
      this.copies.committed();
      for (const key of deleted) this.usage.forget(key);
    } catch (cause) {
      this.droppedRefs.clear();
      this.usage.rolledBack();
      this.copies.rolledBack();
      this.held.rolledBack();
      this.queueGeneration += 1;
      const error = new StorageError('queue database commit failed', { cause });
      for (const write of batch) write.reject(error);
      // Held messages that could not be written are dropped: their senders get the error.
      this.totals.messages -= written.length;
      for (const h of written) h.reject(error);
      this.scheduleHeld();
      return;
    }
    this.totals.queues += committed.queues;
    this.totals.messages += committed.messages;
    // Acked (or deleted with their queue) before they were written: the senders' `ok` now.
    const skipped = this.held.committed();
    this.heldCounts.acked += skipped.length;
    this.heldCounts.written += written.length;
    for (const h of skipped) h.resolve();
    for (const h of written) h.resolve();
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
    this.scheduleHeld();
  }
}
