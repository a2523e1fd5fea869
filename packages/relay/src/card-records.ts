/**
 * Where a relay keeps card records (card-commands.ts, docs/decisions/0045): one interface, so
 * SQLite (stores/sqlite/card-store.ts, `cards.sqlite` in the data folder) and PostgreSQL
 * (stores/postgres/postgres-card-store.ts, shared by several relay processes) are
 * interchangeable. A method may answer at once or with a promise; either way a change is
 * durable before it settles.
 */
export interface CardRecord {
  cid: Uint8Array;
  ck: Uint8Array;
  data: Uint8Array;
  expires: number;
}

export interface CardRecords {
  /** Bytes of the records' data (for the storage budget). */
  readonly storedBytes: number;
  /** QuotaError when the relay holds its most records already. */
  put(record: CardRecord): void | Promise<void>;
  /** NotFoundError for an unknown (or deleted) record, ExpiredError for one past its expiry. */
  get(cid: Uint8Array, now: number): CardRecord | Promise<CardRecord>;
  /** Deletes a record after `check` (its owner's authenticator) accepted it; NotFoundError if none. */
  delete(cid: Uint8Array, check: (r: CardRecord) => void): void | Promise<void>;
  /** Removes the records past their expiry; how many went. */
  purgeExpired(now: number): number | Promise<number>;
  close(): void | Promise<void>;
}
