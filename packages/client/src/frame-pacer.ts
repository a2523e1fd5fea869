/**
 * Paces the frames of one relay connection to the rate limit the relay announced in `welcome`
 * (its token bucket per connection, relay/src/rate-limit.ts). A burst (an account flushing
 * hundreds of group payloads at once) then waits here, in order, instead of being refused by
 * the relay frame by frame and, past its strike limit, disconnected.
 *
 * The client keeps below the relay's numbers — 90 % of the rate and half the burst — since
 * frames can bunch up on the way and reach the relay faster than they left.
 */
export class FramePacer {
  private readonly perMs: number;
  private readonly burst: number;
  private tokens: number;
  private last: number;
  private waiting: Array<() => void> = [];
  private head = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    announced: { rate: number; burst: number },
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.perMs = (announced.rate * 0.9) / 1000;
    this.burst = Math.max(1, Math.floor(announced.burst / 2));
    this.tokens = this.burst;
    this.last = clock();
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
    this.refill();
    if (this.queued === 0 && this.tokens >= 1) {
      this.tokens -= 1;
      return undefined;
    }
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

  private refill(): void {
    const now = this.clock();
    this.tokens = Math.min(this.burst, this.tokens + Math.max(0, now - this.last) * this.perMs);
    this.last = now;
  }

  private schedule(): void {
    if (this.timer !== undefined) return;
    const wait = Math.max(1, Math.ceil((1 - this.tokens) / this.perMs));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refill();
      while (this.queued > 0 && this.tokens >= 1) {
        this.tokens -= 1;
        this.waiting[this.head++]!();
      }
      if (this.queued > 0) this.schedule();
      else {
        this.waiting = [];
        this.head = 0;
      }
    }, wait);
  }
}
