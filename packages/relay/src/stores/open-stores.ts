/**
 * Opens the relay's queue and fan-out stores on the backend the operator chose: SQLite in
 * the data folder (the default), or PostgreSQL shared by several relay processes
 * (`--store postgres://…`, docs/decisions/0047-postgresql-store.md). The relay's commands
 * only see the interfaces (queue-store.ts, fanout-store.ts).
 */
import type { Random } from '@parus/core';
import type { FanoutStore, FanoutStoreOptions } from '../fanout-store.ts';
import type { QueueStore } from '../queue-store.ts';
import type { ServerKeys } from '../server-keys.ts';
import { PgDatabase } from './postgres/pg-database.ts';
import { PostgresBlobStore } from './postgres/postgres-blob-store.ts';
import type { PostgresBlobStoreOptions } from './postgres/postgres-blob-store.ts';
import { PostgresCardStore } from './postgres/postgres-card-store.ts';
import { PostgresFanoutStore } from './postgres/postgres-fanout-store.ts';
import { PostgresQueueStore } from './postgres/postgres-queue-store.ts';
import { loadOrCreateStoreServerKeys } from './postgres/postgres-server-keys.ts';
import { SqliteFanoutStore } from './sqlite/sqlite-fanout-store.ts';
import { SqliteQueueStore } from './sqlite/sqlite-queue-store.ts';

export type StoreKind = 'sqlite' | 'postgres';

/** A queue store as the relay process runs it: the interface, its size and its held-message stats. */
export interface RelayQueueStore extends QueueStore {
  storedBytes(): number;
  readonly heldCounts: { acked: number; written: number };
}

export interface RelayStores {
  kind: StoreKind;
  queues: RelayQueueStore;
  lists: FanoutStore;
  /** Closes the stores (after the queue store's flush) and the database connections. */
  close(): Promise<void>;
}

export interface SqliteStoresOptions extends FanoutStoreOptions {
  path: string;
  ackWaitMs: number;
  maxHeldBytes: number;
  sealShared: (queueKey: Uint8Array, mid: Uint8Array, plaintext: Uint8Array) => Uint8Array;
  cacheKiB?: number;
}

export function openSqliteStores(opts: SqliteStoresOptions): RelayStores {
  const queues = new SqliteQueueStore({
    path: opts.path,
    maxQueueMessages: opts.maxQueueMessages,
    maxQueueBytes: opts.maxQueueBytes,
    ackWaitMs: opts.ackWaitMs,
    maxHeldBytes: opts.maxHeldBytes,
    sealShared: opts.sealShared,
    ...(opts.cacheKiB !== undefined ? { cacheKiB: opts.cacheKiB } : {}),
  });
  const lists = new SqliteFanoutStore(queues, opts);
  return { kind: 'sqlite', queues, lists, close: () => queues.close() };
}

/** The PostgreSQL database a relay process opened: its stores are made from it. */
export class PostgresBackend {
  private constructor(readonly db: PgDatabase) {}

  /** UsageError for a malformed URL, StorageError when it cannot be reached; nothing is created then. */
  static async connect(url: string): Promise<PostgresBackend> {
    return new PostgresBackend(await PgDatabase.open(url));
  }

  /** Card records in the shared database (short links open through any process). */
  cards(maxRecords: number): Promise<PostgresCardStore> {
    return PostgresCardStore.open(this.db, maxRecords);
  }

  /** Blobs in the shared database: chunks as bytea rows, or as files in `folder` (decision 0048). */
  blobs(opts: Omit<PostgresBlobStoreOptions, 'db'>): Promise<PostgresBlobStore> {
    return PostgresBlobStore.open({ ...opts, db: this.db });
  }

  keys(secret: Uint8Array, rng: Random, log?: (line: string) => void): Promise<ServerKeys> {
    return loadOrCreateStoreServerKeys({ db: this.db, secret, rng, ...(log ? { log } : {}) });
  }

  async stores(opts: FanoutStoreOptions & Pick<SqliteStoresOptions, 'sealShared'>): Promise<RelayStores> {
    const queues = await PostgresQueueStore.open({
      db: this.db,
      maxQueueMessages: opts.maxQueueMessages,
      maxQueueBytes: opts.maxQueueBytes,
      sealShared: opts.sealShared,
    });
    const lists = await PostgresFanoutStore.open(queues, opts);
    return {
      kind: 'postgres',
      queues,
      lists,
      close: async () => {
        try {
          await queues.close();
        } finally {
          await this.db.close();
        }
      },
    };
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
