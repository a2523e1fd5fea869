/**
 * Paces the frames of one relay connection to the rate limit the relay announced in `welcome`
 * (its token bucket per connection, relay/src/connection.ts). A burst (an account flushing
 * hundreds of group payloads at once) then waits here, in order, where it can be cancelled,
 * rather than in the relay's socket: a relay reads a connection over its rate at that rate,
 * its socket paused (docs/decisions/0023).
 *
 * The client keeps below the relay's numbers — 90 % of the rate and half the burst — since
 * frames can bunch up on the way and reach the relay faster than they left.
 */
import { TokenBucket } from '@parus/core';

export class FramePacer {
  private readonly bucket: TokenBucket;
  private waiting: Array<() => void> = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(announced: { rate: number; burst: number }, clock: () => number = () => performance.now()) {
    this.bucket = new TokenBucket(announced.rate * 0.9, Math.max(1, Math.floor(announced.burst / 2)), clock);
  }

  /** Frames waiting for their turn. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  /**
   * Nothing when a frame may go now; else a promise that resolves when it may. Turns are given
   * in the order they were asked for.
   */
  turn(): Promise<void> | undefined {
    if (this.queued === 0 && this.bucket.take()) return undefined;
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.schedule();
    });
  }

  /** Lets every waiting frame go at once (the connection ended: they fail there, not here). */
  release(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const waiting = this.waiting.slice(this.head);
    this.waiting = [];
    this.head = 0;
    for (const resolve of waiting) resolve();
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        while (this.queued > 0 && this.bucket.take()) this.waiting[this.head++]!();
        if (this.queued > 0) this.schedule();
        else {
          this.waiting = [];
          this.head = 0;
        }
      },
      Math.max(1, Math.ceil(this.bucket.msUntil())),
    );
  }
}
