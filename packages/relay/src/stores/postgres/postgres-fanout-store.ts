/**
 * Fan-out lists on PostgreSQL (fanout-store.ts, docs/decisions/0047-postgresql-store.md).
 * Writes go through the queue store's group commit (PostgresQueueStore.sharedWrite), so an
 * `fadd`/`frem` and the `fsend`s around it apply in the order they came.
 *
 * Unlike the SQLite store, which keeps a fan-out's body once and seals it per queue as it
 * goes out, each copy here is an ordinary message row, sealed for its queue when stored:
 * deliveries, acks, quotas and expiry are then the 1:1 paths, which hold across processes
 * with no second kind of row (the price: a body stored once per entry, at most maxEntries).
 * The queues a fan-out writes to are locked in rid order, so two fan-outs never deadlock
 * each other.
 */
import type pg from 'pg';
import { MESSAGE_ID_BYTES, NotFoundError, QuotaError, StorageError, toHex } from '@parus/core';
import type {
  FanoutList,
  FanoutStore,
  FanoutStoreOptions,
  SharedAppend,
  SharedMessage,
} from '../../fanout-store.ts';
import { LOCK_LISTS, bytes, isUniqueViolation } from './pg-database.ts';
import type { PostgresQueueStore } from './postgres-queue-store.ts';

export class PostgresFanoutStore implements FanoutStore {
  private lists = 0;

  private constructor(
    private readonly queues: PostgresQueueStore,
    private readonly opts: FanoutStoreOptions,
  ) {}

  static async open(queues: PostgresQueueStore, opts: FanoutStoreOptions): Promise<PostgresFanoutStore> {
    const store = new PostgresFanoutStore(queues, opts);
    await store.recount(queues.db.pool);
    return store;
  }

  /** Lists on the relay, as last counted (at open and at each list created or purged). */
  get size(): number {
    return this.lists;
  }

  async list(lid: Uint8Array): Promise<FanoutList | undefined> {
    const rows = await this.queues.read<{ fk: Buffer; entries: number }>(
      'SELECT fk, entries FROM fanout_lists WHERE lid = $1',
      [lid],
    );
    const row = rows[0];
    return row ? { fk: bytes(row.fk), entries: row.entries } : undefined;
  }

  createList(lid: Uint8Array, fk: Uint8Array, now: number): Promise<void> {
    return this.queues.sharedWrite(async (c) => {
      // One list created at a time across processes, so the count is exact.
      await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_LISTS]);
      await this.recount(c);
      if (this.lists >= this.opts.maxLists) throw new QuotaError('the relay holds its most fan-out lists');
      try {
        await c.query('INSERT INTO fanout_lists (lid, fk, used) VALUES ($1, $2, $3)', [lid, fk, now]);
      } catch (cause) {
        if (isUniqueViolation(cause)) throw new StorageError('list id already in use', { cause });
        throw cause;
      }
      this.lists += 1;
    }, false);
  }

  addEntries(lid: Uint8Array, sids: readonly Uint8Array[], now: number): Promise<number> {
    return this.queues.sharedWrite(async (c) => {
      await this.lockList(c, lid);
      await c.query(
        'INSERT INTO fanout_entries (lid, sid) SELECT $1, s FROM unnest($2::bytea[]) AS s ON CONFLICT DO NOTHING',
        [lid, [...sids]],
      );
      const entries = await this.setCount(c, lid, now);
      // Thrown inside the savepoint: the inserts above roll back with it.
      if (entries > this.opts.maxEntries) {
        throw new QuotaError(`a fan-out list holds at most ${this.opts.maxEntries} entries`);
      }
      return entries;
    }, false);
  }

  removeEntries(lid: Uint8Array, sids: readonly Uint8Array[], now: number): Promise<void> {
    return this.queues.sharedWrite(async (c) => {
      await this.lockList(c, lid);
      await c.query('DELETE FROM fanout_entries WHERE lid = $1 AND sid = ANY($2::bytea[])', [lid, [...sids]]);
      await this.setCount(c, lid, now);
    });
  }

  dropList(lid: Uint8Array): Promise<void> {
    return this.queues.sharedWrite(async (c) => {
      const r = await c.query('DELETE FROM fanout_lists WHERE lid = $1', [lid]);
      if (r.rowCount === 0) throw new NotFoundError('no such fan-out list');
      this.lists = Math.max(0, this.lists - 1);
    });
  }

  fanout(lid: Uint8Array, message: SharedMessage): Promise<SharedAppend> {
    return this.queues.sharedWrite(async (c, delta) => {
      const list = await c.query('UPDATE fanout_lists SET used = $2 WHERE lid = $1', [lid, message.ts]);
      if (list.rowCount === 0) throw new NotFoundError('no such fan-out list');
      const entries = await c.query<{ sid: Buffer }>('SELECT sid FROM fanout_entries WHERE lid = $1', [lid]);
      const sids = entries.rows.map((r) => r.sid);
      // The queues on the list, locked in rid order (their usage is checked and changed).
      const found = await c.query<{
        rid: Buffer;
        sid: Buffer;
        sk: Buffer | null;
        qkey: Buffer;
        msg_count: number;
        msg_bytes: number;
      }>(
        'SELECT rid, sid, sk, qkey, msg_count, msg_bytes FROM queues WHERE sid = ANY($1::bytea[]) ' +
          'ORDER BY rid FOR UPDATE',
        [sids],
      );
      const bySid = new Map(found.rows.map((q) => [q.sid.toString('hex'), q]));
      const out: SharedAppend = { stored: [], full: [], gone: [] };
      // Every copy is sealed the same length: the plaintext, a nonce and a tag.
      const room: Array<{ rid: Uint8Array; sid: Uint8Array; queueKey: Uint8Array }> = [];
      let size: number | undefined;
      for (const sidBuf of sids) {
        const sid = bytes(sidBuf);
        const q = bySid.get(sidBuf.toString('hex'));
        // Entries are proven under the queue's sk (fanout.ts): one without it counts as gone.
        if (!q || q.sk === null) {
          out.gone.push(sid);
          continue;
        }
        const rid = bytes(q.rid);
        const queueKey = bytes(q.qkey);
        size ??= this.queues.sealShared(queueKey, new Uint8Array(MESSAGE_ID_BYTES), message.plaintext).length;
        let { msg_count: n, msg_bytes: b } = q;
        if (!this.queues.fits(n, b, size)) {
          const freed = await this.queues.purgeQueue(c, rid, message.ts, delta);
          n -= freed.n;
          b -= freed.b;
        }
        if (!this.queues.fits(n, b, size)) {
          out.full.push(sid);
          continue;
        }
        room.push({ rid, sid, queueKey });
      }
      if (room.length === 0) return out;
      const mids = message.newMids(room.length);
      if (mids.length !== room.length * MESSAGE_ID_BYTES)
        throw new StorageError('wrong number of message ids');
      const midOf = (i: number): Uint8Array =>
        mids.subarray(i * MESSAGE_ID_BYTES, (i + 1) * MESSAGE_ID_BYTES);
      const bodies = room.map((t, i) => this.queues.sealShared(t.queueKey, midOf(i), message.plaintext));
      const r = await c.query<{ rid: Buffer; seq: number }>(
        'WITH x AS (SELECT * FROM unnest($1::bytea[], $2::bytea[], $3::bytea[]) AS x(rid, mid, body)), ' +
          'q AS (UPDATE queues SET msg_count = msg_count + 1, msg_bytes = msg_bytes + length(x.body), ' +
          'last_seq = last_seq + 1 FROM x WHERE queues.rid = x.rid RETURNING queues.rid, queues.last_seq) ' +
          'INSERT INTO messages (rid, seq, mid, ts, expires, body) ' +
          'SELECT q.rid, q.last_seq, x.mid, $4, $5, x.body FROM q JOIN x ON x.rid = q.rid RETURNING rid, seq',
        [room.map((t) => t.rid), room.map((_, i) => midOf(i)), bodies, message.ts, message.expires],
      );
      const seqs = new Map(r.rows.map((row) => [row.rid.toString('hex'), row.seq]));
      room.forEach((t, i) => {
        const key = toHex(t.rid);
        const seq = seqs.get(key);
        if (seq === undefined) throw new StorageError('a fan-out copy was not stored');
        out.stored.push({ rid: t.rid, key, queueKey: t.queueKey, mid: midOf(i), seq });
      });
      delta.messages += room.length;
      return out;
    });
  }

  purgeUnused(before: number): Promise<number> {
    return this.queues.sharedWrite(async (c) => {
      const r = await c.query('DELETE FROM fanout_lists WHERE used <= $1', [before]);
      await this.recount(c);
      return r.rowCount ?? 0;
    });
  }

  private async recount(c: pg.Pool | pg.PoolClient): Promise<void> {
    const r = await c.query<{ n: number }>('SELECT count(*)::int8 AS n FROM fanout_lists');
    this.lists = r.rows[0]?.n ?? 0;
  }

  /** Locks the list's row (entries change one writer at a time); NotFoundError when it is gone. */
  private async lockList(c: pg.PoolClient, lid: Uint8Array): Promise<void> {
    const r = await c.query('SELECT 1 FROM fanout_lists WHERE lid = $1 FOR UPDATE', [lid]);
    if (r.rowCount === 0) throw new NotFoundError('no such fan-out list');
  }

  private async setCount(c: pg.PoolClient, lid: Uint8Array, now: number): Promise<number> {
    const r = await c.query<{ entries: number }>(
      'UPDATE fanout_lists SET entries = (SELECT count(*) FROM fanout_entries WHERE lid = $1), used = $2 ' +
        'WHERE lid = $1 RETURNING entries',
      [lid, now],
    );
    return r.rows[0]?.entries ?? 0;
  }
}
