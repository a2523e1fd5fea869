import { describe, expect, it } from 'vitest';
import { toHex } from '@parus/core';
import { pooledRandom } from '../src/node-random.ts';

describe('pooledRandom', () => {
  it('hands out draws of the asked length, never the same bytes twice, across blocks', () => {
    const rng = pooledRandom();
    const seen = new Set<string>();
    // 16-byte ids and 24-byte nonces across many 4 KiB blocks, and draws larger than the pool takes.
    for (let i = 0; i < 5_000; i++) {
      for (const length of [16, 24, 1, 300]) {
        const value = rng.bytes(length);
        expect(value).toBeInstanceOf(Uint8Array);
        expect(value.length).toBe(length);
        if (length >= 16) {
          const key = toHex(value);
          expect(seen.has(key)).toBe(false);
          seen.add(key);
        }
      }
    }
  });

  it('fills a given array in place', () => {
    const rng = pooledRandom();
    const a = new Uint8Array(24);
    const b = new Uint8Array(24);
    rng.fill(a);
    rng.fill(b);
    expect(toHex(a)).not.toBe(toHex(b));
    expect(a.some((x) => x !== 0)).toBe(true);
  });

  it('gives bytes that look uniform', () => {
    const rng = pooledRandom();
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 4_096; i++) for (const x of rng.bytes(16)) counts[x]! += 1;
    // 65,536 bytes: about 256 of each value; a block of zeroes handed out would show at once.
    expect(Math.max(...counts)).toBeLessThan(400);
    expect(Math.min(...counts)).toBeGreaterThan(150);
  });
});
