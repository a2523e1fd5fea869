import type { RelayLimits } from '@parus/relay';

/**
 * The relay's per-connection limits are sized for people, not for a load generator that
 * sends as fast as its window lets it: raise the frame rate and the hello timeout (1,000
 * clients set up one after another) and the fan-out copy budget (one sender feeds every
 * recipient). Every bench client connects from 127.0.0.1, so the limits per source address
 * (connections, queue creations, stored bytes: docs/decisions/0023) are raised too, and the
 * queue creations of one connection (a load client sets up many queues on one). Nothing about
 * storage or checks changes.
 */
export const BENCH_RELAY_LIMITS: Partial<RelayLimits> = {
  framesPerSecond: 1_000_000,
  frameBurst: 1_000_000,
  helloTimeoutMs: 120_000,
  fanoutCopiesPerSecond: 100_000_000,
  maxConnectionsPerAddress: 1_000_000,
  queueCreationBurst: 1_000_000,
  addressQueueCreationBurst: 1_000_000,
  addressStoredByteBurst: 1e15,
  addressStoredBytesPerMinute: 1e15,
};
