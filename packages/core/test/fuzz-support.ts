/**
 * Fuzzing support shared by the core decoder fuzz test and the relay fuzz test
 * (docs/decisions/0029): a seeded PRNG, byte-level mutations (bit flips, inserts, deletes,
 * truncations, splices) and CBOR-aware ones (heads of another major type, huge or
 * non-canonical lengths, indefinite lengths, tags and floats, deep nesting, repeated map
 * keys, values swapped for others of any type).
 *
 * Fixed seed by default, so `npm test` is reproducible; PARUS_FUZZ_SEED replays another
 * seed and PARUS_FUZZ_ITERATIONS multiplies every count for a longer run.
 */
import { concatBytes as concat } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap, type CborValue } from '../src/cbor.ts';
import { ParusError } from '../src/errors.ts';

export { concat };

export const DEFAULT_FUZZ_SEED = 0x5eed_2026;

/** The run's seed (PARUS_FUZZ_SEED, decimal or 0x-hex) and iteration multiplier (PARUS_FUZZ_ITERATIONS). */
export function fuzzSettings(): { seed: number; scale: number } {
  const seedText = process.env.PARUS_FUZZ_SEED;
  const scaleText = process.env.PARUS_FUZZ_ITERATIONS;
  const seed = seedText ? Number(seedText) >>> 0 : DEFAULT_FUZZ_SEED;
  const scale = scaleText ? Number(scaleText) : 1;
  if (seedText && !Number.isFinite(Number(seedText))) throw new Error('PARUS_FUZZ_SEED must be a number');
  if (!Number.isFinite(scale) || scale <= 0)
    throw new Error('PARUS_FUZZ_ITERATIONS must be a positive number');
  return { seed, scale };
}

/** FNV-1a of a label, to give each fuzz target its own stream from the one seed. */
function labelHash(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** sfc32: a small, fast PRNG with a 128-bit state; plenty for picking mutations. Not for keys. */
export class FuzzRng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, label = '') {
    this.a = 0x9e3779b9;
    this.b = seed >>> 0;
    this.c = labelHash(label);
    this.d = 1;
    for (let i = 0; i < 16; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** An integer in [0, bound). */
  int(bound: number): number {
    return Math.floor((this.u32() / 4294967296) * bound);
  }

  chance(p: number): boolean {
    return this.u32() / 4294967296 < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }

  /** A length that is usually small and sometimes near a boundary. */
  length(max = 64): number {
    return this.chance(0.8) ? this.int(max + 1) : this.pick([0, 1, 15, 16, 17, 23, 24, 31, 32, 33, 255, 256]);
  }
}

/** Bytes that mean something to a CBOR reader: heads at each length boundary, simple values, tags, breaks. */
const INTERESTING_BYTES = [
  0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x37, 0x38, 0x40, 0x57, 0x58, 0x5b, 0x5f, 0x60,
  0x78, 0x7b, 0x7f, 0x80, 0x97, 0x98, 0x9b, 0x9f, 0xa0, 0xb7, 0xb8, 0xbb, 0xbf, 0xc0, 0xd8, 0xf4, 0xf5, 0xf6,
  0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xff, 0x7e, 0xfe,
];

/** Numbers at the edges decoders check: 0, byte/short/word boundaries, 2^53 − 1. */
const INTERESTING_NUMBERS = [
  0,
  1,
  23,
  24,
  255,
  256,
  65535,
  65536,
  2 ** 31 - 1,
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -1,
  -24,
  -(2 ** 32),
  Number.MIN_SAFE_INTEGER + 1,
];

/** A random CBOR value (no floats: the codec has none), at most `depth` deep. */
export function randomValue(rng: FuzzRng, depth = 3): CborValue {
  switch (rng.int(depth > 0 ? 9 : 7)) {
    case 0:
      return rng.pick(INTERESTING_NUMBERS);
    case 1:
      return rng.int(1000);
    case 2:
      return rng.bytes(rng.length());
    case 3:
      return rng.pick([
        '',
        't',
        'id',
        'hello',
        'send',
        'é',
        '山雀',
        '\u202e',
        '\u0000',
        'x'.repeat(rng.length(300)),
      ]);
    case 4:
      return rng.chance(0.5);
    case 5:
      return null;
    case 6:
      return rng.bytes(rng.pick([16, 24, 32, 64]));
    case 7: {
      const n = rng.int(4);
      return Array.from({ length: n }, () => randomValue(rng, depth - 1));
    }
    default: {
      const m: CborMap = {};
      for (let i = rng.int(4); i > 0; i--)
        m[rng.pick(['t', 'id', 'v', 'a', 'body', 'x'])] = randomValue(rng, depth - 1);
      return m;
    }
  }
}

/** Offsets of the item heads in (well-formed prefixes of) CBOR bytes; stops at the first it cannot read. */
export function cborHeads(bytes: Uint8Array): Array<{ at: number; headBytes: number; major: number }> {
  const heads: Array<{ at: number; headBytes: number; major: number }> = [];
  let pos = 0;
  while (pos < bytes.length && heads.length < 4096) {
    const initial = bytes[pos]!;
    const major = initial >> 5;
    const info = initial & 31;
    const extra = info < 24 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : -1;
    if (extra < 0 || pos + 1 + extra > bytes.length) break;
    let arg = info;
    if (extra > 0) {
      arg = 0;
      for (let i = 0; i < extra; i++) arg = arg * 256 + bytes[pos + 1 + i]!;
    }
    heads.push({ at: pos, headBytes: 1 + extra, major });
    pos += 1 + extra;
    if (major === 2 || major === 3) pos += arg; // string contents are not heads
  }
  return heads;
}

/** A CBOR head of `major` type with argument `n` in its shortest form. */
function head(major: number, n: number): Uint8Array {
  const mt = major << 5;
  if (n < 24) return Uint8Array.of(mt | n);
  if (n < 0x100) return Uint8Array.of(mt | 24, n);
  if (n < 0x10000) return Uint8Array.of(mt | 25, n >> 8, n & 0xff);
  if (n < 0x100000000) return Uint8Array.of(mt | 26, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  return Uint8Array.of(
    mt | 27,
    hi >>> 24,
    (hi >>> 16) & 0xff,
    (hi >>> 8) & 0xff,
    hi & 0xff,
    lo >>> 24,
    (lo >>> 16) & 0xff,
    (lo >>> 8) & 0xff,
    lo & 0xff,
  );
}

function splice(bytes: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length - remove + insert.length);
  out.set(bytes.subarray(0, at), 0);
  out.set(insert, at);
  out.set(bytes.subarray(at + remove), at + insert.length);
  return out;
}

/** Deeply nested arrays ending in 0: past every depth limit when `depth` is large. */
export function deepNesting(depth: number, major: 4 | 5 = 4): Uint8Array {
  const out = new Uint8Array(major === 4 ? depth + 1 : 2 * depth + 1);
  let at = 0;
  for (let i = 0; i < depth; i++) {
    if (major === 4) out[at++] = 0x81;
    else {
      out[at++] = 0xa1;
      out[at++] = 0x60; // key ""
    }
  }
  out[at] = 0x00;
  return out;
}

/** Byte-level mutations: they know nothing of the format. */
function mutateBytes(rng: FuzzRng, input: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  const n = input.length;
  const at = n === 0 ? 0 : rng.int(n);
  switch (rng.int(9)) {
    case 0: {
      if (n === 0) return rng.bytes(1);
      const out = input.slice();
      out[at]! ^= 1 << rng.int(8);
      return out;
    }
    case 1: {
      if (n === 0) return Uint8Array.of(rng.pick(INTERESTING_BYTES));
      const out = input.slice();
      out[at] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
      return out;
    }
    case 2:
      return splice(input, at, 0, rng.bytes(1 + rng.int(8)));
    case 3:
      return splice(input, at, Math.min(n - at, 1 + rng.int(8)), new Uint8Array(0));
    case 4:
      return input.slice(0, rng.int(n + 1));
    case 5: {
      // Splice: the head of this input, the tail of another.
      const other = rng.pick(corpus);
      return concat(input.subarray(0, at), other.subarray(rng.int(other.length + 1)));
    }
    case 6: {
      // A range repeated.
      const len = Math.min(n - at, 1 + rng.int(32));
      return splice(input, at, 0, input.slice(at, at + len));
    }
    case 7:
      return concat(input, rng.bytes(1 + rng.int(16)));
    default: {
      const out = input.slice();
      for (let i = 0; i < 1 + rng.int(4) && n > 0; i++) out[rng.int(n)] = rng.int(256);
      return out;
    }
  }
}

/** Head-level mutations of CBOR bytes. */
function mutateCborHeads(rng: FuzzRng, input: Uint8Array): Uint8Array {
  const heads = cborHeads(input);
  if (heads.length === 0) return mutateBytes(rng, input, [input]);
  const h = rng.pick(heads);
  const old = input.subarray(h.at, h.at + h.headBytes);
  const major = old[0]! >> 5;
  switch (rng.int(8)) {
    case 0: // another major type, same argument
      return splice(input, h.at, 0, new Uint8Array(0)).map((b, i) =>
        i === h.at ? (rng.int(8) << 5) | (b & 31) : b,
      );
    case 1: // a huge argument: lengths past the input, integers past 2^53
      return splice(
        input,
        h.at,
        h.headBytes,
        rng.chance(0.5)
          ? head(major, 2 ** 32 - 1)
          : Uint8Array.of((major << 5) | 27, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      );
    case 2: // argument off by one
      return splice(
        input,
        h.at,
        h.headBytes,
        head(major, Math.max(0, readArg(old) + (rng.chance(0.5) ? 1 : -1))),
      );
    case 3: // non-canonical: the same argument in a longer head
      return splice(input, h.at, h.headBytes, longHead(major, readArg(old), rng));
    case 4: // indefinite length, reserved info, or a tag or float in front
      return splice(
        input,
        h.at,
        rng.chance(0.5) ? h.headBytes : 0,
        Uint8Array.of(rng.pick([(major << 5) | 31, (major << 5) | 28, 0xc0, 0xd8, 0xf9, 0xfb, 0xf7, 0xff])),
      );
    case 5: // an item swapped for deep nesting
      return splice(input, h.at, 0, deepNesting(rng.pick([15, 16, 17, 40, 2000]), rng.chance(0.5) ? 4 : 5));
    case 6: {
      // A map's first entry repeated (a duplicate key), the count raised to match.
      if (major !== 5 || readArg(old) === 0)
        return splice(input, h.at, 0, Uint8Array.of(0xa2, 0x61, 0x74, 0x00, 0x61, 0x74, 0x00));
      const keyStart = h.at + h.headBytes;
      const entry = input.slice(keyStart, Math.min(input.length, keyStart + 2 + rng.int(40)));
      return concat(input.subarray(0, h.at), head(5, readArg(old) + 1), entry, input.subarray(keyStart));
    }
    default: // a container claiming many items
      return splice(
        input,
        h.at,
        h.headBytes,
        head(rng.chance(0.5) ? 4 : 5, rng.pick([17, 4097, 65537, 2 ** 31])),
      );
  }
}

function readArg(head: Uint8Array): number {
  const info = head[0]! & 31;
  if (info < 24) return info;
  let n = 0;
  for (let i = 1; i < head.length; i++) n = n * 256 + head[i]!;
  return n;
}

function longHead(major: number, n: number, rng: FuzzRng): Uint8Array {
  const size = rng.pick([1, 2, 4, 8]);
  const out = new Uint8Array(1 + size);
  out[0] = (major << 5) | (size === 1 ? 24 : size === 2 ? 25 : size === 4 ? 26 : 27);
  let v = n;
  for (let i = size; i >= 1; i--) {
    out[i] = v % 256;
    v = Math.floor(v / 256);
  }
  return out;
}

/** Value-level mutations: decode, change one node, encode canonically (so they pass the CBOR reader). */
function mutateCborValue(rng: FuzzRng, input: Uint8Array): Uint8Array | undefined {
  let value: CborValue;
  try {
    value = decodeCbor(input);
  } catch {
    return undefined;
  }
  const out = mutateNode(rng, value, 0);
  try {
    return encodeCbor(out);
  } catch {
    return undefined;
  }
}

function mutateNode(rng: FuzzRng, value: CborValue, depth: number): CborValue {
  const isMap =
    value !== null && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Uint8Array);
  if (Array.isArray(value) && value.length > 0 && rng.chance(0.7)) {
    const copy = value.slice();
    const i = rng.int(copy.length);
    switch (rng.int(4)) {
      case 0:
        copy.splice(i, 1);
        break;
      case 1:
        copy.splice(i, 0, copy[i]!);
        break;
      default:
        copy[i] = mutateNode(rng, copy[i]!, depth + 1);
    }
    return copy;
  }
  if (isMap && rng.chance(0.8)) {
    // No prototype, as decodeCbor's maps: a "__proto__" key is then a key like any other.
    const copy: CborMap = Object.assign(Object.create(null) as CborMap, value);
    const keys = Object.keys(copy);
    switch (rng.int(6)) {
      case 0:
        if (keys.length > 0) delete copy[rng.pick(keys)];
        break;
      case 1:
        copy[rng.pick(['x', 'zz', 'ext', 'v2', '', '__proto__', 'constructor'])] = randomValue(rng, 1);
        break;
      default:
        if (keys.length > 0) {
          const k = rng.pick(keys);
          copy[k] = mutateNode(rng, copy[k]!, depth + 1);
        }
    }
    return copy;
  }
  if (typeof value === 'number' && rng.chance(0.6)) {
    return rng.chance(0.5)
      ? rng.pick(INTERESTING_NUMBERS)
      : Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, value + rng.int(5) - 2));
  }
  if (value instanceof Uint8Array && rng.chance(0.6)) {
    switch (rng.int(4)) {
      case 0:
        return value.subarray(0, Math.max(0, value.length - 1 - rng.int(4)));
      case 1:
        return concat(value, rng.bytes(1 + rng.int(4)));
      case 2:
        return new Uint8Array(value.length);
      default: {
        const copy = value.slice();
        if (copy.length > 0) copy[rng.int(copy.length)]! ^= 1 << rng.int(8);
        return copy;
      }
    }
  }
  if (typeof value === 'string' && rng.chance(0.6)) {
    return rng.pick([
      '',
      value + value,
      value.slice(1),
      value.toUpperCase(),
      `${value}\u202e`,
      'x'.repeat(rng.pick([64, 65, 256, 257, 4097])),
    ]);
  }
  return randomValue(rng, Math.max(0, 2 - depth));
}

/** One change somewhere in a CBOR value (a field dropped, added, retyped, resized or nudged). */
export function mutateValue(rng: FuzzRng, value: CborValue): CborValue {
  return mutateNode(rng, value, 0);
}

/** One mutation of `input`, of a random kind; `corpus` supplies the other half of splices. */
export function mutate(rng: FuzzRng, input: Uint8Array, corpus: readonly Uint8Array[]): Uint8Array {
  let out = input;
  // Usually one mutation, sometimes a few stacked.
  for (let rounds = rng.chance(0.8) ? 1 : 2 + rng.int(3); rounds > 0; rounds--) {
    const kind = rng.int(10);
    if (kind < 4) out = mutateBytes(rng, out, corpus);
    else if (kind < 7) out = mutateCborHeads(rng, out);
    else out = mutateCborValue(rng, out) ?? mutateBytes(rng, out, corpus);
  }
  return out;
}

/** A text mutation for decoders of text (links, addresses): the UTF-8 bytes mutated, then decoded leniently. */
export function mutateText(rng: FuzzRng, input: string, corpus: readonly string[]): string {
  const enc = new TextEncoder();
  switch (rng.int(6)) {
    case 0: {
      const chars = [...input];
      const at = rng.int(chars.length + 1);
      chars.splice(
        at,
        rng.int(3),
        ...rng.pick(['', ' ', '%', '\u0000', '/', ':', '@', '\u202e', 'Ａ', '=', '+', '😀', '\ud800']),
      );
      return chars.join('');
    }
    case 1:
      return input.slice(0, rng.int(input.length + 1));
    case 2:
      return input + rng.pick(corpus).slice(rng.int(8));
    case 3:
      return rng.chance(0.5) ? input.toUpperCase() : `  ${input}\n`;
    default: {
      const bytes = mutateBytes(
        rng,
        enc.encode(input),
        corpus.map((c) => enc.encode(c)),
      );
      return new TextDecoder().decode(bytes);
    }
  }
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: ParusError };

/**
 * Runs `f`: a value or one of the project's typed errors is fine; anything else (TypeError,
 * RangeError, a plain Error) is a bug and is thrown with the input that caused it.
 */
export function typedOutcome(f: () => unknown, describeInput: () => string): Outcome {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    if (error instanceof ParusError) return { ok: false, error };
    throw new Error(`untyped ${String(error)} for input ${describeInput()}`, { cause: error });
  }
}
