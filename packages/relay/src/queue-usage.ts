/**
 * How many messages and bytes each queue holds (its quota), kept in memory and written to
 * the `queues` row once per commit, not once per message: a fan-out to 1,000 queues would
 * otherwise update 1,000 rows for every `fsend` of a commit (docs/decisions/0015).
 *
 * The group commit runs each mutation in a savepoint (sqlite-queue-store.ts). Changes are
 * logged per mutation: a mutation that fails is undone here as its savepoint is in SQLite;
 * the changes of the mutations that succeed are summed per queue and written by flush() in
 * the same transaction; a failed commit undoes them all. So what this holds is always what
 * the database holds, plus the transaction under way.
 */

export interface Usage {
  n: number;
  b: number;
}

interface Change {
  key: string;
  rid: Uint8Array;
  n: number;
  b: number;
}

/** Queues kept in memory between commits; past it the map starts again from the database. */
const MAX_CACHED = 200_000;

export class QueueUsage {
  /** Committed usage plus the transaction under way, by rid (hex). */
  private readonly current = new Map<string, Usage>();
  /** The transaction's changes per queue, written by flush(). */
  private readonly pending = new Map<string, Change>();
  /** The running mutation's changes, to undo if it fails. */
  private mutation: Change[] = [];

  constructor(private readonly load: (rid: Uint8Array) => Usage | undefined) {}

  /** The queue's usage now; undefined when it has no row (deleted, or never was). */
  get(key: string, rid: Uint8Array): Usage | undefined {
    let usage = this.current.get(key);
    if (!usage) {
      usage = this.load(rid);
      if (usage) this.current.set(key, usage);
    }
    return usage;
  }

  /** Adds to a queue's usage (negative to free); get() it first. */
  add(key: string, rid: Uint8Array, n: number, b: number): void {
    const usage = this.current.get(key);
    if (!usage) return;
    usage.n += n;
    usage.b += b;
    this.mutation.push({ key, rid, n, b });
  }

  /** The mutation succeeded: its changes join the transaction. */
  keepMutation(): void {
    for (const c of this.mutation) {
      const sum = this.pending.get(c.key);
      if (sum) {
        sum.n += c.n;
        sum.b += c.b;
      } else this.pending.set(c.key, { ...c });
    }
    this.mutation = [];
  }

  /** The mutation failed and its savepoint rolled back. */
  undoMutation(): void {
    this.undo(this.mutation);
    this.mutation = [];
  }

  /** Writes the transaction's changes, one statement per queue; inside the transaction. */
  flush(write: (n: number, b: number, rid: Uint8Array) => void): void {
    for (const c of this.pending.values()) if (c.n !== 0 || c.b !== 0) write(c.n, c.b, c.rid);
  }

  /** The transaction committed. */
  committed(): void {
    this.pending.clear();
    if (this.current.size > MAX_CACHED) this.current.clear();
  }

  /** The transaction failed: back to what the database holds. */
  rolledBack(): void {
    this.undoMutation();
    this.undo([...this.pending.values()]);
    this.pending.clear();
  }

  /** The queue is gone (after its deletion committed). */
  forget(key: string): void {
    this.current.delete(key);
  }

  private undo(changes: Change[]): void {
    for (let i = changes.length - 1; i >= 0; i--) {
      const c = changes[i]!;
      const usage = this.current.get(c.key);
      if (!usage) continue;
      usage.n -= c.n;
      usage.b -= c.b;
    }
  }
}
