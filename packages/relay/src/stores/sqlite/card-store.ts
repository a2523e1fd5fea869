/**
 * Card records (core short-invitation.ts, docs/decisions/0045-short-invitations.md): the sealed
 * rendez-vous cards behind short invitation links, in their own SQLite database (`cards.sqlite`,
 * WAL). Small and bounded: each at most MAX_CARD_RECORD_BYTES, at most `maxRecords` at once, each
 * with an expiry of at most `maxTtlMs`; an expired record answers EXPIRED until the purge removes
 * it. The relay only ever sees the sealed bytes and its owner's X25519 key.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ExpiredError, NotFoundError, QuotaError, StorageError } from '@parus/core';
import type { CardRecord, CardRecords } from '../../card-records.ts';
import { preparePrivateDatabase } from '../../private-files.ts';

export const CARD_DATABASE_FILE = 'cards.sqlite';

export type { CardRecord };

interface CardRow {
  cid: Buffer;
  ck: Buffer;
  data: Buffer;
  expires: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS cards (
  cid BLOB PRIMARY KEY NOT NULL,
  ck BLOB NOT NULL,
  data BLOB NOT NULL,
  expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cards_by_expiry ON cards(expires);
`;

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

export class CardStore implements CardRecords {
  /** Records stored, expired ones not yet purged included. */
  count: number;
  /** Bytes of their data. */
  storedBytes: number;
  private readonly db: Database.Database;
  private readonly stmt: {
    get: Database.Statement<[Uint8Array], CardRow>;
    insert: Database.Statement<[Uint8Array, Uint8Array, Uint8Array, number]>;
    remove: Database.Statement<[Uint8Array]>;
    purge: Database.Statement<[number]>;
  };

  constructor(
    dataDir: string,
    private readonly maxRecords: number,
  ) {
    const path = join(dataDir, CARD_DATABASE_FILE);
    try {
      preparePrivateDatabase(path);
      this.db = new Database(path, { timeout: 500 });
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
    } catch (cause) {
      throw new StorageError('cannot open the card database', { cause });
    }
    this.stmt = {
      get: this.db.prepare('SELECT cid, ck, data, expires FROM cards WHERE cid = ?'),
      insert: this.db.prepare('INSERT INTO cards (cid, ck, data, expires) VALUES (?, ?, ?, ?)'),
      remove: this.db.prepare('DELETE FROM cards WHERE cid = ?'),
      purge: this.db.prepare('DELETE FROM cards WHERE expires <= ?'),
    };
    const totals = this.db
      .prepare('SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS b FROM cards')
      .get() as {
      n: number;
      b: number;
    };
    this.count = totals.n;
    this.storedBytes = totals.b;
  }

  /** QuotaError when the relay holds its most records already. */
  put(record: CardRecord): void {
    if (this.count >= this.maxRecords) throw new QuotaError('the relay holds its most card records');
    try {
      this.stmt.insert.run(record.cid, record.ck, record.data, record.expires);
    } catch (cause) {
      throw new StorageError('cannot store the card record', { cause });
    }
    this.count += 1;
    this.storedBytes += record.data.length;
  }

  /** NOT_FOUND for an unknown (or deleted) record, EXPIRED for one past its expiry. */
  get(cid: Uint8Array, now: number): CardRecord {
    const row = this.stmt.get.get(cid);
    if (!row) throw new NotFoundError('no such card record');
    if (row.expires <= now) throw new ExpiredError('the card record has expired');
    return { cid: bytes(row.cid), ck: bytes(row.ck), data: bytes(row.data), expires: row.expires };
  }

  /** Deletes a record after `check` (its owner's authenticator) accepted it. */
  delete(cid: Uint8Array, check: (r: CardRecord) => void): void {
    const row = this.stmt.get.get(cid);
    if (!row) throw new NotFoundError('no such card record');
    const record = { cid: bytes(row.cid), ck: bytes(row.ck), data: bytes(row.data), expires: row.expires };
    check(record);
    this.stmt.remove.run(cid);
    this.count -= 1;
    this.storedBytes -= record.data.length;
  }

  /** Removes the records past their expiry; how many went. */
  purgeExpired(now: number): number {
    const n = this.stmt.purge.run(now).changes;
    if (n > 0) {
      const totals = this.db
        .prepare('SELECT count(*) AS n, coalesce(sum(length(data)), 0) AS b FROM cards')
        .get() as { n: number; b: number };
      this.count = totals.n;
      this.storedBytes = totals.b;
    }
    return n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
