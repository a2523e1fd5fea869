import { UsageError } from '@parus/core';
import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../src/rate-limit.ts';

function limiter(opts: { rate: number; burst: number; strikes: number }) {
  let t = 0;
  const l = new RateLimiter({
    ratePerSecond: opts.rate,
    burst: opts.burst,
    maxStrikes: opts.strikes,
    clock: () => t,
  });
  return { take: () => l.take(), advance: (ms: number) => (t += ms) };
}

describe('RateLimiter', () => {
  it('allows a burst, then the sustained rate', () => {
    const l = limiter({ rate: 10, burst: 3, strikes: 100 });
    expect([l.take(), l.take(), l.take(), l.take()]).toEqual(['allow', 'allow', 'allow', 'refuse']);
    l.advance(100); // one token
    expect([l.take(), l.take()]).toEqual(['allow', 'refuse']);
    l.advance(10_000); // never more than the burst
    expect([l.take(), l.take(), l.take(), l.take()]).toEqual(['allow', 'allow', 'allow', 'refuse']);
  });

  it('disconnects after maxStrikes refusals without a pause', () => {
    const l = limiter({ rate: 10, burst: 2, strikes: 3 });
    l.take();
    l.take();
    expect([l.take(), l.take(), l.take()]).toEqual(['refuse', 'refuse', 'disconnect']);
  });

  it('forgives strikes once the bucket has filled up again', () => {
    const l = limiter({ rate: 10, burst: 2, strikes: 3 });
    l.take();
    l.take();
    expect([l.take(), l.take()]).toEqual(['refuse', 'refuse']);
    l.advance(200); // full again
    l.take();
    l.take();
    expect([l.take(), l.take()]).toEqual(['refuse', 'refuse']);
  });

  it('ignores a clock that goes backwards', () => {
    const l = limiter({ rate: 10, burst: 1, strikes: 100 });
    l.take();
    l.advance(-1_000);
    expect(l.take()).toBe('refuse');
  });

  it('rejects nonsense options', () => {
    expect(() => new RateLimiter({ ratePerSecond: 0, burst: 1, maxStrikes: 1, clock: () => 0 })).toThrow(
      UsageError,
    );
    expect(() => new RateLimiter({ ratePerSecond: 1, burst: 0, maxStrikes: 1, clock: () => 0 })).toThrow(
      UsageError,
    );
  });
});
