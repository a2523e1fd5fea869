/**
 * 1:1 messages the relay has accepted and not yet written (docs/decisions/0034): each waits
 * in memory for its recipient's ack for a few milliseconds (`ackWaitMs`). Acked in that time,
 * it never touches the disk: no insert, no delete, no fsync, and the sender's `ok` follows the
 * ack. Not acked in time, it is written and fsynced with the next commit, and the `ok`
 * follows the fsync. Either way no `ok` goes out before the message is durable or acked by
 * its recipient; a relay that stops before either has answered nothing, and the sender sends
 * again (recipients deduplicate, DESIGN.md "Delivery").
 *
 * The store (sqlite-queue-store.ts) reads them with its own rows (a subscription's backlog, a
 * queue's pending count) and counts them in the queue's quota. Changes run inside the group
 * commit's mutations: what a mutation takes (an ack, a queue deleted) is logged and put back
 * if the mutation fails, like queue-usage.ts and copy-index.ts; what a commit accepted is
 * dropped again if the commit fails.
 */
import type { StoredMessage } from './queue-store.ts';

export interface HeldMessage {
  message: StoredMessage;
  /** toHex(rid). */
  key: string;
  /** When it was accepted (the store's monotonic clock, ms). */
  since: number;
  /** Settles the sender's wait: resolved once durable, acked or deleted with its queue. */
  resolve(): void;
  reject(error: unknown): void;
}

interface QueueHeld {
  /** In seq order. */
  list: HeldMessage[];
  bytes: number;
}

export class HeldMessages {
  /** Every held message by seq, in the order accepted (seqs grow with it). */
  private readonly bySeq = new Map<number, HeldMessage>();
  private readonly byQueue = new Map<string, QueueHeld>();
  private totalBytes = 0;
  /** Taken by the running mutation, to put back if it fails. */
  private mutation: HeldMessage[] = [];
  /** Taken by the commit's mutations that succeeded: settled once it commits. */
  private taken: HeldMessage[] = [];
  /** Accepted by the commit under way: dropped if it fails. */
  private accepted: HeldMessage[] = [];
  /** Held messages to write with the next commit whatever their age (expedite()). */
  private readonly soon = new Set<HeldMessage>();

  /** How many wait to be written with the next commit whatever their age. */
  get expedited(): number {
    return this.soon.size;
  }

  get size(): number {
    return this.bySeq.size;
  }

  get bytes(): number {
    return this.totalBytes;
  }

  /** What the queue holds here, for its quota. */
  held(key: string): { n: number; b: number } {
    const q = this.byQueue.get(key);
    return q ? { n: q.list.length, b: q.bytes } : { n: 0, b: 0 };
  }

  /** The oldest message's acceptance time, if any is held. */
  oldestSince(): number | undefined {
    for (const h of this.bySeq.values()) return h.since;
    return undefined;
  }

  /** A message accepted by the commit under way; its seq is above every seq held. */
  add(h: HeldMessage): void {
    this.insert(h);
    this.accepted.push(h);
  }

  /** Message `seq`, if held, goes with the next commit; false if it is not held. */
  expedite(seq: number): boolean {
    const h = this.bySeq.get(seq);
    if (!h) return false;
    this.soon.add(h);
    return true;
  }

  /** Takes message `mid` of the queue (its seq when known) for an ack; undefined if not held. */
  take(key: string, mid: Uint8Array, seq: number | undefined): HeldMessage | undefined {
    let h = seq === undefined ? undefined : this.bySeq.get(seq);
    if (!h || h.key !== key || !sameBytes(h.message.mid, mid)) {
      h = this.byQueue.get(key)?.list.find((m) => sameBytes(m.message.mid, mid));
    }
    if (!h) return undefined;
    this.remove(h);
    this.mutation.push(h);
    return h;
  }

  /** Takes every message of a queue being deleted. */
  takeQueue(key: string): void {
    const q = this.byQueue.get(key);
    if (!q) return;
    for (const h of [...q.list]) {
      this.remove(h);
      this.mutation.push(h);
    }
  }

  /** Up to `limit` of the queue's messages with seq > `after`, in seq order. */
  after(key: string, after: number, limit: number): StoredMessage[] {
    const out: StoredMessage[] = [];
    for (const h of this.byQueue.get(key)?.list ?? []) {
      if (out.length >= limit) break;
      if (h.message.seq > after) out.push(h.message);
    }
    return out;
  }

  /**
   * Removes and returns the messages accepted at `before` or earlier (every one with `all`),
   * oldest first, for the commit to write. Not logged: the commit settles or fails them.
   */
  takeDue(before: number, all: boolean): HeldMessage[] {
    const out: HeldMessage[] = [];
    for (const h of this.bySeq.values()) {
      if (!all && h.since > before) break;
      out.push(h);
    }
    // Those expedited, of any age (after the old ones, so in seq order still).
    if (!all) for (const h of this.soon) if (h.since > before) out.push(h);
    this.soon.clear();
    for (const h of out) this.remove(h);
    return out;
  }

  keepMutation(): void {
    for (const h of this.mutation) this.taken.push(h);
    this.mutation = [];
  }

  undoMutation(): void {
    this.putBack(this.mutation);
    this.mutation = [];
  }

  /** The commit succeeded: the messages its mutations took are settled (acked, or deleted). */
  committed(): HeldMessage[] {
    const settled = this.taken;
    this.taken = [];
    this.accepted = [];
    return settled;
  }

  /** The commit failed: what it took goes back, what it accepted goes. */
  rolledBack(): void {
    this.undoMutation();
    this.putBack(this.taken);
    this.taken = [];
    for (const h of this.accepted) if (this.bySeq.get(h.message.seq) === h) this.remove(h);
    this.accepted = [];
  }

  private putBack(list: readonly HeldMessage[]): void {
    // Back in seq order: the map's order is what takeDue relies on.
    const all = [...this.bySeq.values(), ...list].sort((a, b) => a.message.seq - b.message.seq);
    this.bySeq.clear();
    for (const q of this.byQueue.values()) q.list.length = 0;
    this.byQueue.clear();
    this.totalBytes = 0;
    for (const h of all) this.insert(h);
  }

  private insert(h: HeldMessage): void {
    this.bySeq.set(h.message.seq, h);
    let q = this.byQueue.get(h.key);
    if (!q) this.byQueue.set(h.key, (q = { list: [], bytes: 0 }));
    q.list.push(h);
    q.bytes += h.message.body.length;
    this.totalBytes += h.message.body.length;
  }

  private remove(h: HeldMessage): void {
    this.bySeq.delete(h.message.seq);
    this.soon.delete(h);
    const q = this.byQueue.get(h.key);
    if (q) {
      const at = q.list.indexOf(h);
      if (at >= 0) q.list.splice(at, 1);
      q.bytes -= h.message.body.length;
      if (q.list.length === 0) this.byQueue.delete(h.key);
    }
    this.totalBytes -= h.message.body.length;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
