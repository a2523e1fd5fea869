/**
 * Every bound the relay enforces, in one place, with the defaults an operator gets. A relay
 * is run by anyone for anyone (DESIGN.md "Relays and the network"), so each resource a
 * stranger can make it spend — connections, subscriptions, frames, stored bytes — has one.
 */
import {
  BLOB_CHUNK_BYTES,
  MAX_BLOB_BYTES,
  MAX_FANOUT_ENTRIES,
  MAX_FRAME_BYTES,
  UsageError,
} from '@parus/core';

export interface RelayLimits {
  /** Open WebSocket connections; the next upgrade gets HTTP 503. */
  maxConnections: number;
  /**
   * Open connections from one source address (an IPv6 address counts by its /64); the next
   * upgrade from it gets HTTP 429. Behind a reverse proxy every client has the proxy's address.
   */
  maxConnectionsPerAddress: number;
  /** Queues one connection may create at once (`new`)... */
  queueCreationBurst: number;
  /** ...and then per minute. */
  queueCreationsPerMinute: number;
  /** Queues the connections of one source address may create at once... */
  addressQueueCreationBurst: number;
  /** ...and then per minute. */
  addressQueueCreationsPerMinute: number;
  /**
   * Bytes the relay stores for one source address (1:1 message bodies, a fan-out's shared
   * body once, blob chunks) at once...
   */
  addressStoredByteBurst: number;
  /** ...and then per minute. */
  addressStoredBytesPerMinute: number;
  /**
   * The relay's storage budget: bytes of the queue database in use (queues, messages, fan-out
   * bodies and copies) plus blob bytes. At it, no new queue or blob is taken (QUOTA) and
   * /health says `storageFull`; existing queues keep taking and delivering messages.
   */
  maxStoredBytes: number;
  /** Time a peer has to finish the close handshake the relay started before its socket is cut. */
  closeGraceMs: number;
  /** Queues one connection may be subscribed to at once. */
  maxSubscriptionsPerConnection: number;
  /** Messages waiting in one queue. */
  maxQueueMessages: number;
  /** Stored (sealed) bytes waiting in one queue. */
  maxQueueBytes: number;
  /** How long a message waits for its recipient before it is dropped. */
  messageTtlMs: number;
  /** How often expired messages are purged from the store. */
  purgeIntervalMs: number;
  /**
   * Token bucket per connection: sustained frames per second... A connection over it is read
   * at this rate (its socket paused: TCP backpressure), never refused or closed for it
   * (docs/decisions/0023).
   */
  framesPerSecond: number;
  /** ...and how many may arrive at once. */
  frameBurst: number;
  /** Messages delivered but not yet acked, per subscribed queue. */
  deliveryWindow: number;
  /** Time a new connection has to send `hello`. */
  helloTimeoutMs: number;
  /** Interval of WebSocket pings; a connection that missed the previous pong is dropped. */
  heartbeatMs: number;
  /** Bytes queued for a slow reader before its connection is closed. */
  maxBufferedBytes: number;
  /** Card records (sealed cards behind short invitation links, decision 0045) held at once. */
  maxCardRecords: number;
  /** The longest a card record is kept, whatever its owner asks. */
  maxCardRecordTtlMs: number;
  /** Largest blob (encrypted file) the relay takes, in bytes. */
  maxBlobBytes: number;
  /** Bytes of all blobs together, finished or still uploading. */
  maxBlobTotalBytes: number;
  /** How long a finished blob is kept. */
  blobTtlMs: number;
  /** How long an unfinished upload keeps its reservation. */
  blobUploadTtlMs: number;
  /** Token bucket per connection for blob chunk bytes, up and down: bytes per second... */
  blobBytesPerSecond: number;
  /** ...and how many may pass at once (at least one chunk). */
  blobByteBurst: number;
  /** Fan-out lists on the relay (fanout.ts). */
  maxFanoutLists: number;
  /** Fan-out lists one connection may create. */
  maxFanoutListsPerConnection: number;
  /** Entries on one fan-out list; at most core's MAX_FANOUT_ENTRIES. */
  maxFanoutEntries: number;
  /** Token bucket per connection for fan-out copies: sustained copies per second (burst: one full list). */
  fanoutCopiesPerSecond: number;
  /** Forwards to other relays of the cloud held at once, waiting for their answer (mesh/forward-store.ts). */
  maxForwardsHeld: number;
  /**
   * How long a 1:1 message waits in memory for its recipient's ack before it is written
   * (docs/decisions/0034): acked in that time, it never touches the disk, and its sender's
   * `ok` follows the ack; else it is written and fsynced, and the `ok` follows that. 0 writes
   * every message in the commit of its own turn.
   */
  ackWaitMs: number;
  /** Bytes of such messages waiting at once; past it they are all written at the next commit. */
  maxHeldBytes: number;
}

export const DEFAULT_RELAY_LIMITS: Readonly<RelayLimits> = Object.freeze({
  maxConnections: 10_000,
  maxConnectionsPerAddress: 64,
  queueCreationBurst: 1_024,
  queueCreationsPerMinute: 120,
  addressQueueCreationBurst: 4_096,
  addressQueueCreationsPerMinute: 480,
  addressStoredByteBurst: 64 * 1024 * 1024,
  addressStoredBytesPerMinute: 64 * 1024 * 1024,
  maxStoredBytes: 16 * 1024 * 1024 * 1024,
  closeGraceMs: 2_000,
  maxSubscriptionsPerConnection: 1_000,
  maxQueueMessages: 10_000,
  maxQueueBytes: 64 * 1024 * 1024,
  messageTtlMs: 21 * 24 * 60 * 60 * 1000,
  purgeIntervalMs: 60 * 1000,
  framesPerSecond: 500,
  frameBurst: 1_000,
  deliveryWindow: 128,
  helloTimeoutMs: 10 * 1000,
  heartbeatMs: 30 * 1000,
  maxBufferedBytes: 64 * 1024 * 1024,
  maxCardRecords: 100_000,
  maxCardRecordTtlMs: 400 * 24 * 60 * 60 * 1000,
  maxBlobBytes: 100 * 1024 * 1024,
  maxBlobTotalBytes: 10 * 1024 * 1024 * 1024,
  blobTtlMs: 21 * 24 * 60 * 60 * 1000,
  blobUploadTtlMs: 24 * 60 * 60 * 1000,
  blobBytesPerSecond: 16 * 1024 * 1024,
  blobByteBurst: 4 * 1024 * 1024,
  maxFanoutLists: 100_000,
  maxFanoutListsPerConnection: 64,
  maxFanoutEntries: MAX_FANOUT_ENTRIES,
  fanoutCopiesPerSecond: 50_000,
  maxForwardsHeld: 100_000,
  ackWaitMs: 250,
  maxHeldBytes: 64 * 1024 * 1024,
});

/**
 * The limits of `parus relay --small` (RelayOptions.small), for a board with 512 MB of memory:
 * what a relay can be made to hold in memory at once shrinks with them. A connection at rest
 * costs the relay about 10 KiB (docs/decisions/0035), a subscription a few hundred bytes
 * plus its delivery window, a slow reader up to maxBufferedBytes; the defaults allow far
 * more of each than 512 MB hold. Limits given explicitly (`--limit`) apply on top.
 */
export const SMALL_RELAY_LIMITS: Readonly<Partial<RelayLimits>> = Object.freeze({
  maxConnections: 2_000,
  maxConnectionsPerAddress: 32,
  maxSubscriptionsPerConnection: 256,
  deliveryWindow: 32,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxStoredBytes: 4 * 1024 * 1024 * 1024,
  maxBlobTotalBytes: 2 * 1024 * 1024 * 1024,
  maxFanoutLists: 10_000,
  maxCardRecords: 10_000,
  fanoutCopiesPerSecond: 10_000,
  maxHeldBytes: 8 * 1024 * 1024,
});

const TIMER_LIMITS: ReadonlySet<keyof RelayLimits> = new Set([
  'ackWaitMs',
  'purgeIntervalMs',
  'helloTimeoutMs',
  'heartbeatMs',
  'closeGraceMs',
]);
/** Node turns longer timer delays into 1 ms, so such a limit would mean "constantly". */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Limits for which 0 means "none" (ackWaitMs: write at once). */
const ZERO_ALLOWED: ReadonlySet<keyof RelayLimits> = new Set(['ackWaitMs']);

/**
 * Fills in defaults (of the small profile's limits when `small`) and checks that every limit
 * given is a finite positive number.
 */
export function resolveLimits(partial: Partial<RelayLimits> = {}, small = false): RelayLimits {
  const limits: RelayLimits = { ...DEFAULT_RELAY_LIMITS, ...(small ? SMALL_RELAY_LIMITS : {}) };
  for (const key of Object.keys(DEFAULT_RELAY_LIMITS) as Array<keyof RelayLimits>) {
    const value = partial[key];
    if (value === undefined) continue;
    if (
      typeof value !== 'number' ||
      !Number.isFinite(value) ||
      value < 0 ||
      (value === 0 && !ZERO_ALLOWED.has(key))
    ) {
      throw new UsageError(`relay limit ${key} must be a finite positive number`);
    }
    if (TIMER_LIMITS.has(key) && value > MAX_TIMER_MS) {
      throw new UsageError(`relay limit ${key} must be at most ${MAX_TIMER_MS} ms`);
    }
    limits[key] = value;
  }
  if (limits.blobByteBurst < BLOB_CHUNK_BYTES)
    throw new UsageError(`relay limit blobByteBurst must be at least one chunk (${BLOB_CHUNK_BYTES} bytes)`);
  if (limits.addressStoredByteBurst < MAX_FRAME_BYTES)
    throw new UsageError(
      `relay limit addressStoredByteBurst must be at least one frame (${MAX_FRAME_BYTES} bytes)`,
    );
  if (limits.maxBlobBytes > MAX_BLOB_BYTES)
    throw new UsageError(`relay limit maxBlobBytes must be at most ${MAX_BLOB_BYTES}`);
  if (limits.maxFanoutEntries > MAX_FANOUT_ENTRIES) {
    throw new UsageError(`relay limit maxFanoutEntries must be at most ${MAX_FANOUT_ENTRIES}`);
  }
  for (const key of Object.keys(partial)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_RELAY_LIMITS, key)) {
      throw new UsageError(`unknown relay limit ${key}`);
    }
  }
  return limits;
}
