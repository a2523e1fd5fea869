/**
 * Where a relay keeps its fan-out lists (fanout.ts, docs/decisions/0011-fan-out.md): one
 * interface, so SQLite (stores/sqlite/sqlite-fanout-store.ts, the default) and PostgreSQL
 * (stores/postgres/postgres-fanout-store.ts) are interchangeable. A list is its id, its key
 * `fk` and a set of sender ids; a fan-out puts one body into every queue on the list, through
 * the queue store's writes, so an `fadd`/`frem` and the `fsend`s around it apply in the order
 * they came. Every mutation settles once durable, as QueueStore's do.
 */

/** One body for every queue on a list. */
export interface SharedMessage {
  /** Receive time, ms since the epoch. */
  ts: number;
  expires: number;
  /** What each queue gets sealed: core encodeDeliveryPlaintext(ts, body). */
  plaintext: Uint8Array;
  /** Message ids for `n` queues, 16 random bytes each, concatenated (called when the write runs). */
  newMids: (n: number) => Uint8Array;
}

/** What a fan-out stored, and where it could not. */
export interface SharedAppend {
  /** One per queue that got the message. */
  stored: Array<{ rid: Uint8Array; key: string; queueKey: Uint8Array; mid: Uint8Array; seq: number }>;
  /** Sids of queues that were full. */
  full: Uint8Array[];
  /** Sids of queues that no longer exist. */
  gone: Uint8Array[];
}

export interface FanoutList {
  fk: Uint8Array;
  /** Entries when last committed. */
  entries: number;
}

export interface FanoutStoreOptions {
  /** Lists on the relay. */
  maxLists: number;
  /** Entries on one list. */
  maxEntries: number;
  /** The queue quotas (RelayLimits), which each copy honours like a 1:1 send. */
  maxQueueMessages: number;
  maxQueueBytes: number;
}

export interface FanoutStore {
  /** Lists on the relay (as last counted: other relay processes sharing the store add theirs). */
  readonly size: number;
  list(lid: Uint8Array): Promise<FanoutList | undefined>;
  /** QuotaError when the relay holds its most lists; StorageError when the id is in use. */
  createList(lid: Uint8Array, fk: Uint8Array, now: number): Promise<void>;
  /**
   * Adds sids (already proven) to the list; ones already on it stay. All or nothing:
   * QuotaError past the list's most entries, NotFoundError when the list is gone. Resolves
   * to the list's entries after.
   */
  addEntries(lid: Uint8Array, sids: readonly Uint8Array[], now: number): Promise<number>;
  /** Removes sids from the list; ones not on it are ignored. NotFoundError when the list is gone. */
  removeEntries(lid: Uint8Array, sids: readonly Uint8Array[], now: number): Promise<void>;
  /** Deletes the list and its entries; NotFoundError when there is none. */
  dropList(lid: Uint8Array): Promise<void>;
  /**
   * One body into every secured queue on the list, as the list is when the write runs, in
   * one durable write; full and vanished (or unsecured) queues are skipped and reported.
   * NotFoundError when the list is gone.
   */
  fanout(lid: Uint8Array, message: SharedMessage): Promise<SharedAppend>;
  /** Deletes lists unused since `before`; resolves to how many. */
  purgeUnused(before: number): Promise<number>;
}
