// The token bucket the relay's limits and the client's pacing share (token-bucket.ts).
import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../src/index.ts';

describe('TokenBucket', () => {
  it('starts full, refills at its rate up to its burst, and says how long until enough', () => {
    let t = 0;
    const b = new TokenBucket(10, 3, () => t);
    expect([b.take(), b.take(), b.take(), b.take()]).toEqual([true, true, true, false]);
    expect(b.msUntil()).toBe(100);
    expect(b.msUntil(2)).toBe(200);
    t += 50;
    expect(b.level()).toBeCloseTo(0.5);
    expect(b.take()).toBe(false);
    t += 50;
    expect(b.take()).toBe(true);
    t += 10_000;
    expect(b.level()).toBe(3);
    expect(b.msUntil(3)).toBe(0);
    expect(b.take(4)).toBe(false); // more than the burst never comes
    expect(b.take(3)).toBe(true);
  });

  it('gains nothing from a clock that goes backwards', () => {
    let t = 1_000;
    const b = new TokenBucket(10, 1, () => t);
    expect(b.take()).toBe(true);
    t -= 500;
    expect(b.level()).toBe(0);
    expect(b.take()).toBe(false);
  });
});
