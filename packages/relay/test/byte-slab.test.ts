// The relay's slab of short-lived arrays (byte-slab.ts): arrays never overlap while they
// live, start on 8-byte boundaries, and large ones are allocated apart.
import { describe, expect, it } from 'vitest';
import { ByteSlab } from '../src/byte-slab.ts';

describe('ByteSlab', () => {
  it('hands out disjoint, aligned arrays of the sizes asked, across slabs', () => {
    const slab = new ByteSlab();
    const taken: Buffer[] = [];
    for (let i = 0; i < 2_000; i++) {
      const size = (i * 37) % 700;
      const b = slab.take(size);
      expect(b.length).toBe(size);
      expect(b.byteOffset % 8).toBe(0);
      b.fill(i & 0xff);
      taken.push(b);
    }
    // Each still holds what was written into it: no later array overlapped it.
    taken.forEach((b, i) => expect(b.every((v) => v === (i & 0xff))).toBe(true));
  });

  it('gives a large array a buffer of its own', () => {
    const slab = new ByteSlab();
    const small = slab.take(100);
    const large = slab.take(100_000);
    expect(large.length).toBe(100_000);
    expect(large.buffer).not.toBe(small.buffer);
    expect(large.byteOffset).toBe(0);
  });
});
