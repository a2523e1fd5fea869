/**
 * The forward queue of a relay (docs/decisions/0033), in its own SQLite file beside the
 * queue database (`mesh.sqlite`: WAL, synchronous FULL, as the queues are):
 *
 * - `forwards`: sends this relay holds for another relay, each kept from the moment it is
 *   committed (only then is it passed on) until the destination's answer comes back, so a
 *   link outage or a restart delays a forward and never loses it. `prev` is the link it
 *   came from (NULL: a client of this relay), where the answer goes back to.
 * - `done`: the forwards answered `stored`, kept until the message would have expired, so
 *   that a forward that comes again (a retry whose answer was lost, a replay) is answered
 *   from here and stores nothing twice.
 *
 * Writes of one event-loop turn are committed together (group commit, as the queue store
 * does): `hold` and `markDone` resolve once their transaction is on disk.
 */
import Database from 'better-sqlite3';
import { QuotaError, StorageError } from '@parus/core';
import { preparePrivateDatabase } from '../private-files.ts';

export const MESH_DATABASE_FILE = 'mesh.sqlite';

export interface HeldForward {
  fid: Uint8Array;
  to: Uint8Array;
  sid: Uint8Array;
  body: Uint8Array;
  auth: Uint8Array | null;
  hops: number;
  /** The link it came from, as a fingerprint; null: a client of this relay. */
  prev: Uint8Array | null;
  created: number;
}

export interface ForwardStoreOptions {
  path: string;
  /** Forwards held at once; over it, QUOTA. */
  maxHeld: number;
}

export class ForwardStore {
  private readonly db: Database.Database;
  private readonly statements: {
    hold: Database.Statement;
    drop: Database.Statement;
    get: Database.Statement;
    all: Database.Statement;
    count: Database.Statement;
    done: Database.Statement;
    isDone: Database.Statement;
    purge: Database.Statement;
    doneCount: Database.Statement;
  };
  private held: number;
  /** Writes waiting for this turn's commit, and who waits for it. */
  private batch: Array<() => void> = [];
  private waiting: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private readonly queued = new Set<string>();
  private scheduled = false;

  constructor(private readonly opts: ForwardStoreOptions) {
    try {
      if (opts.path !== ':memory:') preparePrivateDatabase(opts.path);
      this.db = new Database(opts.path, { timeout: 500 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS forwards (
          fid BLOB PRIMARY KEY, dest BLOB NOT NULL, sid BLOB NOT NULL, body BLOB NOT NULL,
          auth BLOB, hops INTEGER NOT NULL, prev BLOB, created INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS done (
          fid BLOB PRIMARY KEY, expires INTEGER NOT NULL
        ) WITHOUT ROWID;
        CREATE INDEX IF NOT EXISTS done_expires ON done (expires);
      `);
    } catch (cause) {
      throw new StorageError(`cannot open the mesh database ${opts.path}`, { cause });
    }
    const db = this.db;
    this.statements = {
      hold: db.prepare(
        'INSERT OR IGNORE INTO forwards (fid, dest, sid, body, auth, hops, prev, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      drop: db.prepare('DELETE FROM forwards WHERE fid = ?'),
      get: db.prepare('SELECT fid, dest, sid, body, auth, hops, prev, created FROM forwards WHERE fid = ?'),
      all: db.prepare('SELECT fid, dest, prev, created FROM forwards ORDER BY created'),
      count: db.prepare('SELECT count(*) AS n FROM forwards'),
      done: db.prepare('INSERT OR REPLACE INTO done (fid, expires) VALUES (?, ?)'),
      isDone: db.prepare('SELECT 1 FROM done WHERE fid = ?'),
      purge: db.prepare('DELETE FROM done WHERE expires < ?'),
      doneCount: db.prepare('SELECT count(*) AS n FROM done'),
    };
    this.held = (this.statements.count.get() as { n: number }).n;
  }

  get heldCount(): number {
    return this.held;
  }

  /** Commits a forward (resolves once on disk); false when it is already held. QUOTA when the queue is full. */
  async hold(f: HeldForward): Promise<boolean> {
    const k = Buffer.from(f.fid).toString('base64url');
    if (this.queued.has(k) || this.statements.get.get(f.fid) !== undefined) return false;
    if (this.held >= this.opts.maxHeld)
      throw new QuotaError('the relay holds too many forwards; try again later');
    this.held += 1;
    this.queued.add(k);
    await this.write(() => {
      this.statements.hold.run(f.fid, f.to, f.sid, f.body, f.auth, f.hops, f.prev, f.created);
      this.queued.delete(k);
    });
    return true;
  }

  /** Runs `op` in this turn's transaction; resolves once it is committed. */
  private write(op: () => void): Promise<void> {
    this.batch.push(op);
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ resolve, reject }));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.commit());
    }
    return done;
  }

  private commit(): void {
    this.scheduled = false;
    const ops = this.batch;
    const waiting = this.waiting;
    this.batch = [];
    this.waiting = [];
    if (!this.db.open) {
      for (const w of waiting) w.reject(new StorageError('the mesh database is closed'));
      return;
    }
    try {
      this.db.transaction(() => {
        for (const op of ops) op();
      })();
    } catch (cause) {
      const error = new StorageError('cannot write the mesh database', { cause });
      for (const w of waiting) w.reject(error);
      return;
    }
    for (const w of waiting) w.resolve();
  }

  get(fid: Uint8Array): HeldForward | undefined {
    const row = this.statements.get.get(fid) as
      | {
          fid: Buffer;
          dest: Buffer;
          sid: Buffer;
          body: Buffer;
          auth: Buffer | null;
          hops: number;
          prev: Buffer | null;
          created: number;
        }
      | undefined;
    if (!row) return undefined;
    return {
      fid: bytes(row.fid),
      to: bytes(row.dest),
      sid: bytes(row.sid),
      body: bytes(row.body),
      auth: row.auth ? bytes(row.auth) : null,
      hops: row.hops,
      prev: row.prev ? bytes(row.prev) : null,
      created: row.created,
    };
  }

  /** Every held forward's header (no body), oldest first: loaded when the relay starts. */
  headers(): Array<{ fid: Uint8Array; to: Uint8Array; prev: Uint8Array | null; created: number }> {
    return (
      this.statements.all.all() as Array<{ fid: Buffer; dest: Buffer; prev: Buffer | null; created: number }>
    ).map((r) => ({
      fid: bytes(r.fid),
      to: bytes(r.dest),
      prev: r.prev ? bytes(r.prev) : null,
      created: r.created,
    }));
  }

  /**
   * The forward is answered: no longer held; when stored, remembered until `expires`. Committed
   * with the turn's writes, not waited for: lost in a crash, the forward goes again and is
   * answered from the destination's `done`.
   */
  settle(fid: Uint8Array, stored: { expires: number } | undefined): void {
    void this.write(() => {
      if (this.statements.drop.run(fid).changes > 0) this.held -= 1;
      if (stored) this.statements.done.run(fid, stored.expires);
    }).catch(() => undefined);
  }

  /** The destination stored it: remembered until `expires` (resolves once on disk). */
  markDone(fid: Uint8Array, expires: number): Promise<void> {
    return this.write(() => {
      this.statements.done.run(fid, expires);
    });
  }

  isDone(fid: Uint8Array): boolean {
    return this.statements.isDone.get(fid) !== undefined;
  }

  get doneCount(): number {
    return (this.statements.doneCount.get() as { n: number }).n;
  }

  purge(now: number): number {
    return this.statements.purge.run(now).changes;
  }

  close(): void {
    if (this.batch.length > 0) this.commit();
    if (this.db.open) this.db.close();
  }
}

function bytes(b: Buffer): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice();
}
