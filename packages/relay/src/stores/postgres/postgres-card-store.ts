/**
 * Card records on PostgreSQL (card-records.ts, docs/decisions/0047): the `cards` table of the
 * store several relay processes share, so a short link made through one process opens through
 * any. Each change is its own transaction, committed before it settles (cards are rare next
 * to messages: no group commit). The most records hold across processes: a put counts and
 * inserts under an advisory lock.
 */
import { ExpiredError, NotFoundError, QuotaError, StorageError } from '@parus/core';
import type { CardRecord, CardRecords } from '../../card-records.ts';
import { LOCK_CARDS, bytes } from './pg-database.ts';
import type { PgDatabase } from './pg-database.ts';

interface CardRow {
  cid: Buffer;
  ck: Buffer;
  data: Buffer;
  expires: number;
}

const toRecord = (row: CardRow): CardRecord => ({
  cid: bytes(row.cid),
  ck: bytes(row.ck),
  data: bytes(row.data),
  expires: row.expires,
});

export class PostgresCardStore implements CardRecords {
  /** Bytes of all processes' records, as last counted (at open, at each change and purge). */
  storedBytes = 0;

  private constructor(
    private readonly db: PgDatabase,
    private readonly maxRecords: number,
  ) {}

  static async open(db: PgDatabase, maxRecords: number): Promise<PostgresCardStore> {
    const store = new PostgresCardStore(db, maxRecords);
    await store.recount();
    return store;
  }

  async put(record: CardRecord): Promise<void> {
    await this.guard('cannot store the card record', () =>
      this.db.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_CARDS]);
        const n = await c.query<{ n: number }>('SELECT count(*)::int8 AS n FROM cards');
        if ((n.rows[0]?.n ?? 0) >= this.maxRecords)
          throw new QuotaError('the relay holds its most card records');
        await c.query('INSERT INTO cards (cid, ck, data, expires) VALUES ($1, $2, $3, $4)', [
          record.cid,
          record.ck,
          record.data,
          record.expires,
        ]);
      }),
    );
    this.storedBytes += record.data.length;
  }

  async get(cid: Uint8Array, now: number): Promise<CardRecord> {
    const r = await this.guard('card record read failed', () =>
      this.db.pool.query<CardRow>('SELECT cid, ck, data, expires FROM cards WHERE cid = $1', [cid]),
    );
    const row = r.rows[0];
    if (!row) throw new NotFoundError('no such card record');
    if (row.expires <= now) throw new ExpiredError('the card record has expired');
    return toRecord(row);
  }

  async delete(cid: Uint8Array, check: (r: CardRecord) => void): Promise<void> {
    const r = await this.guard('card record read failed', () =>
      this.db.pool.query<CardRow>('SELECT cid, ck, data, expires FROM cards WHERE cid = $1', [cid]),
    );
    const row = r.rows[0];
    if (!row) throw new NotFoundError('no such card record');
    const record = toRecord(row);
    check(record);
    const d = await this.guard('cannot delete the card record', () =>
      this.db.pool.query('DELETE FROM cards WHERE cid = $1', [cid]),
    );
    // Deleted meanwhile through another process: gone all the same.
    if (d.rowCount === 1) this.storedBytes = Math.max(0, this.storedBytes - record.data.length);
  }

  async purgeExpired(now: number): Promise<number> {
    const r = await this.guard('cannot purge card records', () =>
      this.db.pool.query('DELETE FROM cards WHERE expires <= $1', [now]),
    );
    await this.recount();
    return r.rowCount ?? 0;
  }

  /** The pool is closed with the queue store (open-stores.ts). */
  close(): void {}

  private async recount(): Promise<void> {
    const r = await this.guard('card record read failed', () =>
      this.db.pool.query<{ b: number }>('SELECT COALESCE(sum(length(data)), 0)::int8 AS b FROM cards'),
    );
    this.storedBytes = r.rows[0]?.b ?? 0;
  }

  private async guard<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      if (cause instanceof QuotaError) throw cause;
      throw new StorageError(what, { cause });
    }
  }
}
