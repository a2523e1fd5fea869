/**
 * The relay's bus (docs/decisions/0049): how the processes of one relay, sharing one store,
 * tell each other what their subscribers need to hear. One process (no `--bus`) has the
 * LocalBus, which carries nothing and costs nothing; several behind one address share a
 * RedisBus (redis-bus.ts).
 *
 * What goes on the bus is a hint, never data: a message is in the shared store (durable)
 * before any process is told of it, so a lost hint delays a delivery until the subscriber's
 * next read and loses nothing. Events:
 * - `stored`: these queues have a new message at these seqs (a send or a fan-out copy taken
 *   by a process where nobody holds the queue's subscription);
 * - `sub`: a process took a queue's subscription over; another one that held it ends its
 *   own (the `end` frame of a takeover, as within one process) and writes what it still
 *   held of that queue in memory (held-messages.ts);
 * - `acked`: a recipient acked messages on a process other than the one that delivered
 *   them; their places in that process's window are free;
 * - `deleted`: a queue is gone; its subscriber elsewhere gets `end`.
 *
 * `sub`, `deleted` go to every process (the relay's channel). `stored` and `acked` go only to
 * the process that holds the queue's subscriber when this one knows which (learnt from the
 * `sub` events, cluster.ts; decision 0065), to every process otherwise.
 */
import { DecodeError, MAX_ACK_BATCH, MESSAGE_ID_BYTES, QUEUE_ID_BYTES, UsageError } from '@parus/core';

export type BusEvent =
  | { t: 'stored'; items: Array<{ rid: Uint8Array; seq: number }> }
  | { t: 'sub'; rid: Uint8Array }
  | { t: 'acked'; rid: Uint8Array; mids: Uint8Array[] }
  | { t: 'deleted'; rid: Uint8Array };

export interface BusStatus {
  kind: 'local' | 'redis';
  /** Whether the bus is connected now (the local bus always is). */
  connected: boolean;
  published: number;
  received: number;
  /** Of `published`, those sent to one process only; of `received`, those sent to this one only. */
  publishedDirect: number;
  receivedDirect: number;
  /** Sent to one process that was not there any more, and sent to every process instead. */
  missed: number;
}

/** Where an event came from: the publishing process, and whether it was sent to this one only. */
export interface BusSender {
  /** The publishing process (hex of its origin bytes). */
  origin: string;
  direct: boolean;
}

/** What the bus tells the cluster part (cluster.ts). */
export interface BusHandlers {
  onEvent: (event: BusEvent, from: BusSender) => void;
  /** The bus came back after a break: hints (and `sub` events) may have been lost meanwhile. */
  onReconnect: () => void;
  /** A process this one sent to directly was gone (nobody heard it): forget what it held. */
  onGone?: (origin: string) => void;
}

export interface RelayBus {
  readonly kind: 'local' | 'redis';
  /** True when other processes share the store and hear what this one publishes. */
  readonly shared: boolean;
  /** This process on the bus (hex), as other processes see it in BusSender.origin. */
  readonly origin: string;
  /**
   * Starts listening on the channel of `relay` (its fingerprint: processes of another relay
   * on the same Redis hear nothing of these) and on this process's own. `onEvent` gets what
   * the other processes published; `onReconnect` is called when the bus came back after a
   * break (hints may have been lost meanwhile: the subscriptions read the store again).
   */
  start(relay: string, handlers: BusHandlers): Promise<void>;
  /**
   * To every process, or to process `to` only (an origin heard in BusSender). One sent to a
   * process that is gone goes to every process instead, and `onGone` is told.
   */
  publish(event: BusEvent, to?: string): void;
  status(): BusStatus;
  close(): Promise<void>;
}

/** One process: nothing to tell anybody. */
export class LocalBus implements RelayBus {
  readonly kind = 'local';
  readonly shared = false;
  readonly origin = '';
  async start(): Promise<void> {}
  publish(): void {}
  status(): BusStatus {
    return {
      kind: 'local',
      connected: true,
      published: 0,
      received: 0,
      publishedDirect: 0,
      receivedDirect: 0,
      missed: 0,
    };
  }
  async close(): Promise<void> {}
}

/** Checks a `--bus` value: a redis:// or rediss:// URL (UsageError otherwise). */
export function checkBusUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError('--bus takes redis://HOST:PORT');
  }
  if ((parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') || parsed.hostname === '')
    throw new UsageError('--bus takes redis://HOST:PORT');
  return parsed;
}

/** Stored items per bus message; a larger batch goes in several. */
export const MAX_STORED_ITEMS = 4_096;
/** Bytes that name the publishing process, so that it skips its own events. */
export const ORIGIN_BYTES = 8;

const STORED = 1;
const SUB = 2;
const ACKED = 3;
const DELETED = 4;
const ITEM_BYTES = QUEUE_ID_BYTES + 8;

/** [kind][origin][body]: stored: count (u16) then rid and seq (u64) each; acked: rid, count (u8), mids. */
export function encodeBusEvent(origin: Uint8Array, event: BusEvent): Uint8Array {
  const head = 1 + ORIGIN_BYTES;
  let out: Uint8Array;
  switch (event.t) {
    case 'stored': {
      if (event.items.length > MAX_STORED_ITEMS) throw new RangeError('too many items for one bus message');
      out = new Uint8Array(head + 2 + event.items.length * ITEM_BYTES);
      out[0] = STORED;
      const view = new DataView(out.buffer);
      view.setUint16(head, event.items.length);
      event.items.forEach((item, i) => {
        const at = head + 2 + i * ITEM_BYTES;
        out.set(item.rid, at);
        view.setBigUint64(at + QUEUE_ID_BYTES, BigInt(item.seq));
      });
      break;
    }
    case 'acked':
      out = new Uint8Array(head + QUEUE_ID_BYTES + 1 + event.mids.length * MESSAGE_ID_BYTES);
      out[0] = ACKED;
      out.set(event.rid, head);
      out[head + QUEUE_ID_BYTES] = event.mids.length;
      event.mids.forEach((mid, i) => out.set(mid, head + QUEUE_ID_BYTES + 1 + i * MESSAGE_ID_BYTES));
      break;
    case 'sub':
    case 'deleted':
      out = new Uint8Array(head + QUEUE_ID_BYTES);
      out[0] = event.t === 'sub' ? SUB : DELETED;
      out.set(event.rid, head);
      break;
  }
  out.set(origin, 1);
  return out;
}

/** The event and its origin; DecodeError for anything else than what encodeBusEvent makes. */
export function decodeBusEvent(bytes: Uint8Array): { origin: Uint8Array; event: BusEvent } {
  const head = 1 + ORIGIN_BYTES;
  if (bytes.length < head) throw new DecodeError('bus message too short');
  const origin = bytes.slice(1, head);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rid = (): Uint8Array => {
    if (bytes.length !== head + QUEUE_ID_BYTES) throw new DecodeError('bus message of the wrong length');
    return bytes.slice(head, head + QUEUE_ID_BYTES);
  };
  switch (bytes[0]) {
    case STORED: {
      if (bytes.length < head + 2) throw new DecodeError('bus message too short');
      const n = view.getUint16(head);
      if (n > MAX_STORED_ITEMS || bytes.length !== head + 2 + n * ITEM_BYTES)
        throw new DecodeError('bus message of the wrong length');
      const items: Array<{ rid: Uint8Array; seq: number }> = [];
      for (let i = 0; i < n; i++) {
        const at = head + 2 + i * ITEM_BYTES;
        const seq = view.getBigUint64(at + QUEUE_ID_BYTES);
        if (seq > BigInt(Number.MAX_SAFE_INTEGER))
          throw new DecodeError('bus message with a seq out of range');
        items.push({ rid: bytes.slice(at, at + QUEUE_ID_BYTES), seq: Number(seq) });
      }
      return { origin, event: { t: 'stored', items } };
    }
    case ACKED: {
      if (bytes.length < head + QUEUE_ID_BYTES + 1) throw new DecodeError('bus message too short');
      const n = bytes[head + QUEUE_ID_BYTES]!;
      const at = head + QUEUE_ID_BYTES + 1;
      if (n === 0 || n > MAX_ACK_BATCH || bytes.length !== at + n * MESSAGE_ID_BYTES)
        throw new DecodeError('bus message of the wrong length');
      const mids: Uint8Array[] = [];
      for (let i = 0; i < n; i++)
        mids.push(bytes.slice(at + i * MESSAGE_ID_BYTES, at + (i + 1) * MESSAGE_ID_BYTES));
      return { origin, event: { t: 'acked', rid: bytes.slice(head, head + QUEUE_ID_BYTES), mids } };
    }
    case SUB:
      return { origin, event: { t: 'sub', rid: rid() } };
    case DELETED:
      return { origin, event: { t: 'deleted', rid: rid() } };
    default:
      throw new DecodeError('unknown bus message');
  }
}
