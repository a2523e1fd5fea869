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
 *
 * Targeted hints (decision 0065): every process remembers which process last took each
 * queue's subscription (its `sub` event), and sends `stored` for that queue to that process
 * only; to every process when it does not know (`acked`, rare, goes to every process). A process that gets one for a
 * queue it does not hold (its subscriber left or moved, and the sender has not heard yet)
 * sends it on to every process; a `stored` event that a process sends to every process says
 * it does not hold those queues, so the others forget it as their holder. A process gone from
 * the bus (nobody heard what was sent to it) is forgotten as the holder of anything. The
 * store stays the truth: a hint lost on any of these paths delays a delivery until the
 * subscriber's next read, and loses nothing.
 */
import { toHex } from '@parus/core';
import type { QueueStore, StoredMessage } from '../queue-store.ts';
import type { Subscriptions } from '../subscriptions.ts';
import type { BusEvent, BusSender, RelayBus } from './bus.ts';

export interface ClusterOptions {
  bus: RelayBus;
  store: QueueStore;
  subscriptions: Subscriptions;
  onError?: (error: unknown) => void;
  /** Queues whose holder elsewhere is remembered; the oldest are forgotten beyond. */
  maxHolders?: number;
}

/** Default for ClusterOptions.maxHolders (about 100 bytes each). */
export const MAX_HOLDERS = 500_000;

type Item = { rid: Uint8Array; seq: number };

export class ClusterDelivery {
  /** Messages taken here whose sender is not answered yet, by toHex(rid). */
  private readonly unsettled = new Map<string, Set<StoredMessage>>();
  /** The process (origin) that last took each queue's subscription elsewhere, by toHex(rid); oldest first. */
  private readonly holders = new Map<string, string>();
  private readonly maxHolders: number;

  constructor(private readonly opts: ClusterOptions) {
    this.maxHolders = opts.maxHolders ?? MAX_HOLDERS;
  }

  /** Starts listening; the bus must not have been started yet. */
  start(relay: string): Promise<void> {
    return this.opts.bus.start(relay, {
      onEvent: (event, from) => this.heard(event, from),
      onReconnect: () => {
        // `sub` events of the break may be lost too: every queue's holder is unknown again.
        this.holders.clear();
        this.opts.subscriptions.rereadAll();
      },
      onGone: (origin) => this.forgetProcess(origin),
    });
  }

  /** How many queues' holders elsewhere are known (for tests and status). */
  get knownHolders(): number {
    return this.holders.size;
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
          this.opts.bus.publish(
            { t: 'stored', items: [{ rid: message.rid, seq: message.seq }] },
            this.holders.get(key),
          );
      },
      () => this.forget(key, message),
    );
  }

  /** Fan-out copies committed here (fanout.ts): those whose queue nobody here holds are told. */
  fannedOut(copies: ReadonlyArray<{ rid: Uint8Array; seq: number; key: string }>): void {
    // By destination: the holder's process, or every process (undefined).
    const items = new Map<string | undefined, Item[]>();
    for (const copy of copies) {
      if (this.opts.subscriptions.has(copy.key)) continue;
      const to = this.holders.get(copy.key);
      let list = items.get(to);
      if (!list) items.set(to, (list = []));
      list.push({ rid: copy.rid.slice(), seq: copy.seq });
    }
    for (const [to, list] of items) this.opts.bus.publish({ t: 'stored', items: list }, to);
  }

  /** A connection here took the queue's subscription: one elsewhere ends. */
  subscribed(rid: Uint8Array): void {
    this.holders.delete(toHex(rid));
    this.opts.bus.publish({ t: 'sub', rid: rid.slice() });
  }

  /** Acks of a queue whose subscription is not held here: the process that delivered them frees their places. */
  ackedHere(rid: Uint8Array, mids: readonly Uint8Array[]): void {
    // Copies: the ids may be views of a received frame.
    this.opts.bus.publish({ t: 'acked', rid: rid.slice(), mids: mids.map((mid) => mid.slice()) });
  }

  queueDeleted(rid: Uint8Array): void {
    const key = toHex(rid);
    this.unsettled.delete(key);
    this.holders.delete(key);
    this.opts.bus.publish({ t: 'deleted', rid: rid.slice() });
  }

  private heard(event: BusEvent, from: BusSender = { origin: '', direct: false }): void {
    const { subscriptions, store } = this.opts;
    switch (event.t) {
      case 'stored': {
        let notHeld: Item[] | undefined;
        for (const item of event.items) {
          const key = toHex(item.rid);
          if (subscriptions.has(key)) {
            subscriptions.notified(item.rid, item.seq);
            continue;
          }
          // Sent to every process: the sender does not hold the queue.
          if (!from.direct) {
            if (this.holders.get(key) === from.origin) this.holders.delete(key);
          } else (notHeld ??= []).push(item);
        }
        // Sent here as the holder, which this process no longer is: every process hears it
        // (and forgets this one as its holder).
        if (notHeld) this.opts.bus.publish({ t: 'stored', items: notHeld });
        return;
      }
      case 'sub': {
        const key = toHex(event.rid);
        this.remember(key, from.origin);
        // The takeover of one process, across processes: the holder here gets `end`.
        if (subscriptions.has(key)) {
          subscriptions.queueDeleted(event.rid);
          // A hint sent here (as the holder) before its sender heard of the takeover went to
          // the old subscriber: the new holder reads the queue once more (a seq above any
          // cursor: a read, no rewind).
          if (from.origin !== '')
            this.opts.bus.publish(
              { t: 'stored', items: [{ rid: event.rid, seq: Number.MAX_SAFE_INTEGER }] },
              from.origin,
            );
        }
        // What is held here for that queue is written now, and told once written.
        for (const message of this.unsettled.get(key) ?? []) store.writeSoon(message);
        return;
      }
      case 'acked':
        subscriptions.ackedKeys(event.rid, event.mids.map(toHex));
        return;
      case 'deleted': {
        const key = toHex(event.rid);
        this.unsettled.delete(key);
        this.holders.delete(key);
        subscriptions.queueDeleted(event.rid);
        return;
      }
    }
  }

  /** `origin` took the queue's subscription: the newest entry, the oldest forgotten beyond the bound. */
  private remember(key: string, origin: string): void {
    if (origin === '') return;
    this.holders.delete(key);
    this.holders.set(key, origin);
    if (this.holders.size > this.maxHolders) this.holders.delete(this.holders.keys().next().value!);
  }

  /** A process is gone from the bus: it holds nothing any more. */
  private forgetProcess(origin: string): void {
    for (const [key, holder] of this.holders) if (holder === origin) this.holders.delete(key);
  }

  private forget(key: string, message: StoredMessage): void {
    const pending = this.unsettled.get(key);
    if (!pending) return;
    pending.delete(message);
    if (pending.size === 0) this.unsettled.delete(key);
  }
}
