/**
 * What the account must know of a 1:1 conversation's stored messages to write or take in one
 * more, kept in memory so that neither reads the whole conversation: the DAG heads, the next
 * Lamport clock and the parents still missing (core's `DagFrontier`), and the messages an
 * incoming `unsend` already took back before they arrived.
 *
 * Built once from the stored records, then told of every message stored after it (message
 * records are never deleted: an unsent message stays as a tombstone with its id and parents).
 */
import { DagFrontier, compareBytes, toHex } from '@parus/core';
import type { MessageRecord } from './records.ts';

/** At most this many parents a message names (the heads beyond are left to later messages). */
const MAX_PARENTS = 32;

export interface ConversationPosition {
  parents: Uint8Array[];
  lamport: number;
}

export class ConversationIndex {
  private readonly frontier = new DagFrontier();
  /** Targets of the contact's `unsend` messages (hex ids). */
  private readonly takenBack = new Set<string>();

  static from(records: readonly MessageRecord[]): ConversationIndex {
    const index = new ConversationIndex();
    for (const r of records) index.put(r);
    return index;
  }

  get size(): number {
    return this.frontier.size;
  }

  /** Takes a stored message in (again: nothing changes). */
  put(r: MessageRecord): void {
    this.frontier.add(r);
    if (r.kind === 'unsend' && r.dir === 'in' && r.target) this.takenBack.add(toHex(r.target));
  }

  /** Where my next message goes: after the current heads, with the next clock. */
  next(): ConversationPosition {
    return { parents: this.frontier.heads().slice(-MAX_PARENTS), lamport: this.frontier.nextLamport() };
  }

  nextLamport(): number {
    return this.frontier.nextLamport();
  }

  /** Parents named by stored messages that are not stored themselves (to ask for again). */
  missingParents(): Uint8Array[] {
    return this.frontier.missing();
  }

  /** The parents missing once `r` is stored too (`r` itself is then not missing). */
  missingWith(r: MessageRecord): Uint8Array[] {
    const own = toHex(r.id);
    const out = new Map<string, Uint8Array>();
    for (const id of this.frontier.missing()) out.set(toHex(id), id);
    for (const p of r.parents) if (!this.frontier.has(p)) out.set(toHex(p), p);
    out.delete(own);
    return [...out.values()].sort(compareBytes);
  }

  /** Whether the contact took this message back before it arrived here. */
  takenBackBeforeArrival(id: Uint8Array): boolean {
    return this.takenBack.has(toHex(id));
  }
}
