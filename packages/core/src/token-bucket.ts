/**
 * A token bucket: `perSecond` tokens flow in, at most `burst` are kept. Pure (the clock is a
 * parameter), so the relay's limits (frames, fan-out copies per connection) and the client's
 * pacing of its frames to those limits count the same way.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    readonly burst: number,
    private readonly clock: () => number,
  ) {
    this.tokens = burst;
    this.last = clock();
  }

  /** The tokens there are now. */
  level(): number {
    const now = this.clock();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
    return this.tokens;
  }

  /** Takes `cost` tokens if there are that many; whether it did. */
  take(cost = 1): boolean {
    if (this.level() < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens are there (0 when they are). */
  msUntil(cost = 1): number {
    const missing = cost - this.level();
    return missing <= 0 ? 0 : (missing * 1000) / this.perSecond;
  }
}
