/**
 * What the relay's commands tell the other processes of the relay, and what this process does
 * with what they tell it (bus.ts, docs/decisions/0049). Made only when the bus is shared: a
 * relay of one process has none, and its hot path does not pass here.
 *
 * The rule that keeps the guarantees of one process (decision 0034): a process tells the
 * others of a message only once it is in the shared store, durable. A message accepted here
 * and held in memory for a subscriber of this process (held-messages.ts) is nobody else's
 * business until it is written; if that subscriber goes to another process meanwhile (`sub`
 * from there), what this process still holds of the queue is written at once, then told.
 */
import { toHex } from '@parus/core';
import type { QueueStore, StoredMessage } from '../queue-store.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { BusEvent, RelayBus } from './bus.ts';

export interface ClusterOptions {
  bus: RelayBus;
  store: QueueStore;
  subscriptions: Subscriptions;
  onError?: (error: unknown) => void;
}

export class ClusterDelivery {
  /** Messages taken here whose sender is not answered yet, by toHex(rid). */
  private readonly unsettled = new Map<string, Set<StoredMessage>>();

  constructor(private readonly opts: ClusterOptions) {}

  /** Starts listening; the bus must not have been started yet. */
  start(relay: string): Promise<void> {
    return this.opts.bus.start(
      relay,
      (event) => this.heard(event),
      () => this.opts.subscriptions.rereadAll(),
    );
  }

  /**
   * A send taken here (commands.ts deposit). Once it is durable — or acked by its recipient
   * here — and nobody here holds the queue, the other processes hear of it.
   */
  deposited(message: StoredMessage, settled: Promise<void>): void {
    const key = toHex(message.rid);
    let pending = this.unsettled.get(key);
    if (!pending) this.unsettled.set(key, (pending = new Set()));
    pending.add(message);
    settled.then(
      () => {
        this.forget(key, message);
        if (!this.opts.subscriptions.has(key))
          this.opts.bus.publish({ t: 'stored', items: [{ rid: message.rid, seq: message.seq }] });
      },
      () => this.forget(key, message),
    );
  }

  /** Fan-out copies committed here (fanout.ts): those whose queue nobody here holds are told. */
  fannedOut(copies: ReadonlyArray<{ rid: Uint8Array; seq: number; key: string }>): void {
    const items: Array<{ rid: Uint8Array; seq: number }> = [];
    for (const copy of copies)
      if (!this.opts.subscriptions.has(copy.key)) items.push({ rid: copy.rid.slice(), seq: copy.seq });
    if (items.length > 0) this.opts.bus.publish({ t: 'stored', items });
  }

  /** A connection here took the queue's subscription: one elsewhere ends. */
  subscribed(rid: Uint8Array): void {
    this.opts.bus.publish({ t: 'sub', rid: rid.slice() });
  }

  /** Acks of a queue whose subscription is not held here: the process that delivered them frees their places. */
  ackedHere(rid: Uint8Array, mids: readonly Uint8Array[]): void {
    // Copies: the ids may be views of a received frame.
    this.opts.bus.publish({ t: 'acked', rid: rid.slice(), mids: mids.map((mid) => mid.slice()) });
  }

  queueDeleted(rid: Uint8Array): void {
    this.unsettled.delete(toHex(rid));
    this.opts.bus.publish({ t: 'deleted', rid: rid.slice() });
  }

  private heard(event: BusEvent): void {
    const { subscriptions, store } = this.opts;
    switch (event.t) {
      case 'stored':
        for (const item of event.items) subscriptions.notified(item.rid, item.seq);
        return;
      case 'sub': {
        const key = toHex(event.rid);
        // The takeover of one process, across processes: the holder here gets `end`.
        if (subscriptions.has(key)) subscriptions.queueDeleted(event.rid);
        // What is held here for that queue is written now, and told once written.
        for (const message of this.unsettled.get(key) ?? []) store.writeSoon(message);
        return;
      }
      case 'acked':
        subscriptions.ackedKeys(event.rid, event.mids.map(toHex));
        return;
      case 'deleted':
        this.unsettled.delete(toHex(event.rid));
        subscriptions.queueDeleted(event.rid);
        return;
    }
  }

  private forget(key: string, message: StoredMessage): void {
    const pending = this.unsettled.get(key);
    if (!pending) return;
    pending.delete(message);
    if (pending.size === 0) this.unsettled.delete(key);
  }
}
