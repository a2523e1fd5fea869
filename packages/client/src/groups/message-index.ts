/**
 * What the group engine must know of a group's stored messages to write or take in one more,
 * kept in memory so that neither reads the whole conversation (issue 4 §9: a sender's cost
 * that stays constant as the group grows): the DAG heads and next Lamport clock as messages
 * claim them and as they are placed (seed 003 anti-backdating), when each message was first
 * superseded, and each author's message times (public room rate limits, room-limits.ts).
 *
 * Built once from the stored records, then told of every message stored after. A message that
 * changes its place (a late one confirmed) makes `put` answer false: the caller drops the index
 * and builds it again from the store (rare: confirmations only).
 */
import { DagFrontier, toHex } from '@parus/core';
import type { GroupMessageRecord } from './group-records.ts';
import type { TimedMessage } from './room-limits.ts';

/** At most this many parents a message names (the heads beyond are left to later messages). */
const MAX_PARENTS = 32;

export interface NextPosition {
  parents: Uint8Array[];
  lamport: number;
}

export class GroupMessageIndex {
  private readonly claimed = new DagFrontier();
  private readonly placed = new DagFrontier();
  /** Ids of messages placed where they arrived (not confirmed yet). */
  private readonly late = new Set<string>();
  /** Per parent id: the earliest time a message naming it arrived. */
  private readonly supersededAt = new Map<string, number>();
  private readonly times = new Map<string, TimedMessage[]>();
  private firstReceived = Infinity;

  static from(records: readonly GroupMessageRecord[]): GroupMessageIndex {
    const index = new GroupMessageIndex();
    for (const r of records) index.put(r);
    return index;
  }

  get size(): number {
    return this.claimed.size;
  }

  /** Takes a stored message in; false if it moved (the index is stale: build it again). */
  put(r: GroupMessageRecord): boolean {
    const id = toHex(r.id);
    if (this.claimed.has(r.id)) return this.late.has(id) === (r.place !== undefined);
    this.claimed.add(r);
    this.placed.add({
      id: r.id,
      parents: r.place?.parents ?? r.parents,
      lamport: r.place?.lamport ?? r.lamport,
      ts: r.ts,
    });
    if (r.place) this.late.add(id);
    for (const p of r.parents) {
      const k = toHex(p);
      const at = this.supersededAt.get(k);
      if (at === undefined || r.received < at) this.supersededAt.set(k, r.received);
    }
    if (r.received < this.firstReceived) this.firstReceived = r.received;
    const author = toHex(r.author);
    const list = this.times.get(author);
    const timed = { author: r.author, ts: r.ts };
    if (list) list.push(timed);
    else this.times.set(author, [timed]);
    return true;
  }

  /** Where my next message goes: the heads as messages claim them, and the next clock. */
  next(): NextPosition {
    return { parents: this.claimed.heads().slice(-MAX_PARENTS), lamport: this.claimed.nextLamport() };
  }

  /** Where a late message is placed instead: after everything as placed here. */
  nextPlaced(): NextPosition {
    return { parents: this.placed.heads().slice(-MAX_PARENTS), lamport: this.placed.nextLamport() };
  }

  nextLamport(): number {
    return this.claimed.nextLamport();
  }

  /** `author`'s messages with their claimed times. */
  timesOf(author: Uint8Array): readonly TimedMessage[] {
    return this.times.get(toHex(author)) ?? [];
  }

  /**
   * Seed 003 anti-backdating: true if a message naming `parents` claims a place that other
   * messages superseded, all of them longer than `windowMs` before `now` (or claims to be first
   * in a conversation that was not empty long ago).
   */
  backdated(parents: readonly Uint8Array[], now: number, windowMs: number): boolean {
    if (this.size === 0) return false;
    if (parents.length === 0) return this.firstReceived < now - windowMs;
    let latest = -1;
    for (const p of parents) {
      if (!this.claimed.has(p)) continue;
      const at = this.supersededAt.get(toHex(p));
      if (at === undefined) return false; // a parent that is still a head
      latest = Math.max(latest, at);
    }
    return latest >= 0 && latest < now - windowMs;
  }
}
