/**
 * Blobs on PostgreSQL (blob-store.ts, docs/decisions/0048-shared-blobs.md): the metadata in the
 * `blobs` table of the store several relay processes share, the chunks either as bytea rows
 * (`blob_chunks`, `--blobs postgres`) or as one file per chunk in a folder every process
 * mounts (`--blobs DIR`, e.g. NFS). A blob uploaded through one process downloads through any.
 *
 * Each change is one transaction that holds the blob's row (`FOR UPDATE`), so the chunks of a
 * blob are stored one after another across processes. The relay's total blob bytes are one
 * counter row (`blob_usage`) updated in the same transaction with a guard
 * (`bytes + n <= max`), so the budget holds across processes. A chunk file is written under a
 * temporary name, fsynced, renamed, and its folder fsynced before the transaction that records
 * it commits: the database never claims a chunk the folder lacks.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import {
  BLOB_CHUNK_BYTES,
  ExpiredError,
  NotFoundError,
  ParusError,
  ProtocolError,
  QuotaError,
  StorageError,
  VerificationError,
  blobChunkCount,
  createHasher,
  equalBytes,
  toHex,
} from '@parus/core';
import type { BlobRecord, BlobStore, BlobStoreKind } from '../../blob-store.ts';
import { makePrivateFolder } from '../../private-files.ts';
import { LOCK_SCHEMA, bytes } from './pg-database.ts';
import type { PgDatabase } from './pg-database.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  bid bytea PRIMARY KEY,
  uk bytea NOT NULL,
  dk bytea NOT NULL,
  size bigint NOT NULL,
  have integer NOT NULL DEFAULT 0,
  done boolean NOT NULL DEFAULT false,
  created bigint NOT NULL,
  expires bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs(expires);
CREATE TABLE IF NOT EXISTS blob_chunks (
  bid bytea NOT NULL REFERENCES blobs(bid) ON DELETE CASCADE,
  n integer NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (bid, n)
);
CREATE TABLE IF NOT EXISTS blob_usage (
  one boolean PRIMARY KEY DEFAULT true CHECK (one),
  bytes bigint NOT NULL
);
INSERT INTO blob_usage (one, bytes) VALUES (true, 0) ON CONFLICT DO NOTHING;
`;

export interface PostgresBlobStoreOptions {
  db: PgDatabase;
  /** A folder shared by every process for the chunks; without it, bytea rows in PostgreSQL. */
  folder?: string;
  maxBlobBytes: number;
  maxTotalBytes: number;
  uploadTtlMs: number;
  blobTtlMs: number;
}

interface BlobRow {
  bid: Buffer;
  uk: Buffer;
  dk: Buffer;
  size: number;
  have: number;
  done: boolean;
  created: number;
  expires: number;
}

const toRecord = (r: BlobRow): BlobRecord => ({
  bid: bytes(r.bid),
  uk: bytes(r.uk),
  dk: bytes(r.dk),
  size: r.size,
  have: r.have,
  done: r.done,
  created: r.created,
  expires: r.expires,
});

/** Bytes a blob holds with `have` chunks stored. */
const held = (have: number, size: number): number => Math.min(have * BLOB_CHUNK_BYTES, size);

/** A refusal to hand back after the transaction (a rollback would undo the deletion it made). */
class AfterCommit {
  constructor(
    readonly error: Error,
    readonly removed: Removed,
  ) {}
}

/** A blob deleted: its id and the chunks it had (the files to remove). */
interface Removed {
  bid: Uint8Array;
  have: number;
}

export class PostgresBlobStore implements BlobStore {
  readonly kind: BlobStoreKind;
  /** Blobs of every process, as last counted (at open, deletions and purges). */
  count = 0;
  /** Bytes of every process's blobs, as the database said at this process's last change. */
  storedBytes = 0;
  private closed = false;
  private readonly running = new Set<Promise<unknown>>();

  private constructor(private readonly opts: PostgresBlobStoreOptions) {
    this.kind = opts.folder === undefined ? 'postgres' : 'folder';
  }

  /** Creates the tables if missing (and the folder); StorageError when neither can be. */
  static async open(opts: PostgresBlobStoreOptions): Promise<PostgresBlobStore> {
    const store = new PostgresBlobStore(opts);
    if (opts.folder !== undefined) {
      try {
        makePrivateFolder(opts.folder);
      } catch (cause) {
        throw new StorageError('cannot open the shared blob folder', { cause });
      }
    }
    await store.guard('cannot prepare the blob tables', () =>
      opts.db.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_SCHEMA]);
        await c.query(SCHEMA);
      }),
    );
    await store.recount();
    return store;
  }

  async create(
    bid: Uint8Array,
    uk: Uint8Array,
    dk: Uint8Array,
    size: number,
    now: number,
  ): Promise<BlobRecord> {
    this.check();
    if (size > this.opts.maxBlobBytes)
      throw new QuotaError(`blob larger than this relay's limit of ${this.opts.maxBlobBytes} bytes`);
    const expires = now + this.opts.uploadTtlMs;
    await this.guard('cannot create the blob', async () => {
      const r = await this.opts.db.pool.query<{ bytes: number }>('SELECT bytes FROM blob_usage');
      this.storedBytes = r.rows[0]?.bytes ?? 0;
      if (this.storedBytes + size > this.opts.maxTotalBytes)
        throw new QuotaError('relay blob storage is full');
      try {
        await this.opts.db.pool.query(
          'INSERT INTO blobs (bid, uk, dk, size, created, expires) VALUES ($1, $2, $3, $4, $5, $6)',
          [bid, uk, dk, size, now, expires],
        );
      } catch (cause) {
        throw new StorageError('blob id already in use', { cause });
      }
    });
    this.count += 1;
    return { bid, uk, dk, size, have: 0, done: false, created: now, expires };
  }

  async get(bid: Uint8Array, now: number): Promise<BlobRecord> {
    this.check();
    const r = await this.guard('blob read failed', () =>
      this.opts.db.pool.query<BlobRow>('SELECT * FROM blobs WHERE bid = $1', [bid]),
    );
    return this.live(r.rows[0], now);
  }

  put(
    bid: Uint8Array,
    n: number,
    data: Uint8Array,
    now: number,
    check: (b: BlobRecord) => void,
  ): Promise<void> {
    return this.track(async () => {
      const stored = await this.inBlob(bid, now, async (c, blob) => {
        check(blob);
        if (blob.done) throw new ProtocolError('blob is already finished');
        if (n < blob.have) return undefined;
        if (n > blob.have) throw new ProtocolError(`chunk ${n} out of order: the relay has ${blob.have}`);
        // A look first, so that a full relay writes nothing; the exact check comes last, so
        // that the one counter row every upload changes is locked only until the commit.
        const seen = await c.query<{ bytes: number }>('SELECT bytes FROM blob_usage');
        if ((seen.rows[0]?.bytes ?? 0) + data.length > this.opts.maxTotalBytes)
          throw new QuotaError('relay blob storage is full');
        if (this.opts.folder === undefined) {
          await c.query(
            'INSERT INTO blob_chunks (bid, n, data) VALUES ($1, $2, $3) ON CONFLICT (bid, n) DO UPDATE SET data = $3',
            [bid, n, data],
          );
        } else {
          await this.writeChunkFile(bid, n, data);
        }
        await c.query('UPDATE blobs SET have = $1 WHERE bid = $2', [n + 1, bid]);
        const u = await c.query<{ bytes: number }>(
          'UPDATE blob_usage SET bytes = bytes + $1 WHERE bytes + $1 <= $2 RETURNING bytes',
          [data.length, this.opts.maxTotalBytes],
        );
        if (u.rowCount !== 1) {
          // Not recorded: the chunk file (if any) goes, the rollback takes the row.
          if (this.opts.folder !== undefined)
            await rm(this.chunkPath(toHex(bid), n), { force: true }).catch(() => {});
          throw new QuotaError('relay blob storage is full');
        }
        return u.rows[0]!.bytes;
      });
      // The total across every process as this chunk left it (unchanged when the chunk was had).
      if (stored !== undefined) this.storedBytes = stored;
    });
  }

  finish(
    bid: Uint8Array,
    hash: Uint8Array,
    now: number,
    check: (b: BlobRecord) => void,
  ): Promise<BlobRecord> {
    return this.track(async () => {
      const result = await this.inBlob(bid, now, async (c, blob) => {
        check(blob);
        const count = blobChunkCount(blob.size);
        if (blob.have < count) throw new ProtocolError(`upload incomplete: ${blob.have} of ${count} chunks`);
        const hasher = createHasher(32);
        for (let n = 0; n < count; n++) hasher.update(await this.chunk(c, blob, n));
        const actual = hasher.digest();
        if (blob.done) {
          if (!equalBytes(actual, hash)) throw new VerificationError('blob hash does not match');
          return blob;
        }
        if (!equalBytes(actual, hash)) {
          const removed = await this.removeIn(c, blob);
          return new AfterCommit(
            new VerificationError('blob hash does not match; the blob was deleted'),
            removed,
          );
        }
        const expires = now + this.opts.blobTtlMs;
        await c.query('UPDATE blobs SET done = true, expires = $1 WHERE bid = $2', [expires, bid]);
        return { ...blob, done: true, expires };
      });
      if (result instanceof AfterCommit) {
        await this.afterRemove([result.removed]);
        throw result.error;
      }
      return result;
    });
  }

  delete(bid: Uint8Array, now: number, check: (b: BlobRecord) => void): Promise<void> {
    return this.track(async () => {
      const removed = await this.inBlob(bid, now, async (c, blob) => {
        check(blob);
        return this.removeIn(c, blob);
      });
      await this.afterRemove([removed]);
    });
  }

  read(blob: BlobRecord, n: number): Promise<Uint8Array> {
    return this.track(async () => {
      const count = blobChunkCount(blob.size);
      if (!blob.done) throw new ProtocolError('blob is not finished');
      if (n >= count) throw new NotFoundError(`the blob has ${count} chunks`);
      return this.chunk(this.opts.db.pool, blob, n);
    });
  }

  purgeExpired(now: number): Promise<number> {
    return this.track(async () => {
      let total = 0;
      for (;;) {
        this.check();
        const removed = await this.guard('cannot purge blobs', () =>
          this.opts.db.transaction(async (c) => {
            const r = await c.query<BlobRow>(
              'SELECT * FROM blobs WHERE expires <= $1 ORDER BY expires LIMIT 500 FOR UPDATE SKIP LOCKED',
              [now],
            );
            const removed: Removed[] = [];
            for (const row of r.rows) removed.push(await this.removeIn(c, toRecord(row)));
            return removed;
          }),
        );
        total += removed.length;
        await this.afterRemove(removed);
        if (removed.length < 500) break;
      }
      await this.recount();
      return total;
    });
  }

  /** Waits for the changes under way; the pool is closed with the queue store (open-stores.ts). */
  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.running]);
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new StorageError('blob store is closed');
  }

  private live(row: BlobRow | undefined, now: number): BlobRecord {
    if (!row) throw new NotFoundError('no such blob');
    const record = toRecord(row);
    if (record.expires <= now) throw new ExpiredError('blob has expired');
    return record;
  }

  /** Runs `run` in one transaction holding the blob's row, so no other process changes it meanwhile. */
  private inBlob<T>(
    bid: Uint8Array,
    now: number,
    run: (c: pg.PoolClient, blob: BlobRecord) => Promise<T>,
  ): Promise<T> {
    this.check();
    return this.guard('blob write failed', () =>
      this.opts.db.transaction(async (c) => {
        const r = await c.query<BlobRow>('SELECT * FROM blobs WHERE bid = $1 FOR UPDATE', [bid]);
        return run(c, this.live(r.rows[0], now));
      }),
    );
  }

  /** Deletes the blob's row (its bytea chunks go with it) and gives its bytes back to the budget. */
  private async removeIn(c: pg.PoolClient, blob: BlobRecord): Promise<Removed> {
    const d = await c.query<{ have: number; size: number }>(
      'DELETE FROM blobs WHERE bid = $1 RETURNING have, size',
      [blob.bid],
    );
    const row = d.rows[0];
    if (row)
      await c.query('UPDATE blob_usage SET bytes = GREATEST(0, bytes - $1)', [held(row.have, row.size)]);
    return { bid: blob.bid, have: row?.have ?? 0 };
  }

  /** After a deletion committed: the chunk files go (a leftover file is only space), the counts follow. */
  private async afterRemove(removed: Removed[]): Promise<void> {
    if (removed.length === 0) return;
    if (this.opts.folder !== undefined) {
      for (const { bid, have } of removed) {
        const hex = toHex(bid);
        for (let n = 0; n < have; n++) await rm(this.chunkPath(hex, n), { force: true }).catch(() => {});
      }
    }
    await this.recount();
  }

  private chunkPath(hex: string, n: number): string {
    return join(this.opts.folder!, `${hex}.${n}`);
  }

  private async writeChunkFile(bid: Uint8Array, n: number, data: Uint8Array): Promise<void> {
    const final = this.chunkPath(toHex(bid), n);
    const temp = join(this.opts.folder!, `.${toHex(bid)}.${n}.${randomBytes(8).toString('hex')}.tmp`);
    let file: FileHandle | undefined;
    try {
      file = await open(temp, 'wx', 0o600);
      await file.write(data, 0, data.length, 0);
      await file.datasync();
      await file.close();
      file = undefined;
      await rename(temp, final);
      const dir = await open(this.opts.folder!, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
    } catch (cause) {
      await file?.close().catch(() => {});
      await rm(temp, { force: true }).catch(() => {});
      throw new StorageError('blob chunk write failed', { cause });
    }
  }

  /** Chunk `n` as stored, checked against the length the blob's size gives it. */
  private async chunk(q: pg.Pool | pg.PoolClient, blob: BlobRecord, n: number): Promise<Uint8Array> {
    const count = blobChunkCount(blob.size);
    const length = n < count - 1 ? BLOB_CHUNK_BYTES : blob.size - (count - 1) * BLOB_CHUNK_BYTES;
    let data: Uint8Array;
    if (this.opts.folder === undefined) {
      const r = await this.guard('blob chunk read failed', () =>
        q.query<{ data: Buffer }>('SELECT data FROM blob_chunks WHERE bid = $1 AND n = $2', [blob.bid, n]),
      );
      if (!r.rows[0]) throw new StorageError('blob chunk is missing');
      data = bytes(r.rows[0].data);
    } else {
      try {
        data = new Uint8Array(await readFile(this.chunkPath(toHex(blob.bid), n)));
      } catch (cause) {
        throw new StorageError('blob chunk read failed', { cause });
      }
    }
    if (data.length !== length) throw new StorageError('blob chunk is not the length recorded');
    return data;
  }

  private async recount(): Promise<void> {
    const r = await this.guard('blob read failed', () =>
      this.opts.db.pool.query<{ n: number; b: number }>(
        'SELECT (SELECT count(*)::int8 FROM blobs) AS n, (SELECT bytes FROM blob_usage) AS b',
      ),
    );
    this.count = r.rows[0]?.n ?? 0;
    this.storedBytes = r.rows[0]?.b ?? 0;
  }

  private track<T>(run: () => Promise<T>): Promise<T> {
    const p = run();
    this.running.add(p);
    void p.then(
      () => this.running.delete(p),
      () => this.running.delete(p),
    );
    return p;
  }

  private async guard<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (cause) {
      if (cause instanceof ParusError) throw cause;
      throw new StorageError(what, { cause });
    }
  }
}
