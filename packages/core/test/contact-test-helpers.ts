import { createHash } from 'node:crypto';
import type { Random } from '../src/crypto.ts';
import { DecodeError, ProtocolError, VerificationError } from '../src/errors.ts';

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

type ErrorClass = abstract new (...args: never[]) => Error;

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (error) {
    return error;
  }
  return undefined;
}

/** Every strict prefix of `encoded` must be refused with DecodeError. */
export function expectTruncationsRejected(encoded: Uint8Array, decode: (b: Uint8Array) => unknown): void {
  for (let length = 0; length < encoded.length; length++) {
    const error = thrown(() => decode(encoded.slice(0, length)));
    if (!(error instanceof DecodeError)) {
      throw new Error(`truncation to ${length} bytes gave ${String(error)} instead of DecodeError`);
    }
  }
}

/**
 * `count` random single-byte mutations (seeded, so reproducible) must each be refused with one
 * of `allowed` (or, with `mayDecode`, for an unsigned structure, decode). A mutation of the
 * version byte may instead give ProtocolError (an unknown version is well-formed but wrong).
 */
export function expectMutationsRejected(
  encoded: Uint8Array,
  decode: (b: Uint8Array) => unknown,
  opts: { count: number; seed: number; versionOffset: number; allowed?: ErrorClass[]; mayDecode?: boolean },
): { byClass: Record<string, number> } {
  const allowed = opts.allowed ?? [DecodeError, VerificationError];
  const next = seededInts(opts.seed);
  const byClass: Record<string, number> = {};
  for (let i = 0; i < opts.count; i++) {
    const mutated = encoded.slice();
    const position = next(mutated.length);
    mutated[position]! ^= 1 + next(255);
    const error = thrown(() => decode(mutated));
    const ok =
      (error === undefined && opts.mayDecode === true) ||
      allowed.some((c) => error instanceof c) ||
      (position === opts.versionOffset && error instanceof ProtocolError);
    if (!ok) throw new Error(`mutation at byte ${position} gave ${String(error)}`);
    const name = error === undefined ? 'decoded' : (error as Error).name;
    byClass[name] = (byClass[name] ?? 0) + 1;
  }
  return { byClass };
}

/**
 * Offset of the value of the top-level `v` field. Canonical CBOR sorts map keys by their
 * encoding, shortest first, so "v" (61 76) comes right after the map head.
 */
export function versionOffset(encoded: Uint8Array): number {
  if (encoded[1] !== 0x61 || encoded[2] !== 0x76) throw new Error('v is not the first field');
  return 3;
}
