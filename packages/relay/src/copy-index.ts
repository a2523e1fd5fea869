/**
 * Which fan-out copies each queue holds, in memory (docs/decisions/0016): the seqs of its
 * copies, in order, and their bytes (for its quota).
 *
 * On disk a copy is a row of `copies` keyed by its seq alone, so the copies of one upload
 * are appended side by side (a few pages per commit) instead of landing in one B-tree page
 * per queue; the order per queue, which a `(rid, seq)` key gave, is kept here instead and
 * rebuilt from `copies` when the relay opens its database. One number per copy held, under
 * the same quotas as the rows themselves (maxQueueMessages per queue).
 *
 * Like queue-usage.ts, changes are logged per mutation of the group commit: a mutation that
 * fails is undone as its savepoint is, a failed commit undoes the transaction's.
 */

export interface HeldCopies {
  /** Seqs of the queue's copies, ascending. */
  seqs: number[];
  bytes: number;
}

const NONE: readonly number[] = [];

export class CopyIndex {
  private readonly queues = new Map<string, HeldCopies>();
  private mutation: Array<() => void> = [];
  private transaction: Array<() => void> = [];
  private total = 0;

  /** Copies held by every queue. */
  get size(): number {
    return this.total;
  }

  /** How many copies the queue holds and their bytes. */
  held(key: string): { n: number; b: number } {
    const q = this.queues.get(key);
    return q ? { n: q.seqs.length, b: q.bytes } : { n: 0, b: 0 };
  }

  /** The queue's copy seqs, ascending (do not change the array). */
  seqsOf(key: string): readonly number[] {
    return this.queues.get(key)?.seqs ?? NONE;
  }

  /** Up to `limit` of the queue's seqs above `after`. */
  after(key: string, after: number, limit: number): number[] {
    const seqs = this.queues.get(key)?.seqs;
    if (!seqs) return [];
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqs[mid]! <= after) lo = mid + 1;
      else hi = mid;
    }
    return seqs.slice(lo, lo + limit);
  }

  /** Opening the database: a copy read back, in seq order; not logged. */
  restore(key: string, seq: number, bytes: number): void {
    this.insert(key, seq, bytes);
  }

  /** One upload's copies: queue `keys[i]` gets seq `first + i`, each of `bytes`. */
  addRun(keys: readonly string[], first: number, bytes: number): void {
    for (let i = 0; i < keys.length; i++) this.insert(keys[i]!, first + i, bytes);
    this.mutation.push(() => {
      for (let i = keys.length - 1; i >= 0; i--) this.delete(keys[i]!, first + i, bytes);
    });
  }

  /** A copy is gone (acked, expired, purged). */
  remove(key: string, seq: number, bytes: number): void {
    if (!this.delete(key, seq, bytes)) return;
    this.mutation.push(() => this.insert(key, seq, bytes));
  }

  /** The queue is gone with its copies. */
  dropQueue(key: string): void {
    const q = this.queues.get(key);
    if (!q) return;
    this.queues.delete(key);
    this.total -= q.seqs.length;
    this.mutation.push(() => {
      this.queues.set(key, q);
      this.total += q.seqs.length;
    });
  }

  keepMutation(): void {
    for (const undo of this.mutation) this.transaction.push(undo);
    this.mutation = [];
  }

  undoMutation(): void {
    for (let i = this.mutation.length - 1; i >= 0; i--) this.mutation[i]!();
    this.mutation = [];
  }

  committed(): void {
    this.transaction = [];
  }

  rolledBack(): void {
    this.undoMutation();
    for (let i = this.transaction.length - 1; i >= 0; i--) this.transaction[i]!();
    this.transaction = [];
  }

  private insert(key: string, seq: number, bytes: number): void {
    let q = this.queues.get(key);
    if (!q) this.queues.set(key, (q = { seqs: [], bytes: 0 }));
    const seqs = q.seqs;
    // Seqs grow: a new copy goes at the end; an undone removal may go back in the middle.
    if (seqs.length === 0 || seqs[seqs.length - 1]! < seq) seqs.push(seq);
    else seqs.splice(this.position(seqs, seq), 0, seq);
    q.bytes += bytes;
    this.total += 1;
  }

  private delete(key: string, seq: number, bytes: number): boolean {
    const q = this.queues.get(key);
    if (!q) return false;
    const at = this.position(q.seqs, seq);
    if (q.seqs[at] !== seq) return false;
    if (at === 0) q.seqs.shift();
    else q.seqs.splice(at, 1);
    q.bytes -= bytes;
    this.total -= 1;
    if (q.seqs.length === 0) this.queues.delete(key);
    return true;
  }

  /** The first index whose seq is not below `seq`. */
  private position(seqs: readonly number[], seq: number): number {
    let lo = 0;
    let hi = seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (seqs[mid]! < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
