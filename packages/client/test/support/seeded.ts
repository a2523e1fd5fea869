/** Repeatable randomness for property tests: a seeded integer source, ids, shuffles. */

/** Integers in [0, bound) from a linear congruential generator seeded with `seed`. */
export function seededInts(seed: number): (bound: number) => number {
  let a = seed >>> 0;
  return (bound) => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return Math.floor((a / 4294967296) * bound);
  };
}

/** A 32-byte id that spells `n + 1` in its first four bytes (so id(0) is not all zeros). */
export function numberedId(n: number): Uint8Array {
  const out = new Uint8Array(32);
  new DataView(out.buffer).setUint32(0, n + 1);
  return out;
}

/** A shuffled copy of `items` (Fisher–Yates, drawing from `next`). */
export function shuffled<T>(items: readonly T[], next: (bound: number) => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}
