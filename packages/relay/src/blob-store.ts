/**
 * Where a relay keeps blobs (blob-commands.ts, docs/decisions/0010-blobs.md, 0048): one
 * interface, so SQLite with files in the data folder (stores/sqlite/blob-store.ts) and
 * PostgreSQL shared by several relay processes (stores/postgres/postgres-blob-store.ts, chunks
 * as bytea rows or as files in a shared folder) are interchangeable. A method may answer at
 * once or with a promise; either way a change is durable before it settles.
 */

export interface BlobRecord {
  bid: Uint8Array;
  /** X25519 keys that authenticate uploads (uk) and downloads (dk). */
  uk: Uint8Array;
  dk: Uint8Array;
  size: number;
  /** Chunks stored, in order from 0. */
  have: number;
  done: boolean;
  created: number;
  expires: number;
}

/** Where the chunks are: the data folder's SQLite store, PostgreSQL rows, or a shared folder. */
export type BlobStoreKind = 'sqlite' | 'postgres' | 'folder';

export interface BlobStore {
  readonly kind: BlobStoreKind;
  /** Blobs stored (finished or not), as last counted. */
  readonly count: number;
  /** Bytes stored by every blob, finished or not, as last counted (for the storage budget). */
  readonly storedBytes: number;
  /** Registers a blob of `size` bytes; QuotaError when it is too big or does not fit now. */
  create(
    bid: Uint8Array,
    uk: Uint8Array,
    dk: Uint8Array,
    size: number,
    now: number,
  ): BlobRecord | Promise<BlobRecord>;
  /** The blob, unless it does not exist (NotFoundError) or has expired (ExpiredError). */
  get(bid: Uint8Array, now: number): BlobRecord | Promise<BlobRecord>;
  /**
   * Stores chunk `n`, which must be the next one; `check` runs on the current record first
   * (the authenticator, the chunk's length), alone for this blob. A chunk already stored is
   * accepted again without writing (its `ok` may have been lost).
   */
  put(
    bid: Uint8Array,
    n: number,
    data: Uint8Array,
    now: number,
    check: (b: BlobRecord) => void,
  ): Promise<void>;
  /**
   * Checks the whole blob against `hash` (BLAKE2b-256 of the ciphertext). A blob that does
   * not match is deleted and VerificationError thrown; one that matches is kept `blobTtlMs`.
   */
  finish(bid: Uint8Array, hash: Uint8Array, now: number, check: (b: BlobRecord) => void): Promise<BlobRecord>;
  /** Deletes a blob (its uploader took the message back); `check` runs on it first. */
  delete(bid: Uint8Array, now: number, check: (b: BlobRecord) => void): Promise<void>;
  /** Chunk `n` of a finished blob. */
  read(blob: BlobRecord, n: number): Promise<Uint8Array>;
  /** Deletes every expired blob and its chunks; returns how many. */
  purgeExpired(now: number): Promise<number>;
  close(): Promise<void>;
}
