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

interface PendingWrite {
  run(c: pg.PoolClient, delta: Delta): Promise<unknown>;
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

  async queueByRid(rid: Uint8Array): Promise<QueueRecord | undefined> {
    const r = await this.read<QueueRow>('SELECT rid, sid, rk, sk, qkey, created FROM queues WHERE rid = $1', [
      rid,
    ]);
    return r[0] ? toQueue(r[0]) : undefined;
  }

  async queueBySid(sid: Uint8Array): Promise<QueueRecord | undefined> {
    const r = await this.read<QueueRow>('SELECT rid, sid, rk, sk, qkey, created FROM queues WHERE sid = $1', [
      sid,
    ]);
    return r[0] ? toQueue(r[0]) : undefined;
  }

  async pendingCount(rid: Uint8Array, now: number): Promise<number> {
    const r = await this.read<{ n: number }>(
      'SELECT count(*)::int8 AS n FROM messages WHERE rid = $1 AND expires > $2',
      [rid, now],
    );
    return r[0]?.n ?? 0;
  }

  async messagesAfter(
    rid: Uint8Array,
    afterSeq: number,
    limit: number,
    now: number,
  ): Promise<StoredMessage[]> {
    const rows = await this.read<{ seq: number; mid: Buffer; ts: number; expires: number; body: Buffer }>(
      'SELECT seq, mid, ts, expires, body FROM messages WHERE rid = $1 AND seq > $2 AND expires > $3 ' +
        'ORDER BY seq LIMIT $4',
      [rid, afterSeq, now, limit],
    );
    return rows.map((row) => ({
      rid,
      seq: row.seq,
      mid: bytes(row.mid),
      ts: row.ts,
      expires: row.expires,
      body: bytes(row.body),
    }));
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
    return this.write(async (c, delta) => {
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
    });
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
    return this.write(async (c, delta) => {
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
    }, acks.length === 1);
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
   * A read on the pool. Reads run side by side on several connections but settle in the
   * order they were called, as the SQLite store's do: the relay reads a queue before each
   * send, and a connection's sends must reach the group commit in the order they came.
   */
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

  private write<T>(run: (c: pg.PoolClient, delta: Delta) => Promise<T>, atomic = true): Promise<T> {
    if (this.closed) return Promise.reject(new StorageError('queue store is closed'));
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run, atomic, resolve: resolve as (value: unknown) => void, reject });
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
    let savepoints = batch.some((w) => !w.atomic);
    for (let attempt = 0; ; attempt++) {
      let c: pg.PoolClient | undefined;
      const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
      const committed: Delta = { queues: 0, messages: 0 };
      try {
        c = await this.db.pool.connect();
        await c.query('BEGIN');
        for (const write of batch) {
          const delta: Delta = { queues: 0, messages: 0 };
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
