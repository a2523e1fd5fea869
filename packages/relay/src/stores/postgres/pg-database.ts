/**
 * The PostgreSQL database behind a relay run with `--store postgres://…` (docs/decisions/
 * 0047-postgresql-store.md): one connection pool per relay process, shared by its stores, and
 * the schema, created by whichever process comes first (under an advisory lock, so that two
 * processes starting at once do not race on CREATE TABLE).
 *
 * Every table lives in the database the URL names; several relay processes share it.
 */
import type pg from 'pg';
import { StorageError, UsageError } from '@parus/core';

/** Bumped when the schema changes; a database from a newer relay is refused. */
export const PG_SCHEMA_VERSION = 1;

/** Advisory lock ids (any constants unique to Parus in this database). */
export const LOCK_SCHEMA = 0x70617275_01;
export const LOCK_LISTS = 0x70617275_02;
export const LOCK_RELAY_KEY = 0x70617275_03;
export const LOCK_CARDS = 0x70617275_04;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS parus_meta (
  name text PRIMARY KEY,
  value bytea NOT NULL
);
CREATE TABLE IF NOT EXISTS queues (
  rid bytea PRIMARY KEY,
  sid bytea NOT NULL UNIQUE,
  rk bytea NOT NULL,
  sk bytea,
  qkey bytea NOT NULL,
  created bigint NOT NULL,
  msg_count integer NOT NULL DEFAULT 0,
  msg_bytes bigint NOT NULL DEFAULT 0,
  last_seq bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS messages (
  rid bytea NOT NULL REFERENCES queues(rid) ON DELETE CASCADE,
  seq bigint NOT NULL,
  mid bytea NOT NULL,
  ts bigint NOT NULL,
  expires bigint NOT NULL,
  body bytea NOT NULL,
  PRIMARY KEY (rid, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_by_mid ON messages(rid, mid);
CREATE INDEX IF NOT EXISTS messages_by_expiry ON messages(expires);
CREATE TABLE IF NOT EXISTS fanout_lists (
  lid bytea PRIMARY KEY,
  fk bytea NOT NULL,
  used bigint NOT NULL,
  entries integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS fanout_lists_by_use ON fanout_lists(used);
CREATE TABLE IF NOT EXISTS fanout_entries (
  lid bytea NOT NULL REFERENCES fanout_lists(lid) ON DELETE CASCADE,
  sid bytea NOT NULL,
  PRIMARY KEY (lid, sid)
);
CREATE TABLE IF NOT EXISTS cards (
  cid bytea PRIMARY KEY,
  ck bytea NOT NULL,
  data bytea NOT NULL,
  expires bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_by_expiry ON cards(expires);
`;

/** bigint (int8) columns as numbers: every one here is a count or ms since the epoch. */
function typeParsers(lib: typeof pg): pg.CustomTypesConfig {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === 20 ? (value: string) => Number(value) : lib.types.getTypeParser(oid, format)) as never,
  };
}

/** Checks a `--store` URL: postgres:// or postgresql://, with a host and a database. */
export function checkPostgresUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('the store is not a URL (postgres://USER@HOST:PORT/DB)');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new UsageError('the store URL must start with postgres:// (postgres://USER@HOST:PORT/DB)');
  }
  if (parsed.hostname === '' || parsed.pathname.length <= 1) {
    throw new UsageError('the store URL needs a host and a database (postgres://USER@HOST:PORT/DB)');
  }
  return parsed;
}

/** The URL without its password, for logs and errors. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'postgres://…';
  }
}

export class PgDatabase {
  private constructor(readonly pool: pg.Pool) {}

  /**
   * Connects (UsageError for a malformed URL, StorageError when the server cannot be reached
   * or refuses), then creates the schema if it is missing; nothing is created on failure.
   */
  static async open(url: string, opts: { maxConnections?: number } = {}): Promise<PgDatabase> {
    checkPostgresUrl(url);
    // Loaded only for a PostgreSQL store: a relay on SQLite neither starts slower nor needs the package.
    const { default: lib } = await import('pg');
    const types = typeParsers(lib);
    const pool = new lib.Pool({
      connectionString: url,
      max: opts.maxConnections ?? 8,
      types,
      connectionTimeoutMillis: 20_000,
      idleTimeoutMillis: 30_000,
    });
    // An idle client that loses its server must not crash the relay; the next query reports it.
    pool.on('error', () => {});
    const db = new PgDatabase(pool);
    try {
      await db.transaction(async (c) => {
        await c.query('SELECT pg_advisory_xact_lock($1)', [LOCK_SCHEMA]);
        await c.query(SCHEMA);
        const row = await c.query<{ value: Buffer }>("SELECT value FROM parus_meta WHERE name = 'schema'");
        const version = row.rows[0] ? row.rows[0].value.readUInt32BE(0) : 0;
        if (version > PG_SCHEMA_VERSION) throw new StorageError('the PostgreSQL store is from a newer relay');
        const v = Buffer.alloc(4);
        v.writeUInt32BE(PG_SCHEMA_VERSION);
        await c.query(
          "INSERT INTO parus_meta (name, value) VALUES ('schema', $1) ON CONFLICT (name) DO UPDATE SET value = $1",
          [v],
        );
      });
    } catch (cause) {
      await pool.end().catch(() => {});
      if (cause instanceof StorageError) throw cause;
      throw new StorageError(`cannot open the PostgreSQL store at ${redactedUrl(url)}`, { cause });
    }
    return db;
  }

  /** Runs `run` in one transaction on one connection; rolls back if it throws. */
  async transaction<T>(run: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const value = await run(c);
      await c.query('COMMIT');
      return value;
    } catch (error) {
      await c.query('ROLLBACK').catch(() => {});
      throw error;
    } finally {
      c.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** Whether a PostgreSQL error means "run the transaction again" (deadlock, serialization). */
export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === '40P01' || code === '40001';
}

/** Whether a PostgreSQL error is a unique violation. */
export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown }).code === '23505';
}

/** A Uint8Array view of a Buffer that pg returned. */
export function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
