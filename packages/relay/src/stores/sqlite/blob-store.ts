/**
 * The relay's blob store (docs/decisions/0010-blobs.md): metadata in SQLite (`blobs.sqlite`,
 * WAL, synchronous=FULL), chunk data in one file per blob under `blobs/`, named by the blob
 * id in hex. The relay only ever sees ciphertext (file-stream.ts).
 *
 * A chunk is written at its offset and fsynced before `have` moves past it in SQLite, so
 * after a crash the database never claims a chunk the file lacks; a chunk written but not
 * recorded is simply written again. Chunks arrive in order, one blob at a time under its
 * own lock. `finish` hashes the whole file (BLAKE2b-256) and deletes a blob whose hash is not
 * the one the uploader names. The total quota counts the bytes actually stored, checked
 * when a blob is created (it must fit now) and at every chunk, so announcing big uploads
 * holds nothing back from others; an unfinished upload expires after `uploadTtlMs`, a
 * finished blob `blobTtlMs` after it was finished.
 */
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  BLOB_CHUNK_BYTES,
  ExpiredError,
  NotFoundError,
  ProtocolError,
  QuotaError,
  StorageError,
  VerificationError,
  blobChunkCount,
  createHasher,
  equalBytes,
  toHex,
} from '@parus/core';
import type { BlobRecord, BlobStore } from '../../blob-store.ts';
import { makePrivateFolder, preparePrivateDatabase } from '../../private-files.ts';

export const BLOB_DATABASE_FILE = 'blobs.sqlite';
export const BLOB_FOLDER = 'blobs';

export interface BlobStoreOptions {
  dataDir: string;
  maxBlobBytes: number;
  maxTotalBytes: number;
  uploadTtlMs: number;
  blobTtlMs: number;
  /** SQLite's page cache for the blob database, KiB; SQLite's default (2,000) if not given. */
  cacheKiB?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  bid BLOB PRIMARY KEY NOT NULL,
  uk BLOB NOT NULL,
  dk BLOB NOT NULL,
  size INTEGER NOT NULL,
  have INTEGER NOT NULL DEFAULT 0,
  done INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL,
  expires INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blobs_by_expiry ON blobs(expires);
`;

interface BlobRow {
  bid: Buffer;
  uk: Buffer;
  dk: Buffer;
  size: number;
  have: number;
  done: number;
  created: number;
  expires: number;
}

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function toRecord(r: BlobRow): BlobRecord {
  return {
    bid: bytes(r.bid),
    uk: bytes(r.uk),
    dk: bytes(r.dk),
    size: r.size,
    have: r.have,
    done: r.done === 1,
    created: r.created,
    expires: r.expires,
  };
}

/** How much of a file the hash reads at a time. */
const HASH_READ_BYTES = 1024 * 1024;

export class SqliteBlobStore implements BlobStore {
  readonly kind = 'sqlite' as const;
  /** Blobs stored (finished or not). */
  count: number;
  private readonly db: Database.Database;
  private readonly folder: string;
  /** Bytes on disk across all blobs (chunks stored so far). */
  private stored: number;
  private readonly locks = new Map<string, Promise<unknown>>();
  private closed = false;
  private readonly stmt: {
    get: Database.Statement<[Uint8Array], BlobRow>;
    insert: Database.Statement<[Uint8Array, Uint8Array, Uint8Array, number, number, number]>;
    setHave: Database.Statement<[number, Uint8Array]>;
    finish: Database.Statement<[number, Uint8Array]>;
    remove: Database.Statement<[Uint8Array]>;
    expired: Database.Statement<[number, number], BlobRow>;
  };

  constructor(private readonly opts: BlobStoreOptions) {
    this.folder = join(opts.dataDir, BLOB_FOLDER);
    try {
      makePrivateFolder(this.folder);
      preparePrivateDatabase(join(opts.dataDir, BLOB_DATABASE_FILE));
      this.db = new Database(join(opts.dataDir, BLOB_DATABASE_FILE), { timeout: 500 });
    } catch (cause) {
      throw new StorageError('cannot open the blob database', { cause });
    }
    try {
      this.db.pragma('locking_mode = EXCLUSIVE');
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      if (opts.cacheKiB !== undefined) this.db.pragma(`cache_size = -${Math.floor(opts.cacheKiB)}`);
      this.db.exec(SCHEMA);
    } catch (cause) {
      this.db.close();
      throw new StorageError('cannot prepare the blob database', { cause });
    }
    const db = this.db;
    this.stmt = {
      get: db.prepare('SELECT * FROM blobs WHERE bid = ?'),
      insert: db.prepare('INSERT INTO blobs (bid, uk, dk, size, created, expires) VALUES (?, ?, ?, ?, ?, ?)'),
      setHave: db.prepare('UPDATE blobs SET have = ? WHERE bid = ?'),
      finish: db.prepare('UPDATE blobs SET done = 1, expires = ? WHERE bid = ?'),
      remove: db.prepare('DELETE FROM blobs WHERE bid = ?'),
      expired: db.prepare('SELECT * FROM blobs WHERE expires <= ? ORDER BY expires LIMIT ?'),
    };
    const total = db
      .prepare('SELECT COALESCE(SUM(MIN(have * ?, size)), 0) AS s, COUNT(*) AS n FROM blobs')
      .get(BLOB_CHUNK_BYTES) as { s: number; n: number };
    this.stored = total.s;
    this.count = total.n;
  }

  /** Bytes stored by every blob, finished or not. */
  get storedBytes(): number {
    return this.stored;
  }

  private path(bid: Uint8Array): string {
    return join(this.folder, toHex(bid));
  }

  /** Runs `fn` alone for this blob: chunks of one blob are stored one after another. */
  private locked<T>(bid: Uint8Array, fn: () => Promise<T>): Promise<T> {
    const key = toHex(bid);
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return run;
  }

  private check(): void {
    if (this.closed) throw new StorageError('blob store is closed');
  }

  /** Registers a blob of `size` bytes; QuotaError when it is too big or does not fit now. */
  create(bid: Uint8Array, uk: Uint8Array, dk: Uint8Array, size: number, now: number): BlobRecord {
    this.check();
    if (size > this.opts.maxBlobBytes)
      throw new QuotaError(`blob larger than this relay's limit of ${this.opts.maxBlobBytes} bytes`);
    if (this.stored + size > this.opts.maxTotalBytes) throw new QuotaError('relay blob storage is full');
    const expires = now + this.opts.uploadTtlMs;
    try {
      this.stmt.insert.run(bid, uk, dk, size, now, expires);
    } catch (cause) {
      throw new StorageError('blob id already in use', { cause });
    }
    this.count += 1;
    return { bid, uk, dk, size, have: 0, done: false, created: now, expires };
  }

  /** The blob, unless it does not exist (NotFoundError) or has expired (ExpiredError). */
  get(bid: Uint8Array, now: number): BlobRecord {
    this.check();
    const row = this.stmt.get.get(bid);
    if (!row) throw new NotFoundError('no such blob');
    const record = toRecord(row);
    if (record.expires <= now) throw new ExpiredError('blob has expired');
    return record;
  }

  /**
   * Stores chunk `n`, which must be the next one; `check` runs under the blob's lock on the
   * current record first (the authenticator, the chunk's length). A chunk already stored
   * is accepted again without writing (its `ok` may have been lost).
   */
  put(
    bid: Uint8Array,
    n: number,
    data: Uint8Array,
    now: number,
    check: (b: BlobRecord) => void,
  ): Promise<void> {
    return this.locked(bid, async () => {
      const blob = this.get(bid, now);
      check(blob);
      if (blob.done) throw new ProtocolError('blob is already finished');
      if (n < blob.have) return;
      if (n > blob.have) throw new ProtocolError(`chunk ${n} out of order: the relay has ${blob.have}`);
      if (this.stored + data.length > this.opts.maxTotalBytes)
        throw new QuotaError('relay blob storage is full');
      let file: FileHandle | undefined;
      try {
        // Chunk 0 starts the file afresh; a later one first drops whatever a crash left
        // beyond the chunks recorded, then writes at its offset.
        file = await open(this.path(bid), n === 0 ? 'w' : 'r+', 0o600);
        if (n > 0) await file.truncate(n * BLOB_CHUNK_BYTES);
        await file.write(data, 0, data.length, n * BLOB_CHUNK_BYTES);
        await file.datasync();
      } catch (cause) {
        throw new StorageError('blob chunk write failed', { cause });
      } finally {
        await file?.close();
      }
      this.check();
      this.stmt.setHave.run(n + 1, bid);
      this.stored += data.length;
    });
  }

  /**
   * Checks the whole blob against `hash` (BLAKE2b-256 of the ciphertext). A blob that does
   * not match is deleted and VerificationError thrown; one that matches is kept `blobTtlMs`.
   */
  finish(
    bid: Uint8Array,
    hash: Uint8Array,
    now: number,
    check: (b: BlobRecord) => void,
  ): Promise<BlobRecord> {
    return this.locked(bid, async () => {
      const blob = this.get(bid, now);
      check(blob);
      const count = blobChunkCount(blob.size);
      if (blob.have < count) throw new ProtocolError(`upload incomplete: ${blob.have} of ${count} chunks`);
      const actual = await this.hashFile(bid, blob.size);
      if (blob.done) {
        if (!equalBytes(actual, hash)) throw new VerificationError('blob hash does not match');
        return blob;
      }
      if (!equalBytes(actual, hash)) {
        await this.remove(blob);
        throw new VerificationError('blob hash does not match; the blob was deleted');
      }
      this.check();
      const expires = now + this.opts.blobTtlMs;
      this.stmt.finish.run(expires, bid);
      return { ...blob, done: true, expires };
    });
  }

  /** Deletes a blob (its uploader took the message back); `check` runs on it first. */
  delete(bid: Uint8Array, now: number, check: (b: BlobRecord) => void): Promise<void> {
    return this.locked(bid, async () => {
      const blob = this.get(bid, now);
      check(blob);
      await this.remove(blob);
    });
  }

  /** Chunk `n` of a finished blob. */
  async read(blob: BlobRecord, n: number): Promise<Uint8Array> {
    const count = blobChunkCount(blob.size);
    if (!blob.done) throw new ProtocolError('blob is not finished');
    if (n >= count) throw new NotFoundError(`the blob has ${count} chunks`);
    const length = n < count - 1 ? BLOB_CHUNK_BYTES : blob.size - (count - 1) * BLOB_CHUNK_BYTES;
    const out = new Uint8Array(length);
    let file: FileHandle | undefined;
    try {
      file = await open(this.path(blob.bid), 'r');
      const { bytesRead } = await file.read(out, 0, length, n * BLOB_CHUNK_BYTES);
      if (bytesRead !== length) throw new StorageError('blob file is shorter than recorded');
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw new StorageError('blob chunk read failed', { cause });
    } finally {
      await file?.close();
    }
    return out;
  }

  private async hashFile(bid: Uint8Array, size: number): Promise<Uint8Array> {
    const hasher = createHasher(32);
    const buffer = new Uint8Array(HASH_READ_BYTES);
    let file: FileHandle | undefined;
    try {
      file = await open(this.path(bid), 'r');
      for (let offset = 0; offset < size; ) {
        const want = Math.min(HASH_READ_BYTES, size - offset);
        const { bytesRead } = await file.read(buffer, 0, want, offset);
        if (bytesRead !== want) throw new StorageError('blob file is shorter than recorded');
        hasher.update(buffer.subarray(0, want));
        offset += want;
      }
    } catch (cause) {
      if (cause instanceof StorageError) throw cause;
      throw new StorageError('blob read failed', { cause });
    } finally {
      await file?.close();
    }
    return hasher.digest();
  }

  private async remove(blob: BlobRecord): Promise<void> {
    this.check();
    const { changes } = this.stmt.remove.run(blob.bid);
    if (changes > 0) {
      this.stored -= Math.min(blob.have * BLOB_CHUNK_BYTES, blob.size);
      this.count -= 1;
    }
    await rm(this.path(blob.bid), { force: true });
  }

  /** Deletes every expired blob, record and file; returns how many. */
  async purgeExpired(now: number): Promise<number> {
    let n = 0;
    for (;;) {
      this.check();
      const rows = this.stmt.expired.all(now, 500);
      for (const row of rows) {
        const blob = toRecord(row);
        await this.locked(blob.bid, async () => {
          const current = this.stmt.get.get(blob.bid);
          if (current && current.expires <= now) {
            await this.remove(blob);
            n += 1;
          }
        });
      }
      if (rows.length < 500) return n;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.locks.values()]);
    this.closed = true;
    this.db.close();
  }
}
