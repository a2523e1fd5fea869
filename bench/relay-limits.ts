import type { RelayLimits } from '@parus/relay';

/**
 * The relay's per-connection limits are sized for people, not for a load generator that
 * sends as fast as its window lets it: raise the frame rate and the hello timeout (1,000
 * clients set up one after another) and the fan-out copy budget (one sender feeds every
 * recipient). Nothing about storage or checks changes.
 */
export const BENCH_RELAY_LIMITS: Partial<RelayLimits> = {
  framesPerSecond: 1_000_000,
  frameBurst: 1_000_000,
  helloTimeoutMs: 120_000,
  fanoutCopiesPerSecond: 100_000_000,
};
