/**
 * A token bucket per connection: `ratePerSecond` tokens flow in, at most `burst` are kept,
 * each frame takes one. A frame that finds the bucket empty is refused (the relay answers
 * QUOTA and does not execute it) and counts as a strike; a connection that collects
 * `maxStrikes` strikes without once letting its bucket fill up again is flooding and gets
 * closed.
 */
import { TokenBucket, UsageError } from '@parus/core';

export interface RateLimitOptions {
  ratePerSecond: number;
  burst: number;
  maxStrikes: number;
  /** Monotonic milliseconds (performance.now()); a parameter so tests can script it. */
  clock: () => number;
}

export type RateDecision = 'allow' | 'refuse' | 'disconnect';

export class RateLimiter {
  private readonly bucket: TokenBucket;
  private strikes = 0;

  constructor(private readonly opts: RateLimitOptions) {
    if (!(opts.ratePerSecond > 0) || !(opts.burst >= 1) || !(opts.maxStrikes >= 1)) {
      throw new UsageError('rate limit needs a positive rate, a burst of at least 1 and at least 1 strike');
    }
    this.bucket = new TokenBucket(opts.ratePerSecond, opts.burst, opts.clock);
  }

  /** Takes `cost` tokens (one per frame; one per byte for a byte bucket). */
  take(cost = 1): RateDecision {
    // A full bucket means the peer paused long enough: forgive earlier strikes.
    if (this.bucket.level() >= this.opts.burst) this.strikes = 0;
    if (this.bucket.take(cost)) return 'allow';
    this.strikes += 1;
    return this.strikes >= this.opts.maxStrikes ? 'disconnect' : 'refuse';
  }
}
