/**
 * The Node backend of the account store: one SQLite file (WAL), a table of records. The file
 * and its journal files are the owner's alone (0600), old ones included.
 */
import { chmodSync, closeSync, existsSync, openSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { StorageError, UsageError } from '@parus/core';
import { checkStoreName, type Store, type StoreEntry, type StoreOp } from '../store.ts';

export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, string], { value: Buffer }>;
  private readonly listStmt: Database.Statement<[string], { key: string; value: Buffer }>;
  private readonly putStmt: Database.Statement<[string, string, Uint8Array]>;
  private readonly delStmt: Database.Statement<[string, string]>;
  private readonly apply: (ops: readonly StoreOp[]) => void;
  private closed = false;

  constructor(path: string) {
    try {
      makePrivate(path);
      this.db = new Database(path);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS records (
           collection TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
           PRIMARY KEY (collection, key)) WITHOUT ROWID`,
      );
    } catch (cause) {
      throw new StorageError('cannot open the account database', { cause });
    }
    this.getStmt = this.db.prepare('SELECT value FROM records WHERE collection = ? AND key = ?');
    this.listStmt = this.db.prepare('SELECT key, value FROM records WHERE collection = ? ORDER BY key');
    this.putStmt = this.db.prepare(
      'INSERT OR REPLACE INTO records (collection, key, value) VALUES (?, ?, ?)',
    );
    this.delStmt = this.db.prepare('DELETE FROM records WHERE collection = ? AND key = ?');
    this.apply = this.db.transaction((ops: readonly StoreOp[]) => {
      for (const op of ops) {
        if (op.type === 'put') this.putStmt.run(op.collection, op.key, op.value);
        else this.delStmt.run(op.collection, op.key);
      }
    });
  }

  private check(): void {
    if (this.closed) throw new UsageError('store is closed');
  }

  async get(collection: string, key: string): Promise<Uint8Array | undefined> {
    this.check();
    checkStoreName('collection', collection);
    checkStoreName('key', key);
    const row = this.getStmt.get(collection, key);
    return row ? new Uint8Array(row.value) : undefined;
  }

  async list(collection: string): Promise<StoreEntry[]> {
    this.check();
    checkStoreName('collection', collection);
    return this.listStmt.all(collection).map((r) => ({ key: r.key, value: new Uint8Array(r.value) }));
  }

  async batch(ops: readonly StoreOp[]): Promise<void> {
    this.check();
    for (const op of ops) {
      checkStoreName('collection', op.collection);
      checkStoreName('key', op.key);
    }
    try {
      this.apply(ops);
    } catch (cause) {
      throw new StorageError('account database write failed', { cause });
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

/**
 * Creates the database file 0600 before SQLite does (SQLite gives the -wal and -shm files it
 * creates the mode of the database file), and tightens the files of an existing account.
 */
function makePrivate(path: string): void {
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    if (existsSync(file) && (statSync(file).mode & 0o777) !== 0o600) chmodSync(file, 0o600);
  }
}
