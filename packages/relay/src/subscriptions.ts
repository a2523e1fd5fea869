/**
 * Who receives which queue, and the flow of `msg` frames to them.
 *
 * A queue has at most one subscriber: a new `sub` takes the queue over and the previous
 * connection gets `end`. Delivery goes in seq order through a window: at most `window`
 * messages per queue are out and unacked; each ack lets another one out. Messages come
 * from the store (the backlog at `sub`, anything beyond the window) or, when the
 * subscriber is caught up, straight from a just-committed send, without a read.
 */
import { toHex } from '@parus/core';
import type { EndFrame, MsgFrame } from '@parus/core';
import type { QueueStore, StoredMessage } from './queue-store.ts';

/** The connection side of a subscription. */
export interface Subscriber {
  push(frame: MsgFrame | EndFrame): void;
}

interface Subscription {
  rid: Uint8Array;
  holder: Subscriber;
  /** Highest seq handed to the holder. */
  cursor: number;
  /**
   * Seqs of the messages delivered and not yet acked, by mid (hex); made with the first
   * delivery (an idle subscription holds no map: docs/decisions/0042).
   */
  inflight: Map<string, number> | undefined;
  /** The last store read found nothing beyond `cursor`, and nothing was skipped since. */
  caughtUp: boolean;
  /**
   * The cursor before the latest rewind (notified()): up to it, a row read again may be one
   * delivered and not acked yet, which is not sent twice. 0 when never rewound.
   */
  rewoundFrom: number;
  /** A store read is under way... */
  pumping: boolean;
  /** ...and something changed meanwhile, so read again afterwards. */
  again: boolean;
  active: boolean;
}

export interface SubscriptionsOptions {
  store: QueueStore;
  window: number;
  now: () => number;
  onError: (error: unknown) => void;
}

export class Subscriptions {
  private readonly byQueue = new Map<string, Subscription>();
  /** The queues (keys) each holder subscribes to: one key alone, as most hold one, or a set. */
  private readonly byHolder = new Map<Subscriber, string | Set<string>>();
  private deliveredTotal = 0;

  constructor(private readonly opts: SubscriptionsOptions) {}

  get size(): number {
    return this.byQueue.size;
  }

  get delivered(): number {
    return this.deliveredTotal;
  }

  countFor(holder: Subscriber): number {
    const held = this.byHolder.get(holder);
    return held === undefined ? 0 : typeof held === 'string' ? 1 : held.size;
  }

  holds(holder: Subscriber, rid: Uint8Array): boolean {
    return this.byQueue.get(toHex(rid))?.holder === holder;
  }

  /**
   * Makes `holder` the queue's subscriber, from the start of the queue (a repeated `sub`
   * on the same connection starts over too: the client asked for everything again). A
   * previous holder on another connection gets `end`. Call `pump` once the `ok` is out.
   */
  subscribe(holder: Subscriber, rid: Uint8Array): void {
    const key = toHex(rid);
    const previous = this.byQueue.get(key);
    if (previous) {
      this.detach(key, previous);
      if (previous.holder !== holder) previous.holder.push({ t: 'end', rid: previous.rid });
    }
    const sub: Subscription = {
      rid,
      holder,
      cursor: 0,
      inflight: undefined,
      rewoundFrom: 0,
      caughtUp: false,
      pumping: false,
      again: false,
      active: true,
    };
    this.byQueue.set(key, sub);
    const held = this.byHolder.get(holder);
    if (held === undefined || held === key) this.byHolder.set(holder, key);
    else if (typeof held === 'string') this.byHolder.set(holder, new Set([held, key]));
    else held.add(key);
  }

  /** Whether a connection of this process holds the queue (`key` is toHex(rid)). */
  has(key: string): boolean {
    return this.byQueue.has(key);
  }

  /**
   * Another process of this relay stored message `seq` for the queue (bus/cluster.ts): read
   * the store. Several processes commit side by side, so a seq may become visible after a
   * higher one was delivered here: the cursor goes back below it, and what is read again that
   * was delivered and not acked yet is skipped, not sent twice.
   */
  notified(rid: Uint8Array, seq: number): void {
    const sub = this.byQueue.get(toHex(rid));
    if (!sub) return;
    if (seq <= sub.cursor) this.rewind(sub, seq - 1);
    sub.caughtUp = false;
    void this.fill(sub);
  }

  /** Reads every subscription's queue again from its start (hints of the bus may have been lost). */
  rereadAll(): void {
    for (const sub of this.byQueue.values()) {
      this.rewind(sub, 0);
      sub.caughtUp = false;
      void this.fill(sub);
    }
  }

  private rewind(sub: Subscription, to: number): void {
    sub.rewoundFrom = Math.max(sub.rewoundFrom, sub.cursor);
    sub.cursor = Math.min(sub.cursor, to);
  }

  /** Delivers what the window allows from the store. */
  pump(rid: Uint8Array): void {
    const sub = this.byQueue.get(toHex(rid));
    if (sub) void this.fill(sub);
  }

  /**
   * A send committed: deliver it now if the subscriber is caught up, else from the store.
   * True when it went out now.
   */
  stored(message: StoredMessage): boolean {
    return this.storedLazily(message.rid, message.seq, toHex(message.rid), () => message);
  }

  /**
   * As stored(), for a message whose body is only made (sealed, fanout.ts) when it goes out
   * now: `message` is called at most once, and not at all when nobody is subscribed; if
   * it gives nothing (the queue went meanwhile), nothing goes out. `key` is toHex(rid).
   * True when it went out now.
   */
  storedLazily(rid: Uint8Array, seq: number, key: string, message: () => StoredMessage | undefined): boolean {
    const sub = this.byQueue.get(key);
    if (!sub) return false;
    if (sub.pumping) {
      sub.again = true;
      return false;
    }
    if (sub.caughtUp && seq > sub.cursor && inflightCount(sub) < this.opts.window) {
      const m = message();
      if (!m) return false;
      this.deliver(sub, m);
      return true;
    }
    sub.caughtUp = false;
    void this.fill(sub);
    return false;
  }

  /**
   * For a batched ack: the seq of each of `mids` delivered to `holder` and not acked yet
   * (undefined for the others), and the ids' map keys for ackedKeys().
   */
  inflightOf(
    holder: Subscriber,
    rid: Uint8Array,
    mids: readonly Uint8Array[],
  ): { seqs: Array<number | undefined>; keys: string[] } {
    const sub = this.byQueue.get(toHex(rid));
    const keys = mids.map(toHex);
    const seqs = keys.map((key) => (sub?.holder === holder ? sub.inflight?.get(key) : undefined));
    return { seqs, keys };
  }

  /**
   * The recipient acked (or tried to ack) these ids (keys from inflightOf): they no longer
   * take places in the window.
   */
  ackedKeys(rid: Uint8Array, keys: readonly string[]): void {
    const sub = this.byQueue.get(toHex(rid));
    if (!sub) return;
    let freed = false;
    for (const key of keys) if (sub.inflight?.delete(key)) freed = true;
    if (!freed || sub.caughtUp) return;
    void this.fill(sub);
  }

  /** The queue is gone: its subscriber gets `end`. */
  queueDeleted(rid: Uint8Array): void {
    const key = toHex(rid);
    const sub = this.byQueue.get(key);
    if (!sub) return;
    this.detach(key, sub);
    sub.holder.push({ t: 'end', rid: sub.rid });
  }

  /** The holder's connection closed. */
  dropAll(holder: Subscriber): void {
    const held = this.byHolder.get(holder);
    if (!held) return;
    for (const key of typeof held === 'string' ? [held] : [...held]) {
      const sub = this.byQueue.get(key);
      if (sub) this.detach(key, sub);
    }
    this.byHolder.delete(holder);
  }

  private detach(key: string, sub: Subscription): void {
    sub.active = false;
    this.byQueue.delete(key);
    const held = this.byHolder.get(sub.holder);
    if (held === key) this.byHolder.delete(sub.holder);
    else if (typeof held === 'object') {
      held.delete(key);
      if (held.size === 1) this.byHolder.set(sub.holder, held.values().next().value!);
    }
  }

  private deliver(sub: Subscription, message: StoredMessage): void {
    sub.cursor = message.seq;
    (sub.inflight ??= new Map()).set(toHex(message.mid), message.seq);
    this.deliveredTotal += 1;
    sub.holder.push({ t: 'msg', rid: sub.rid, mid: message.mid, body: message.body });
  }

  private async fill(sub: Subscription): Promise<void> {
    if (sub.pumping) {
      sub.again = true;
      return;
    }
    sub.pumping = true;
    try {
      do {
        sub.again = false;
        const room = this.opts.window - inflightCount(sub);
        if (room <= 0) {
          sub.caughtUp = false;
          return;
        }
        const rows = await this.opts.store.messagesAfter(sub.rid, sub.cursor, room, this.opts.now());
        if (!sub.active) return;
        let skipped = false;
        for (const row of rows) {
          if (row.seq <= sub.cursor) continue;
          if (row.seq <= sub.rewoundFrom && sub.inflight?.has(toHex(row.mid))) {
            // Read again after a rewind: out already, and not acked yet.
            sub.cursor = row.seq;
            skipped = true;
            continue;
          }
          this.deliver(sub, row);
        }
        if (sub.cursor >= sub.rewoundFrom) sub.rewoundFrom = 0;
        sub.caughtUp = rows.length < room;
        if (skipped && !sub.caughtUp) sub.again = true;
      } while (sub.again && sub.active);
    } catch (error) {
      // The store failed; the messages stay stored and go out on the next ack or sub.
      sub.caughtUp = false;
      this.opts.onError(error);
    } finally {
      sub.pumping = false;
    }
  }
}

function inflightCount(sub: Subscription): number {
  return sub.inflight?.size ?? 0;
}
