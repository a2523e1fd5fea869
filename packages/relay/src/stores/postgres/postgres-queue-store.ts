/**
 * QueueStore on PostgreSQL, for several relay processes behind one address
 * (docs/decisions/0047-postgresql-store.md). Same guarantees as the SQLite store:
 *
 * - Group commit: every mutation called during one event-loop turn is queued and run in a
 *   single transaction on the next `setImmediate`, one savepoint each (a failed one is rolled
 *   back alone); each caller's promise settles after COMMIT, which PostgreSQL makes durable
 *   (synchronous_commit). One batch is in flight at a time per process, so mutations apply
 *   in the order they were called; the next batch gathers meanwhile.
 * - Quotas in the database: a queue's row holds its message count and bytes, updated in the
 *   transaction that stores or deletes, under the row's lock, so the limits hold whichever
 *   process writes.
 * - Order: a message's seq is its queue's counter (`queues.last_seq`), taken under the same
 *   row lock, so a queue's messages commit in seq order even when processes interleave; a
 *   reader that saw seq n never later finds a smaller one committed.
 * - accept() writes before it answers (no messages held in memory waiting for their acks):
 *   the ack may reach another process, which must find the message in the database.
 * - Two processes' batches that lock the same queues in another order may deadlock;
 *   PostgreSQL aborts one, whose whole batch is run again.
 *
 * Fan-out copies (postgres-fanout-store.ts) are ordinary rows of `messages`, sealed for their
 * queue when stored.
 */
import type pg from 'pg';
import {
  AuthError,
  NotFoundError,
  ParusError,
  ProtocolError,
  QuotaError,
  StorageError,
  equalBytes,
  toHex,
} from '@parus/core';
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
import { PgDatabase, bytes, isRetryable, isUniqueViolation } from './pg-database.ts';

export interface PostgresQueueStoreOptions {
  db: PgDatabase;
  maxQueueMessages: number;
  maxQueueBytes: number;
  /** Seals a fan-out's shared body for one queue (core sealDeliveryPlaintext with a fresh nonce). */
  sealShared: (queueKey: Uint8Array, mid: Uint8Array, plaintext: Uint8Array) => Uint8Array;
  /** How often the totals and the stored bytes are read again (other processes change them). */
  refreshMs?: number;
}

/** Changes to the in-memory totals that one mutation makes, applied once it commits. */
export interface Delta {
  queues: number;
  messages: number;
}

/** Expired messages deleted per transaction. */
const PURGE_CHUNK = 5_000;
/** A batch that deadlocked is run again up to this many times. */
const MAX_RETRIES = 8;

interface QueueRow {
  rid: Buffer;
  sid: Buffer;
  rk: Buffer;
  sk: Buffer | null;
  qkey: Buffer;
  created: number;
}

/**
 * A write that a batch may do together with its neighbours of the same kind (one statement
 * for all of them, commitBatch) instead of with `run`.
 */
type Bulk =
  | { kind: 'append'; message: NewMessage; opts: AppendOptions }
  | { kind: 'delete'; rid: Uint8Array; mids: Uint8Array[] };

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** A queue locked for a batch's appends and acks (lockQueues), with what they change. */
interface LockedQueue {
  rid: Uint8Array;
  sk: Uint8Array | null;
  /** Messages and bytes, as the writes so far leave them. */
  n: number;
  b: number;
  /** The last seq given. */
  seq: number;
  added: number;
  addedBytes: number;
}

/** messagesAfter calls of one turn, read with one statement. */
interface AfterReads {
  rid: Uint8Array[];
  after: number[];
  limit: number[];
  now: number[];
  result: Promise<StoredMessage[][]> | undefined;
}

/** Queue lookups of one turn by one column, read with one statement. */
interface Lookups {
  keys: Uint8Array[];
  result: Promise<Map<string, QueueRecord>> | undefined;
}

interface PendingWrite {
  run(c: pg.PoolClient, delta: Delta): Promise<unknown>;
  bulk?: Bulk;
  /**
   * Needs no savepoint: it refuses (a ParusError) only before changing anything, or after
   * changes that stand anyway (an append that purged expired messages and is still full),
   * counted in its delta. A write that fails in the database makes the batch run again with
   * a savepoint for every write.
   */
  atomic: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
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

function sameKey(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && equalBytes(a, b);
}

export class PostgresQueueStore implements QueueStore {
  readonly db: PgDatabase;
  private readonly limits: { maxQueueMessages: number; maxQueueBytes: number };
  readonly sealShared: PostgresQueueStoreOptions['sealShared'];
  private readonly totals: StoreCounts = { queues: 0, messages: 0 };
  private bytesStored = 0;
  private pending: PendingWrite[] = [];
  private flushScheduled = false;
  /** The batch being committed, if any. */
  private inFlight: Promise<void> | undefined;
  private closed = false;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Settles after the last read called so far (see read). */
  private lastRead: Promise<void> = Promise.resolve();
  /** Reads of messages gathering in this turn (see messagesAfter). */
  private afterReads: AfterReads | undefined;
  /** Queue lookups gathering in this turn, by column (see lookup). */
  private lookups: { rid: Lookups | undefined; sid: Lookups | undefined } = {
    rid: undefined,
    sid: undefined,
  };
  /** No messages are held for their acks here (see the header); for the relay's stats. */
  readonly heldCounts = { acked: 0, written: 0 };

  private constructor(opts: PostgresQueueStoreOptions) {
    this.db = opts.db;
    this.limits = { maxQueueMessages: opts.maxQueueMessages, maxQueueBytes: opts.maxQueueBytes };
    this.sealShared = opts.sealShared;
  }

  static async open(opts: PostgresQueueStoreOptions): Promise<PostgresQueueStore> {
    const store = new PostgresQueueStore(opts);
    await store.refresh();
    const every = opts.refreshMs ?? 10_000;
    const tick = (): void => {
      if (store.closed) return;
      store.refreshTimer = setTimeout(() => {
        store.refresh().then(tick, tick);
      }, every);
      store.refreshTimer.unref();
    };
    tick();
    return store;
  }

  /** Reads the totals and the database's size again. */
  async refresh(): Promise<void> {
    if (this.closed) return;
    const r = await this.db.pool.query<{ queues: number; messages: number; size: number }>(
      'SELECT count(*)::int8 AS queues, COALESCE(sum(msg_count), 0)::int8 AS messages, ' +
        'pg_database_size(current_database())::int8 AS size FROM queues',
    );
    const row = r.rows[0]!;
    this.totals.queues = row.queues;
    this.totals.messages = row.messages;
    this.bytesStored = row.size;
  }

  // ---- Reads ---------------------------------------------------------------------------

  queueByRid(rid: Uint8Array): Promise<QueueRecord | undefined> {
    return this.lookup('rid', rid);
  }

  queueBySid(sid: Uint8Array): Promise<QueueRecord | undefined> {
    return this.lookup('sid', sid);
  }

  async pendingCount(rid: Uint8Array, now: number): Promise<number> {
    const r = await this.read<{ n: number }>(
      'SELECT count(*)::int8 AS n FROM messages WHERE rid = $1 AND expires > $2',
      [rid, now],
    );
    return r[0]?.n ?? 0;
  }

  /**
   * The reads of one event-loop turn (the subscriptions that a turn's hints and acks woke) go
   * as one statement; they settle in call order with the other reads.
   */
  messagesAfter(rid: Uint8Array, afterSeq: number, limit: number, now: number): Promise<StoredMessage[]> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    let batch = this.afterReads;
    if (!batch) {
      const fresh: AfterReads = { rid: [], after: [], limit: [], now: [], result: undefined };
      this.afterReads = batch = fresh;
      fresh.result = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.afterReads = undefined;
        const r = await this.db.pool.query<{
          i: number;
          seq: number;
          mid: Buffer;
          ts: number;
          expires: number;
          body: Buffer;
        }>({
          name: 'parus_messages_after',
          text:
            'SELECT x.i, m.seq, m.mid, m.ts, m.expires, m.body ' +
            'FROM unnest($1::bytea[], $2::int8[], $3::int4[], $4::int8[]) WITH ORDINALITY AS x(rid, after, lim, now, i) ' +
            'CROSS JOIN LATERAL (SELECT seq, mid, ts, expires, body FROM messages ' +
            'WHERE rid = x.rid AND seq > x.after AND expires > x.now ORDER BY seq LIMIT x.lim) m ORDER BY x.i, m.seq',
          values: [fresh.rid, fresh.after, fresh.limit, fresh.now],
        });
        const out: StoredMessage[][] = fresh.rid.map(() => []);
        for (const row of r.rows) {
          const at = row.i - 1;
          out[at]!.push({
            rid: fresh.rid[at]!,
            seq: row.seq,
            mid: bytes(row.mid),
            ts: row.ts,
            expires: row.expires,
            body: bytes(row.body),
          });
        }
        return out;
      });
    }
    const at = batch.rid.length;
    batch.rid.push(rid);
    batch.after.push(afterSeq);
    batch.limit.push(limit);
    batch.now.push(now);
    return this.ordered(
      batch.result!.then(
        (all) => all[at]!,
        (cause: unknown) => {
          throw new StorageError('queue database read failed', { cause });
        },
      ),
    );
  }

  counts(): StoreCounts {
    return { ...this.totals };
  }

  /** Bytes of the whole database (all processes' data), as last read (see refresh). */
  storedBytes(): number {
    return this.bytesStored;
  }

  // ---- Mutations -----------------------------------------------------------------------

  createQueue(queue: QueueRecord): Promise<void> {
    return this.write(async (c, delta) => {
      try {
        await c.query(
          'INSERT INTO queues (rid, sid, rk, sk, qkey, created) VALUES ($1, $2, $3, $4, $5, $6)',
          [queue.rid, queue.sid, queue.rk, queue.sk, queue.queueKey, queue.created],
        );
      } catch (cause) {
        if (isUniqueViolation(cause)) throw new StorageError('queue id already in use', { cause });
        throw cause;
      }
      delta.queues += 1;
      // A failed INSERT aborts the transaction unless it runs in a savepoint.
    }, false);
  }

  secureQueue(rid: Uint8Array, sk: Uint8Array): Promise<SecureResult> {
    return this.write(async (c): Promise<SecureResult> => {
      const r = await c.query<{ sk: Buffer | null }>('SELECT sk FROM queues WHERE rid = $1 FOR UPDATE', [
        rid,
      ]);
      const row = r.rows[0];
      if (!row) throw new NotFoundError('no such queue');
      if (row.sk !== null) {
        if (sameKey(bytes(row.sk), sk)) return 'unchanged';
        throw new ProtocolError('queue is already secured with another key');
      }
      await c.query('UPDATE queues SET sk = $1 WHERE rid = $2', [sk, rid]);
      return 'secured';
    });
  }

  deleteQueue(rid: Uint8Array): Promise<void> {
    return this.write(async (c, delta) => {
      const r = await c.query<{ msg_count: number }>(
        'DELETE FROM queues WHERE rid = $1 RETURNING msg_count',
        [rid],
      );
      const row = r.rows[0];
      if (!row) throw new NotFoundError('no such queue');
      delta.queues -= 1;
      delta.messages -= row.msg_count;
    });
  }

  append(message: NewMessage, opts: AppendOptions): Promise<StoredMessage> {
    return this.write((c, delta) => this.appendOne(c, delta, message, opts), true, {
      kind: 'append',
      message,
      opts,
    });
  }

  /** One append on its own (a batch run with savepoints; appendAll does a batch's appends together). */
  private async appendOne(
    c: pg.PoolClient,
    delta: Delta,
    message: NewMessage,
    opts: AppendOptions,
  ): Promise<StoredMessage> {
    const r = await c.query<{ sk: Buffer | null; msg_count: number; msg_bytes: number }>(
      'SELECT sk, msg_count, msg_bytes FROM queues WHERE rid = $1 FOR UPDATE',
      [message.rid],
    );
    const row = r.rows[0];
    if (!row) throw new NotFoundError('no such queue');
    if (!sameKey(row.sk === null ? null : bytes(row.sk), opts.checkedSk)) {
      throw new AuthError('queue was secured with another sender key');
    }
    if (!this.fits(row.msg_count, row.msg_bytes, message.body.length)) {
      // Expired messages still count until the periodic purge; drop them before refusing.
      const freed = await this.purgeQueue(c, message.rid, message.ts, delta);
      if (!this.fits(row.msg_count - freed.n, row.msg_bytes - freed.b, message.body.length)) {
        throw new QuotaError('queue is full');
      }
    }
    const ins = await c.query<{ seq: number }>(
      'WITH q AS (UPDATE queues SET msg_count = msg_count + 1, msg_bytes = msg_bytes + $2, ' +
        'last_seq = last_seq + 1 WHERE rid = $1 RETURNING last_seq) ' +
        'INSERT INTO messages (rid, seq, mid, ts, expires, body) SELECT $1, q.last_seq, $3, $4, $5, $6 FROM q ' +
        'RETURNING seq',
      [message.rid, message.body.length, message.mid, message.ts, message.expires, message.body],
    );
    delta.messages += 1;
    return { ...message, seq: ins.rows[0]!.seq };
  }

  /** Written before it resolves: an ack may come to another process (see the header). */
  async accept(message: NewMessage, opts: AppendOptions): Promise<Accepted> {
    const stored = await this.append(message, opts);
    return { message: stored, settled: Promise.resolve() };
  }

  /** Nothing is held in memory here: every accepted message is written already. */
  writeSoon(): void {}

  deleteMessage(rid: Uint8Array, mid: Uint8Array): Promise<void> {
    return this.deleteMessages(rid, [{ mid }]);
  }

  deleteMessages(rid: Uint8Array, acks: ReadonlyArray<{ mid: Uint8Array; seq?: number }>): Promise<void> {
    return this.write((c, delta) => this.deleteOne(c, delta, rid, acks), acks.length === 1, {
      kind: 'delete',
      rid,
      mids: acks.map((a) => a.mid),
    });
  }

  /** One ack request on its own (with savepoints; deleteAll does a batch's acks together). */
  private async deleteOne(
    c: pg.PoolClient,
    delta: Delta,
    rid: Uint8Array,
    acks: ReadonlyArray<{ mid: Uint8Array; seq?: number }>,
  ): Promise<void> {
    // One statement: the messages and their queue's usage. A batch is all or nothing: a
    // missing id throws, and the savepoint undoes the rest.
    const r = await c.query<{ n: number }>(
      'WITH d AS (DELETE FROM messages WHERE rid = $1 AND mid = ANY($2::bytea[]) RETURNING length(body) AS len), ' +
        's AS (SELECT count(*)::int8 AS n, COALESCE(sum(len), 0)::int8 AS b FROM d), ' +
        'u AS (UPDATE queues SET msg_count = msg_count - s.n, msg_bytes = msg_bytes - s.b FROM s ' +
        'WHERE rid = $1 AND s.n > 0) SELECT n FROM s',
      [rid, acks.map((a) => a.mid)],
    );
    const n = r.rows[0]?.n ?? 0;
    if (n !== acks.length) throw new NotFoundError('no such message in this queue');
    delta.messages -= n;
    // One ack that finds nothing changed nothing; a batch may have deleted some first.
  }

  async purgeExpired(now: number): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.write(async (c, delta) => {
        const r = await c.query<{ rid: Buffer; n: number; b: number }>(
          'WITH d AS (DELETE FROM messages WHERE ctid IN (SELECT ctid FROM messages WHERE expires <= $1 LIMIT $2) ' +
            'RETURNING rid, length(body) AS len) ' +
            'SELECT rid, count(*)::int8 AS n, sum(len)::int8 AS b FROM d GROUP BY rid ORDER BY rid',
          [now, PURGE_CHUNK],
        );
        let deleted = 0;
        if (r.rows.length > 0) {
          await c.query(
            'UPDATE queues q SET msg_count = q.msg_count - x.n, msg_bytes = q.msg_bytes - x.b ' +
              'FROM unnest($1::bytea[], $2::int8[], $3::int8[]) AS x(rid, n, b) WHERE q.rid = x.rid',
            [r.rows.map((x) => x.rid), r.rows.map((x) => x.n), r.rows.map((x) => x.b)],
          );
          for (const row of r.rows) deleted += row.n;
        }
        delta.messages -= deleted;
        return deleted;
      });
      total += n;
      if (n < PURGE_CHUNK) return total;
    }
  }

  /** Waits until every mutation called so far is durable. */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.inFlight !== undefined || this.flushScheduled) {
      if (this.inFlight) await this.inFlight;
      else await this.commitPending();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    clearTimeout(this.refreshTimer);
  }

  // ---- For the fan-out store -----------------------------------------------------------

  /** A mutation of a sibling store, in this store's group commit (postgres-fanout-store.ts). */
  sharedWrite<T>(run: (c: pg.PoolClient, delta: Delta) => Promise<T>, atomic = true): Promise<T> {
    return this.write(run, atomic);
  }

  fits(count: number, size: number, extra: number): boolean {
    return count + 1 <= this.limits.maxQueueMessages && size + extra <= this.limits.maxQueueBytes;
  }

  /** Deletes a queue's expired messages (its row locked by the caller); resolves to what went. */
  async purgeQueue(
    c: pg.PoolClient,
    rid: Uint8Array,
    now: number,
    delta: Delta,
  ): Promise<{ n: number; b: number }> {
    const r = await c.query<{ n: number; b: number }>(
      'WITH d AS (DELETE FROM messages WHERE rid = $1 AND expires <= $2 RETURNING length(body) AS len), ' +
        's AS (SELECT count(*)::int8 AS n, COALESCE(sum(len), 0)::int8 AS b FROM d), ' +
        'u AS (UPDATE queues SET msg_count = msg_count - s.n, msg_bytes = msg_bytes - s.b FROM s ' +
        'WHERE rid = $1 AND s.n > 0) SELECT n, b FROM s',
      [rid, now],
    );
    const freed = r.rows[0] ?? { n: 0, b: 0 };
    delta.messages -= freed.n;
    return freed;
  }

  // ---- Internals -----------------------------------------------------------------------

  /**
   * Locks, in rid order, the queues that the appends and acks of `run` touch, and reads what
   * the appends check. All locks of these writes are taken here, in one order, so that two
   * processes' batches do not deadlock each other (acks alone would lock in any order).
   */
  private async lockQueues(c: pg.PoolClient, run: PendingWrite[]): Promise<Map<string, LockedQueue>> {
    const rids = new Map<string, Uint8Array>();
    for (const { bulk } of run) {
      const rid = bulk?.kind === 'append' ? bulk.message.rid : bulk?.rid;
      if (rid) rids.set(toHex(rid), rid);
    }
    const r = await c.query<{
      rid: Buffer;
      sk: Buffer | null;
      msg_count: number;
      msg_bytes: number;
      last_seq: number;
    }>({
      name: 'parus_lock_queues',
      text: 'SELECT rid, sk, msg_count, msg_bytes, last_seq FROM queues WHERE rid = ANY($1::bytea[]) ORDER BY rid FOR UPDATE',
      values: [[...rids.values()]],
    });
    return new Map(
      r.rows.map((row) => [
        row.rid.toString('hex'),
        {
          rid: bytes(row.rid),
          sk: row.sk === null ? null : bytes(row.sk),
          n: row.msg_count,
          b: row.msg_bytes,
          seq: row.last_seq,
          added: 0,
          addedBytes: 0,
        },
      ]),
    );
  }

  /**
   * The ack requests of `run` (a slice of a batch), in one statement. A request of several
   * ids that finds one missing must change nothing: then the batch runs again with a
   * savepoint for each write (NeedsSavepoints); a single id that finds nothing is NOT_FOUND.
   */
  private async deleteAll(
    c: pg.PoolClient,
    run: PendingWrite[],
    results: Outcome[],
    delta: Delta,
    locked: Map<string, LockedQueue>,
  ): Promise<void> {
    const rids: Uint8Array[] = [];
    const mids: Uint8Array[] = [];
    for (const write of run) {
      if (write.bulk?.kind !== 'delete') continue;
      for (const mid of write.bulk.mids) {
        rids.push(write.bulk.rid);
        mids.push(mid);
      }
    }
    if (mids.length === 0) return;
    const r = await c.query<{ rid: Buffer; mid: Buffer; len: number }>({
      name: 'parus_delete_acked',
      text:
        'WITH x AS (SELECT * FROM unnest($1::bytea[], $2::bytea[]) AS x(rid, mid)), ' +
        'd AS (DELETE FROM messages m USING x WHERE m.rid = x.rid AND m.mid = x.mid ' +
        'RETURNING m.rid, m.mid, length(m.body) AS len), ' +
        's AS (SELECT rid, count(*)::int8 AS n, sum(len)::int8 AS b FROM d GROUP BY rid), ' +
        'u AS (UPDATE queues q SET msg_count = q.msg_count - s.n, msg_bytes = q.msg_bytes - s.b ' +
        'FROM s WHERE q.rid = s.rid) SELECT rid, mid, len FROM d',
      values: [rids, mids],
    });
    for (const row of r.rows) {
      const q = locked.get(row.rid.toString('hex'));
      if (q) {
        q.n -= 1;
        q.b -= row.len;
      }
    }
    // Each deleted row answers the first request that named it.
    const deleted = new Set(r.rows.map((row) => row.rid.toString('hex') + row.mid.toString('hex')));
    run.forEach((write, i) => {
      if (write.bulk?.kind !== 'delete') return;
      const ridHex = toHex(write.bulk.rid);
      let found = 0;
      for (const mid of write.bulk.mids) if (deleted.delete(ridHex + toHex(mid))) found++;
      if (found === write.bulk.mids.length) {
        delta.messages -= found;
        results[i] = { ok: true, value: undefined };
      } else if (found === 0)
        results[i] = { ok: false, error: new NotFoundError('no such message in this queue') };
      else throw new NeedsSavepoints(new Error('a batched ack missed one of its ids'));
    });
  }

  /**
   * The appends of `run`, in call order: their queues read and locked with one statement (in
   * rid order), checked here (sender key, quota, seq from the queue's counter), then the
   * messages and the queues' counters written with one more.
   */
  private async appendAll(
    c: pg.PoolClient,
    run: PendingWrite[],
    results: Outcome[],
    delta: Delta,
    queues: Map<string, LockedQueue>,
  ): Promise<void> {
    const rows = {
      rid: [] as Uint8Array[],
      seq: [] as number[],
      mid: [] as Uint8Array[],
      ts: [] as number[],
      expires: [] as number[],
      body: [] as Uint8Array[],
    };
    for (let i = 0; i < run.length; i++) {
      const bulk = run[i]!.bulk;
      if (bulk?.kind !== 'append') continue;
      const { message, opts } = bulk;
      const q = queues.get(toHex(message.rid));
      if (!q) {
        results[i] = { ok: false, error: new NotFoundError('no such queue') };
        continue;
      }
      if (!sameKey(q.sk, opts.checkedSk)) {
        results[i] = { ok: false, error: new AuthError('queue was secured with another sender key') };
        continue;
      }
      if (!this.fits(q.n, q.b, message.body.length)) {
        // Expired messages still count until the periodic purge; drop them before refusing.
        const freed = await this.purgeQueue(c, message.rid, message.ts, delta);
        q.n -= freed.n;
        q.b -= freed.b;
        if (!this.fits(q.n, q.b, message.body.length)) {
          results[i] = { ok: false, error: new QuotaError('queue is full') };
          continue;
        }
      }
      q.n += 1;
      q.b += message.body.length;
      q.seq += 1;
      q.added += 1;
      q.addedBytes += message.body.length;
      rows.rid.push(message.rid);
      rows.seq.push(q.seq);
      rows.mid.push(message.mid);
      rows.ts.push(message.ts);
      rows.expires.push(message.expires);
      rows.body.push(message.body);
      results[i] = { ok: true, value: { ...message, seq: q.seq } };
    }
    if (rows.rid.length === 0) return;
    const changed = [...queues.values()].filter((q) => q.added > 0);
    await c.query({
      name: 'parus_append_all',
      text:
        'WITH i AS (INSERT INTO messages (rid, seq, mid, ts, expires, body) ' +
        'SELECT * FROM unnest($1::bytea[], $2::int8[], $3::bytea[], $4::int8[], $5::int8[], $6::bytea[])) ' +
        'UPDATE queues q SET msg_count = q.msg_count + x.n, msg_bytes = q.msg_bytes + x.b, last_seq = x.last ' +
        'FROM unnest($7::bytea[], $8::int8[], $9::int8[], $10::int8[]) AS x(rid, n, b, last) WHERE q.rid = x.rid',
      values: [
        rows.rid,
        rows.seq,
        rows.mid,
        rows.ts,
        rows.expires,
        rows.body,
        changed.map((q) => q.rid),
        changed.map((q) => q.added),
        changed.map((q) => q.addedBytes),
        changed.map((q) => q.seq),
      ],
    });
    delta.messages += rows.rid.length;
  }

  /**
   * A read on the pool. Reads run side by side on several connections but settle in the
   * order they were called, as the SQLite store's do: the relay reads a queue before each
   * send, and a connection's sends must reach the group commit in the order they came.
   */
  /**
   * A queue by rid or sid. The lookups of one event-loop turn are read with one statement
   * (`= ANY`), one round trip for all the sends and acks of a turn; they settle in call order
   * with the other reads.
   */
  private lookup(column: 'rid' | 'sid', key: Uint8Array): Promise<QueueRecord | undefined> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    let batch = this.lookups[column];
    if (!batch) {
      const fresh: Lookups = { keys: [], result: undefined };
      this.lookups[column] = batch = fresh;
      fresh.result = new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
        this.lookups[column] = undefined;
        const r = await this.db.pool.query<QueueRow>({
          name: `parus_queues_by_${column}`,
          text: `SELECT rid, sid, rk, sk, qkey, created FROM queues WHERE ${column} = ANY($1::bytea[])`,
          values: [fresh.keys],
        });
        return new Map(r.rows.map((row) => [row[column].toString('hex'), toQueue(row)]));
      });
    }
    batch.keys.push(key);
    const keyHex = toHex(key);
    return this.ordered(
      batch.result!.then(
        (found) => found.get(keyHex),
        (cause: unknown) => {
          throw new StorageError('queue database read failed', { cause });
        },
      ),
    );
  }

  /** Settles `query` after every read called before it (see read). */
  private ordered<T>(query: Promise<T>): Promise<T> {
    // Unhandled until its turn comes: it is handled by the chain below.
    query.catch(() => {});
    const ordered = this.lastRead.then(() => query);
    this.lastRead = ordered.then(
      () => {},
      () => {},
    );
    return ordered;
  }

  read<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<R[]> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    const query = this.db.pool.query<R>(sql, params).then(
      (r) => r.rows,
      (cause: unknown) => {
        throw new StorageError('queue database read failed', { cause });
      },
    );
    const previous = this.lastRead;
    const ordered = previous.then(() => query);
    this.lastRead = ordered.then(
      () => {},
      () => {},
    );
    return ordered;
  }

  private write<T>(
    run: (c: pg.PoolClient, delta: Delta) => Promise<T>,
    atomic = true,
    bulk?: Bulk,
  ): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({
        run,
        atomic,
        ...(bulk ? { bulk } : {}),
        resolve: resolve as (value: unknown) => void,
        reject,
      });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.flushScheduled || this.inFlight !== undefined) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      void this.commitPending();
    });
  }

  /** Group commit: one transaction for everything queued, one savepoint per mutation. */
  private commitPending(): Promise<void> {
    if (this.inFlight !== undefined) return this.inFlight;
    if (this.pending.length === 0) return Promise.resolve();
    const batch = this.pending;
    this.pending = [];
    this.inFlight = this.commitBatch(batch).finally(() => {
      this.inFlight = undefined;
      if (this.pending.length > 0) this.schedule();
    });
    return this.inFlight;
  }

  private async commitBatch(batch: PendingWrite[]): Promise<void> {
    // First without savepoints (most writes need none, see PendingWrite.atomic); a batch in
    // which a write fails in the database is run again with a savepoint for each.
    // Appends and acks done together (bulk) need none: a batched ack that misses an id makes
    // the batch run again with savepoints (deleteAll).
    let savepoints = batch.some((w) => !w.atomic && !w.bulk);
    for (let attempt = 0; ; attempt++) {
      let c: pg.PoolClient | undefined;
      const outcomes: Outcome[] = [];
      const committed: Delta = { queues: 0, messages: 0 };
      try {
        c = await this.db.pool.connect();
        await c.query('BEGIN');
        for (let i = 0; i < batch.length; i++) {
          const write = batch[i]!;
          const delta: Delta = { queues: 0, messages: 0 };
          if (!savepoints && write.bulk) {
            // The appends and acks next to each other in the batch, together: acks first (they
            // only make room), then the appends, a few statements for all of them.
            let end = i;
            while (end < batch.length && batch[end]!.bulk) end++;
            const run = batch.slice(i, end);
            const results = new Array<Outcome>(run.length);
            try {
              const locked = await this.lockQueues(c, run);
              await this.deleteAll(c, run, results, delta, locked);
              await this.appendAll(c, run, results, delta, locked);
            } catch (error) {
              // A statement failed: the transaction is lost; run it again, each write on its own.
              throw error instanceof NeedsSavepoints ? error : new NeedsSavepoints(error);
            }
            outcomes.push(...results);
            committed.queues += delta.queues;
            committed.messages += delta.messages;
            i = end - 1;
            continue;
          }
          if (!savepoints) {
            try {
              outcomes.push({ ok: true, value: await write.run(c, delta) });
            } catch (error) {
              // Refused before changing anything (or after changes it keeps, counted in delta).
              if (!(error instanceof ParusError)) throw new NeedsSavepoints(error);
              outcomes.push({ ok: false, error });
            }
            committed.queues += delta.queues;
            committed.messages += delta.messages;
            continue;
          }
          await c.query('SAVEPOINT m');
          try {
            const value = await write.run(c, delta);
            await c.query('RELEASE SAVEPOINT m');
            committed.queues += delta.queues;
            committed.messages += delta.messages;
            outcomes.push({ ok: true, value });
          } catch (error) {
            // A deadlock dooms the whole batch: it is run again from the start.
            if (isRetryable(error)) throw error;
            await c.query('ROLLBACK TO SAVEPOINT m');
            outcomes.push({
              ok: false,
              error:
                error instanceof ParusError
                  ? error
                  : new StorageError('queue database write failed', { cause: error }),
            });
          }
        }
        // COMMIT of a transaction a failed statement aborted answers ROLLBACK, not an error.
        const done = await c.query('COMMIT');
        if (done.command !== 'COMMIT') throw new NeedsSavepoints(new Error('the transaction was aborted'));
        c.release();
      } catch (caught) {
        const cause = caught instanceof NeedsSavepoints ? caught.cause : caught;
        if (c) {
          await c.query('ROLLBACK').catch(() => {});
          // Not back into the pool: its state after a failure is not known.
          c.release(true);
        }
        if (isRetryable(cause) && attempt < MAX_RETRIES) {
          await new Promise((r) => setTimeout(r, Math.random() * 20 * (attempt + 1)));
          continue;
        }
        if (caught instanceof NeedsSavepoints && !savepoints) {
          savepoints = true;
          continue;
        }
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
      return;
    }
  }
}

/** A write failed in the database outside a savepoint: the transaction is lost, run it again with them. */
class NeedsSavepoints extends Error {
  constructor(override readonly cause: unknown) {
    super('a write failed outside a savepoint');
  }
}
