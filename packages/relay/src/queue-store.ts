/**
 * Where a relay keeps its queues and their waiting messages (DESIGN.md "Lookup keys").
 * One interface, so SQLite (the default) and a later PostgreSQL store are interchangeable.
 *
 * Every method is asynchronous. A mutation's promise settles only once the change is
 * durable: the relay answers `ok` after that, never before (DESIGN.md "Delivery": "the
 * relay acks after a durable write"). Mutations apply in the order they were called. Reads
 * see every mutation whose promise has settled.
 *
 * Bodies are stored as the relay sealed them (sealDelivery); the store never sees what a
 * sender sent.
 */

export interface QueueRecord {
  /** Recipient id, 24 random bytes. */
  rid: Uint8Array;
  /** Sender id, 24 random bytes. */
  sid: Uint8Array;
  /** Recipient's Ed25519 key: signs sub, ack, secure and del. */
  rk: Uint8Array;
  /** Sender's Ed25519 key once the queue is secured; then it signs every send. */
  sk: Uint8Array | null;
  /** The 32-byte key the relay seals this queue's messages with (core queueKey). */
  queueKey: Uint8Array;
  /** Creation time, ms since the epoch. */
  created: number;
}

export interface NewMessage {
  rid: Uint8Array;
  /** Message id, 16 random bytes chosen by the relay. */
  mid: Uint8Array;
  /** Receive time, ms since the epoch. */
  ts: number;
  /** The sealed body. */
  body: Uint8Array;
  /** Time from which the message is never delivered again, ms since the epoch. */
  expires: number;
}

export interface StoredMessage extends NewMessage {
  /** Position in the store; grows with every stored message, so it orders a queue. */
  seq: number;
}

export interface AppendOptions {
  /**
   * The sender key the send was checked against (null: accepted unsigned). If the queue's
   * key differs when the write happens (a `secure` got there first), the send is refused
   * with AuthError rather than stored.
   */
  checkedSk: Uint8Array | null;
}

/** A message accept() took: it may go out now; `settled` says when its sender may be answered. */
export interface Accepted {
  message: StoredMessage;
  /**
   * Resolves once the message is durable, or acked by its recipient (or deleted with its
   * queue) before it was written; rejects when the write that would make it durable fails.
   */
  settled: Promise<void>;
}

export interface StoreCounts {
  queues: number;
  messages: number;
}

export type SecureResult = 'secured' | 'unchanged';

export interface QueueStore {
  queueByRid(rid: Uint8Array): Promise<QueueRecord | undefined>;
  queueBySid(sid: Uint8Array): Promise<QueueRecord | undefined>;
  /** How many messages of the queue are not expired at `now`. */
  pendingCount(rid: Uint8Array, now: number): Promise<number>;
  /** Up to `limit` unexpired messages with seq > `afterSeq`, in seq order. */
  messagesAfter(rid: Uint8Array, afterSeq: number, limit: number, now: number): Promise<StoredMessage[]>;

  /** Throws StorageError if rid or sid already exist. */
  createQueue(queue: QueueRecord): Promise<void>;
  /**
   * Sets the sender key of an unsecured queue. The same key again is 'unchanged'; another
   * key on a secured queue throws ProtocolError; an unknown queue throws NotFoundError.
   */
  secureQueue(rid: Uint8Array, sk: Uint8Array): Promise<SecureResult>;
  /** Deletes the queue and its messages; NotFoundError if there is none. */
  deleteQueue(rid: Uint8Array): Promise<void>;
  /**
   * Stores a message. QuotaError when the queue is full, NotFoundError when the queue is
   * gone, AuthError when its sender key changed (see AppendOptions).
   */
  append(message: NewMessage, opts: AppendOptions): Promise<StoredMessage>;
  /**
   * Takes a message as append() does (the same checks, in call order with the other
   * mutations) and resolves as soon as it is taken, before it is durable: it may be handed
   * to its recipient then, and reads see it. `settled` tells when the sender may hear `ok`
   * (held-messages.ts: a message acked within the store's wait is never written).
   */
  accept(message: NewMessage, opts: AppendOptions): Promise<Accepted>;
  /** An accepted message that nobody will ack soon (its recipient is offline): written at once. */
  writeSoon(message: StoredMessage): void;
  /**
   * Deletes message `mid` of queue `rid`; NotFoundError if the queue has no such message.
   * `seq`, when the caller knows it (the message was delivered by this relay run), lets the
   * store find it without a search (a wrong one costs the search).
   */
  deleteMessage(rid: Uint8Array, mid: Uint8Array, seq?: number): Promise<void>;
  /**
   * Deletes several messages of queue `rid` (a batched ack), each as deleteMessage would, in
   * one write: all of them, or none and NotFoundError when one is not in the queue.
   */
  deleteMessages(rid: Uint8Array, acks: ReadonlyArray<{ mid: Uint8Array; seq?: number }>): Promise<void>;
  /** Deletes every message expired at `now`; resolves to how many. */
  purgeExpired(now: number): Promise<number>;

  /** Current totals, kept in memory (for the status page and health checks). */
  counts(): StoreCounts;
  /** Waits until every mutation called so far is durable. */
  flush(): Promise<void>;
  /** Flushes, then releases the store; later calls fail with StorageError. */
  close(): Promise<void>;
}
