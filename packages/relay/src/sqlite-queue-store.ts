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
import type {
  AppendOptions,
  NewMessage,
  QueueRecord,
  QueueStore,
  SecureResult,
  StoreCounts,
  StoredMessage,
} from './queue-store.ts';

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
}

/** 2: shared bodies (`bodies`, `messages.bid`) for fan-out. */
const SCHEMA_VERSION = 2;

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
  body BLOB NOT NULL,
  bid INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages(rid, seq);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages(expires);
CREATE TABLE IF NOT EXISTS bodies (
  bid INTEGER PRIMARY KEY,
  refs INTEGER NOT NULL,
  expires INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS bodies_by_expiry ON bodies(expires);
`;

// A message stored by a fan-out (sqlite-fanout-store.ts) has an empty `body` and names its shared
// body in `bid`: the relay's plaintext CBOR {ts, body}, stored once and sealed per queue
// when it goes out (sealShared). `bodies.refs` counts the messages naming it; an ack
// lowers it and the last one deletes the body; messages deleted otherwise (with their
// queue, on expiry) leave it to the purge, which deletes bodies when they expire, at the
// same time as every message naming them.
const MIGRATE_1_TO_2 = 'ALTER TABLE messages ADD COLUMN bid INTEGER';
/** Bytes a message counts for in its queue's quota: its sealed body, or its shared one. */
const messageBytes = (m: string): string =>
  `CASE WHEN ${m}.bid IS NULL THEN length(${m}.body) ELSE (SELECT length(b.body) FROM bodies b WHERE b.bid = ${m}.bid) END`;

/** Expired messages deleted per transaction, so a large purge never stalls the relay long. */
const PURGE_CHUNK = 5_000;
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
  rid: Buffer;
  mid: Buffer;
  ts: number;
  expires: number;
  body: Buffer;
  /** The shared body, for a message stored by a fan-out. */
  shared: Buffer | null;
}
interface QueueUsageRow {
  sk: Buffer | null;
  msg_count: number;
  msg_bytes: number;
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

function toQueue(r: QueueRow): QueueRecord {
  return {
    rid: bytes(r.rid),
    sid: bytes(r.sid),
    rk: bytes(r.rk),
    sk: r.sk === null ? null : bytes(r.sk),
    queueKey: bytes(r.qkey),
    created: r.created,
  };
}

function toMessage(r: MessageRow): StoredMessage {
  return {
    seq: r.seq,
    rid: bytes(r.rid),
    mid: bytes(r.mid),
    ts: r.ts,
    expires: r.expires,
    body: bytes(r.body),
  };
}

/** Changes to the in-memory totals that one mutation makes, applied once it commits. */
export interface Delta {
  queues: number;
  messages: number;
}

interface PendingWrite {
  run(delta: Delta): unknown;
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
  private flushScheduled = false;
  private closed = false;
  private readonly inSavepoint: (run: () => unknown) => unknown;

  private readonly stmt: {
    queueByRid: Database.Statement<[Uint8Array], QueueRow>;
    queueBySid: Database.Statement<[Uint8Array], QueueRow>;
    queueUsage: Database.Statement<[Uint8Array], QueueUsageRow>;
    deleteBody: Database.Statement<[number]>;
    dropRefs: Database.Statement<[number, number], { refs: number }>;
    deleteExpiredBodies: Database.Statement<[number]>;
    pendingCount: Database.Statement<[Uint8Array, number], { n: number }>;
    messagesAfter: Database.Statement<[Uint8Array, number, number, number], MessageRow>;
    insertQueue: Database.Statement<
      [Uint8Array, Uint8Array, Uint8Array, Uint8Array | null, Uint8Array, number]
    >;
    setSk: Database.Statement<[Uint8Array, Uint8Array]>;
    deleteQueue: Database.Statement<[Uint8Array], { msg_count: number }>;
    insertMessage: Database.Statement<[Uint8Array, Uint8Array, number, number, Uint8Array], { seq: number }>;
    addUsage: Database.Statement<[number, number, Uint8Array]>;
    deleteMessage: Database.Statement<[Uint8Array, Uint8Array], { len: number; bid: number | null }>;
    expiredInQueue: Database.Statement<[Uint8Array, number], { n: number; b: number }>;
    deleteExpiredInQueue: Database.Statement<[Uint8Array, number]>;
    expiredChunk: Database.Statement<[number, number], { seq: number; rid: Buffer; len: number }>;
    deleteBySeq: Database.Statement<[number]>;
  };

  constructor(opts: SqliteQueueStoreOptions) {
    this.limits = { maxQueueMessages: opts.maxQueueMessages, maxQueueBytes: opts.maxQueueBytes };
    try {
      // One connection only; the busy timeout matters just for a second relay on the same file.
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
      const version = this.db.pragma('user_version', { simple: true }) as number;
      if (version > SCHEMA_VERSION) throw new StorageError('queue database is from a newer relay');
      if (version === 1) this.db.exec(MIGRATE_1_TO_2);
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
      queueUsage: db.prepare('SELECT sk, msg_count, msg_bytes FROM queues WHERE rid = ?'),
      deleteBody: db.prepare('DELETE FROM bodies WHERE bid = ?'),
      dropRefs: db.prepare('UPDATE bodies SET refs = refs - ? WHERE bid = ? RETURNING refs'),
      deleteExpiredBodies: db.prepare('DELETE FROM bodies WHERE expires <= ?'),
      pendingCount: db.prepare('SELECT COUNT(*) AS n FROM messages WHERE rid = ? AND expires > ?'),
      messagesAfter: db.prepare(
        'SELECT m.seq, m.rid, m.mid, m.ts, m.expires, m.body, b.body AS shared FROM messages m ' +
          'LEFT JOIN bodies b ON b.bid = m.bid WHERE m.rid = ? AND m.seq > ? AND m.expires > ? ORDER BY m.seq LIMIT ?',
      ),
      insertQueue: db.prepare(
        'INSERT INTO queues (rid, sid, rk, sk, qkey, created) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      setSk: db.prepare('UPDATE queues SET sk = ? WHERE rid = ?'),
      deleteQueue: db.prepare('DELETE FROM queues WHERE rid = ? RETURNING msg_count'),
      insertMessage: db.prepare(
        'INSERT INTO messages (rid, mid, ts, expires, body) VALUES (?, ?, ?, ?, ?) RETURNING seq',
      ),
      addUsage: db.prepare(
        'UPDATE queues SET msg_count = msg_count + ?, msg_bytes = msg_bytes + ? WHERE rid = ?',
      ),
      deleteMessage: db.prepare(
        `DELETE FROM messages WHERE mid = ? AND rid = ? RETURNING ${messageBytes('messages')} AS len, bid`,
      ),
      expiredInQueue: db.prepare(
        `SELECT COUNT(*) AS n, COALESCE(SUM(${messageBytes('m')}), 0) AS b FROM messages m WHERE rid = ? AND expires <= ?`,
      ),
      deleteExpiredInQueue: db.prepare('DELETE FROM messages WHERE rid = ? AND expires <= ?'),
      expiredChunk: db.prepare(
        `SELECT seq, rid, ${messageBytes('m')} AS len FROM messages m WHERE expires <= ? ORDER BY expires LIMIT ?`,
      ),
      deleteBySeq: db.prepare('DELETE FROM messages WHERE seq = ?'),
    };
    const totals = db.prepare('SELECT COUNT(*) AS q, COALESCE(SUM(msg_count), 0) AS m FROM queues').get() as {
      q: number;
      m: number;
    };
    this.totals = { queues: totals.q, messages: totals.m };
    this.inSavepoint = db.transaction((run: () => unknown) => run());
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

  /** The key a queue's messages are sealed with (cached), for a sibling store's deliveries. */
  queueKeyOf(rid: Uint8Array): Uint8Array | undefined {
    return this.cachedQueue('r', rid, () => this.stmt.queueByRid.get(rid))?.queueKey;
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
    return this.read(() => this.stmt.pendingCount.get(rid, now)?.n ?? 0);
  }

  async messagesAfter(
    rid: Uint8Array,
    afterSeq: number,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]> {
    return this.read(() => {
      const rows = this.stmt.messagesAfter.all(rid, afterSeq, now, limit);
      let queue: QueueRecord | undefined;
      return rows.map((row) => {
        const message = toMessage(row);
        if (row.shared !== null) {
          queue ??= this.cachedQueue('r', rid, () => this.stmt.queueByRid.get(rid));
          if (!queue || !this.sealShared) throw new StorageError('cannot seal a shared body');
          message.body = this.sealShared(queue.queueKey, message.mid, bytes(row.shared));
        }
        return message;
      });
    });
  }

  counts(): StoreCounts {
    return { ...this.totals };
  }

  // ---- Mutations: queued, committed together -----------------------------------------

  createQueue(queue: QueueRecord): Promise<void> {
    return this.write((delta) => {
      try {
        this.stmt.insertQueue.run(queue.rid, queue.sid, queue.rk, queue.sk, queue.queueKey, queue.created);
      } catch (cause) {
        throw new StorageError('queue id already in use', { cause });
      }
      delta.queues += 1;
    });
  }

  secureQueue(rid: Uint8Array, sk: Uint8Array): Promise<SecureResult> {
    return this.write((): SecureResult => {
      const usage = this.stmt.queueUsage.get(rid);
      if (!usage) throw new NotFoundError('no such queue');
      if (usage.sk === null) {
        this.forgetQueue(rid);
        this.stmt.setSk.run(sk, rid);
        return 'secured';
      }
      if (sameKey(bytes(usage.sk), sk)) return 'unchanged';
      throw new ProtocolError('queue is already secured with another sender key');
    });
  }

  deleteQueue(rid: Uint8Array): Promise<void> {
    return this.write((delta) => {
      this.forgetQueue(rid);
      const row = this.stmt.deleteQueue.get(rid);
      if (!row) throw new NotFoundError('no such queue');
      delta.queues -= 1;
      delta.messages -= row.msg_count;
    });
  }

  append(message: NewMessage, opts: AppendOptions): Promise<StoredMessage> {
    return this.write((delta): StoredMessage => {
      const usage = this.stmt.queueUsage.get(message.rid);
      if (!usage) throw new NotFoundError('no such queue');
      if (!sameKey(usage.sk === null ? null : bytes(usage.sk), opts.checkedSk)) {
        throw new AuthError('queue was secured with another sender key');
      }
      let { msg_count: count, msg_bytes: size } = usage;
      if (!this.fits(count, size, message.body.length)) {
        // Expired messages still count until the periodic purge; drop them before refusing.
        const freed = this.purgeQueue(message.rid, message.ts, delta);
        count -= freed.n;
        size -= freed.b;
        if (!this.fits(count, size, message.body.length)) throw new QuotaError('queue is full');
      }
      const row = this.stmt.insertMessage.get(
        message.rid,
        message.mid,
        message.ts,
        message.expires,
        message.body,
      );
      if (!row) throw new StorageError('message insert returned no row');
      this.stmt.addUsage.run(1, message.body.length, message.rid);
      delta.messages += 1;
      return { ...message, seq: row.seq };
    });
  }

  deleteMessage(rid: Uint8Array, mid: Uint8Array): Promise<void> {
    return this.write((delta) => {
      const row = this.stmt.deleteMessage.get(mid, rid);
      if (!row) throw new NotFoundError('no such message in this queue');
      this.stmt.addUsage.run(-1, -row.len, rid);
      // The shared body loses a reference; refs are counted down once per commit and body
      // (a fan-out's acks come together), in the same transaction. Last, so that a write
      // that fails never drops one.
      if (row.bid !== null) this.droppedRefs.set(row.bid, (this.droppedRefs.get(row.bid) ?? 0) + 1);
      delta.messages -= 1;
    });
  }

  async purgeExpired(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.write((delta) => {
        const rows = this.stmt.expiredChunk.all(now, PURGE_CHUNK);
        const perQueue = new Map<string, { rid: Buffer; n: number; b: number }>();
        for (const row of rows) {
          this.stmt.deleteBySeq.run(row.seq);
          const key = row.rid.toString('hex');
          const usage = perQueue.get(key) ?? { rid: row.rid, n: 0, b: 0 };
          usage.n += 1;
          usage.b += row.len;
          perQueue.set(key, usage);
        }
        for (const usage of perQueue.values()) this.stmt.addUsage.run(-usage.n, -usage.b, usage.rid);
        // Every message naming a body expires with it (sqlite-fanout-store.ts), so this frees no body in use.
        if (rows.length < PURGE_CHUNK) this.stmt.deleteExpiredBodies.run(now);
        delta.messages -= rows.length;
        return rows.length;
      });
      total += n;
      if (n < PURGE_CHUNK) return total;
    }
  }

  async flush(): Promise<void> {
    this.commitPending();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.commitPending();
    this.closed = true;
    this.db.close();
  }

  // ---- Internals ----------------------------------------------------------------------

  private fits(count: number, size: number, extra: number): boolean {
    return count + 1 <= this.limits.maxQueueMessages && size + extra <= this.limits.maxQueueBytes;
  }

  /** Deletes a queue's expired messages; for a sibling store's write (sqlite-fanout-store.ts) too. */
  purgeQueue(rid: Uint8Array, now: number, delta: Delta): { n: number; b: number } {
    const expired = this.stmt.expiredInQueue.get(rid, now) ?? { n: 0, b: 0 };
    if (expired.n > 0) {
      this.stmt.deleteExpiredInQueue.run(rid, now);
      this.stmt.addUsage.run(-expired.n, -expired.b, rid);
      delta.messages -= expired.n;
    }
    return expired;
  }

  private read<T>(run: () => T): T {
    if (this.closed) throw new StorageError('queue store is closed');
    try {
      return run();
    } catch (cause) {
      throw new StorageError('queue database read failed', { cause });
    }
  }

  private write<T>(run: (delta: Delta) => T): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => {
          this.flushScheduled = false;
          this.commitPending();
        });
      }
    });
  }

  /** Group commit: one transaction for everything queued, one savepoint per mutation. */
  private commitPending(): void {
    if (this.closed || this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    const committed: Delta = { queues: 0, messages: 0 };
    try {
      this.db.transaction(() => {
        for (const write of batch) {
          const delta: Delta = { queues: 0, messages: 0 };
          try {
            const value = this.inSavepoint(() => write.run(delta));
            committed.queues += delta.queues;
            committed.messages += delta.messages;
            outcomes.push({ ok: true, value });
          } catch (error) {
            outcomes.push({
              ok: false,
              error:
                error instanceof ParusError
                  ? error
                  : new StorageError('queue database write failed', { cause: error }),
            });
          }
        }
        for (const [bid, n] of this.droppedRefs) {
          const body = this.stmt.dropRefs.get(n, bid);
          if (body && body.refs <= 0) this.stmt.deleteBody.run(bid);
        }
        this.droppedRefs.clear();
      })();
    } catch (cause) {
      this.droppedRefs.clear();
      const error = new StorageError('queue database commit failed', { cause });
      for (const write of batch) write.reject(error);
      return;
    }
    this.totals.queues += committed.queues;
    this.totals.messages += committed.messages;
    batch.forEach((write, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) write.resolve(outcome.value);
      else write.reject(outcome.error);
    });
  }
}
