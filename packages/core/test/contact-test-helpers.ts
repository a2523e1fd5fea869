import { createHash } from 'node:crypto';
import type { Random } from '../src/crypto.ts';

/**
 * A reproducible Random for tests: SHA-256(label "/" counter) blocks, fresh buffers on every
 * call (callers may wipe what they get). Node's own SHA-256, so it shares no code with ours.
 */
export function scriptedRandom(label: string): Random {
  let counter = 0;
  return {
    bytes(length: number): Uint8Array {
      const out = new Uint8Array(length);
      for (let offset = 0; offset < length; offset += 32) {
        const block = createHash('sha256').update(`${label}/${counter++}`).digest();
        out.set(block.subarray(0, Math.min(32, length - offset)), offset);
      }
      return out;
    },
  };
}

/** A small seeded PRNG (mulberry32) for shuffles and mutation positions: integers in [0, bound). */
export function seededInts(seed: number): (bound: number) => number {
  let a = seed >>> 0;
  return (bound: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * bound);
  };
}
