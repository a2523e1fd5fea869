/**
 * A deterministic CBOR codec (RFC 8949) for the subset Parus uses on the wire and on disk:
 * unsigned and negative integers (JS safe integers), byte strings, UTF-8 text, arrays,
 * maps with text keys, booleans and null. No floats, tags or indefinite lengths.
 *
 * Encoding is canonical (RFC 8949 §4.2.1: shortest heads, map keys sorted by their encoded
 * bytes), so the same value always gives the same bytes and can be signed and hashed.
 * Decoding is strict — it rejects anything the encoder would not have produced — and
 * bounded: input size, nesting depth, item counts and string lengths all have limits, so a
 * peer cannot make us allocate or recurse without bound.
 */
import { compareBytes, fromUtf8, utf8 } from './bytes.ts';
import { DecodeError, UsageError } from './errors.ts';

export type CborValue = number | string | boolean | null | Uint8Array | CborValue[] | CborMap;
export interface CborMap {
  [key: string]: CborValue | undefined;
}

export interface CborLimits {
  /** Largest input accepted, in bytes. */
  maxBytes: number;
  /** Deepest nesting of arrays and maps. */
  maxDepth: number;
  /** Most entries in one array or map. */
  maxItems: number;
  /** Most items in the whole document. */
  maxTotalItems: number;
}

export const DEFAULT_CBOR_LIMITS: CborLimits = {
  maxBytes: 1024 * 1024,
  maxDepth: 16,
  maxItems: 4096,
  maxTotalItems: 65536,
};

const MT_UINT = 0;
const MT_NINT = 1;
const MT_BYTES = 2;
const MT_TEXT = 3;
const MT_ARRAY = 4;
const MT_MAP = 5;
const MT_SIMPLE = 7;

/**
 * Encoding is synchronous, so one scratch buffer serves every call (grown when needed and
 * copied out at the end): no allocation and regrowth per encode on the hot path.
 */
let scratch: Uint8Array = new Uint8Array(4096);

class Writer {
  private buf: Uint8Array;
  length = 0;

  constructor(shared: boolean) {
    this.buf = shared ? scratch : new Uint8Array(64);
  }

  release(): void {
    if (this.buf.length > scratch.length && this.buf.length <= 1 << 20) scratch = this.buf;
  }

  private ensure(extra: number): void {
    if (this.length + extra <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.length++] = b;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  head(major: number, n: number): void {
    const mt = major << 5;
    if (n < 24) this.byte(mt | n);
    else if (n < 0x100) {
      this.byte(mt | 24);
      this.byte(n);
    } else if (n < 0x10000) {
      this.byte(mt | 25);
      this.byte(n >> 8);
      this.byte(n & 0xff);
    } else if (n < 0x100000000) {
      this.byte(mt | 26);
      this.byte((n >>> 24) & 0xff);
      this.byte((n >>> 16) & 0xff);
      this.byte((n >>> 8) & 0xff);
      this.byte(n & 0xff);
    } else {
      this.byte(mt | 27);
      const hi = Math.floor(n / 0x100000000);
      const lo = n >>> 0;
      for (const word of [hi, lo]) {
        this.byte((word >>> 24) & 0xff);
        this.byte((word >>> 16) & 0xff);
        this.byte((word >>> 8) & 0xff);
        this.byte(word & 0xff);
      }
    }
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function encodeInto(w: Writer, value: CborValue, depth: number): void {
  if (depth > DEFAULT_CBOR_LIMITS.maxDepth) throw new UsageError('CBOR value nested too deeply');
  if (value === null) return w.byte(0xf6);
  if (value === true) return w.byte(0xf5);
  if (value === false) return w.byte(0xf4);
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new UsageError('CBOR numbers must be safe integers');
    if (value >= 0) w.head(MT_UINT, value);
    else w.head(MT_NINT, -1 - value);
    return;
  }
  if (typeof value === 'string') {
    if (value.length <= 32) return w.bytes(encodedText(value)); // frame types and field names repeat
    const b = utf8(value);
    w.head(MT_TEXT, b.length);
    return w.bytes(b);
  }
  if (value instanceof Uint8Array) {
    w.head(MT_BYTES, value.length);
    return w.bytes(value);
  }
  if (Array.isArray(value)) {
    w.head(MT_ARRAY, value.length);
    for (const item of value) encodeInto(w, item, depth + 1);
    return;
  }
  if (
    typeof value === 'object' &&
    Object.getPrototypeOf(value) !== Object.prototype &&
    Object.getPrototypeOf(value) !== null
  ) {
    throw new UsageError('only plain objects encode as CBOR maps');
  }
  if (typeof value === 'object') {
    const entries: Array<[Uint8Array, CborValue]> = [];
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue;
      entries.push([encodedText(k), v]);
    }
    entries.sort((a, b) => compareBytes(a[0], b[0]));
    w.head(MT_MAP, entries.length);
    for (const [k, v] of entries) {
      w.bytes(k);
      encodeInto(w, v, depth + 1);
    }
    return;
  }
  throw new UsageError(`cannot encode ${typeof value} as CBOR`);
}

/**
 * Encoded short texts (map keys, frame types), cached: the same few are encoded over and
 * over. Bounded, so text a peer chooses cannot grow it past its limit.
 */
const textCache = new Map<string, Uint8Array>();
const TEXT_CACHE_MAX = 1024;

function encodedText(text: string): Uint8Array {
  let bytes = textCache.get(text);
  if (!bytes) {
    const w = new Writer(false);
    const b = utf8(text);
    w.head(MT_TEXT, b.length);
    w.bytes(b);
    bytes = w.result();
    if (textCache.size < TEXT_CACHE_MAX && text.length <= 64) textCache.set(text, bytes);
  }
  return bytes;
}

export function encodeCbor(value: CborValue): Uint8Array {
  const w = new Writer(true);
  try {
    encodeInto(w, value, 0);
    return w.result();
  } finally {
    w.release();
  }
}

class Reader {
  pos = 0;
  totalItems = 0;
  constructor(
    private readonly data: Uint8Array,
    private readonly limits: CborLimits,
  ) {}

  private fail(what: string): never {
    throw new DecodeError(`CBOR: ${what} at offset ${this.pos}`);
  }

  private take(n: number): Uint8Array {
    if (n > this.data.length - this.pos) this.fail('truncated input');
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  private u8(): number {
    if (this.pos >= this.data.length) this.fail('truncated input');
    return this.data[this.pos++]!;
  }

  /** Reads an argument and insists on its shortest form (deterministic encoding). */
  private argument(info: number): number {
    if (info < 24) return info;
    let n: number;
    if (info === 24) {
      n = this.u8();
      if (n < 24) this.fail('non-canonical integer head');
    } else if (info === 25) {
      const b = this.take(2);
      n = (b[0]! << 8) | b[1]!;
      if (n < 0x100) this.fail('non-canonical integer head');
    } else if (info === 26) {
      const b = this.take(4);
      n = ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
      if (n < 0x10000) this.fail('non-canonical integer head');
    } else if (info === 27) {
      const b = this.take(8);
      const hi = ((b[0]! << 24) >>> 0) + ((b[1]! << 16) | (b[2]! << 8) | b[3]!);
      const lo = ((b[4]! << 24) >>> 0) + ((b[5]! << 16) | (b[6]! << 8) | b[7]!);
      if (hi > 0x1fffff) this.fail('integer beyond 2^53');
      n = hi * 0x100000000 + lo;
      if (n < 0x100000000) this.fail('non-canonical integer head');
    } else {
      this.fail('indefinite length or reserved head');
    }
    return n;
  }

  private count(n: number): void {
    if (n > this.limits.maxItems) this.fail('too many items in one container');
    this.totalItems += n;
    if (this.totalItems > this.limits.maxTotalItems) this.fail('too many items in document');
  }

  value(depth: number): CborValue {
    if (depth > this.limits.maxDepth) this.fail('nested too deeply');
    const initial = this.u8();
    const major = initial >> 5;
    const info = initial & 31;
    switch (major) {
      case MT_UINT:
        return this.argument(info);
      case MT_NINT: {
        const n = this.argument(info);
        if (n >= Number.MAX_SAFE_INTEGER) this.fail('negative integer beyond -2^53');
        return -1 - n;
      }
      case MT_BYTES:
        return this.take(this.argument(info)).slice();
      case MT_TEXT:
        return fromUtf8(this.take(this.argument(info)));
      case MT_ARRAY: {
        const n = this.argument(info);
        this.count(n);
        const out: CborValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
      case MT_MAP: {
        const n = this.argument(info);
        this.count(n);
        const out: CborMap = Object.create(null) as CborMap;
        let previousKey: Uint8Array | undefined;
        for (let i = 0; i < n; i++) {
          const keyStart = this.pos;
          const key = this.value(depth + 1);
          if (typeof key !== 'string') this.fail('map key is not text');
          const keyBytes = this.data.subarray(keyStart, this.pos);
          if (previousKey && compareBytes(previousKey, keyBytes) >= 0)
            this.fail('map keys unsorted or repeated');
          previousKey = keyBytes;
          out[key] = this.value(depth + 1);
        }
        return out;
      }
      case MT_SIMPLE:
        if (info === 20) return false;
        if (info === 21) return true;
        if (info === 22) return null;
        return this.fail('unsupported simple value or float');
      default:
        return this.fail('unsupported major type (tag)');
    }
  }

  end(): void {
    if (this.pos !== this.data.length) this.fail('trailing bytes');
  }
}

export function decodeCbor(data: Uint8Array, limits: Partial<CborLimits> = {}): CborValue {
  const l = { ...DEFAULT_CBOR_LIMITS, ...limits };
  if (!(data instanceof Uint8Array)) throw new DecodeError('CBOR input must be bytes');
  if (data.length > l.maxBytes) throw new DecodeError(`CBOR input larger than ${l.maxBytes} bytes`);
  const r = new Reader(data, l);
  const v = r.value(0);
  r.end();
  return v;
}

/**
 * Where the entry with text key `key` sits in `data`, a map that decodeCbor accepted
 * (so canonical and bounded), and how many entries the map has: the offset of the map's
 * first entry, of the entry's key and of the end of its value. Undefined when the map has no such key. A command's
 * authenticator covers the frame as received without its `auth` entry
 * (relay-protocol.ts commandAuthPieces), which this finds without decoding anything.
 */
export function mapEntrySpan(
  data: Uint8Array,
  key: string,
): { first: number; start: number; end: number; entries: number } | undefined {
  const wanted = encodedText(key);
  const head = readHead(data, 0);
  if (head.major !== MT_MAP) throw new DecodeError('CBOR: not a map');
  let pos = head.next;
  for (let i = 0; i < head.arg; i++) {
    const start = pos;
    pos = skipItem(data, pos, 0);
    const isKey = pos - start === wanted.length && wanted.every((b, j) => data[start + j] === b);
    pos = skipItem(data, pos, 0);
    if (isKey) return { first: head.next, start, end: pos, entries: head.arg };
  }
  return undefined;
}

/** An item's major type, its argument and where what follows the head starts. */
function readHead(data: Uint8Array, at: number): { major: number; arg: number; next: number } {
  if (at >= data.length) throw new DecodeError('CBOR: truncated input');
  const initial = data[at]!;
  const info = initial & 31;
  let size = 0;
  if (info === 24) size = 1;
  else if (info === 25) size = 2;
  else if (info === 26) size = 4;
  else if (info === 27) size = 8;
  else if (info > 27) throw new DecodeError('CBOR: indefinite length or reserved head');
  if (at + 1 + size > data.length) throw new DecodeError('CBOR: truncated input');
  let arg = size === 0 ? info : 0;
  for (let i = 1; i <= size; i++) arg = arg * 256 + data[at + i]!;
  return { major: initial >> 5, arg, next: at + 1 + size };
}

/** The offset after the item at `at`. */
function skipItem(data: Uint8Array, at: number, depth: number): number {
  if (depth > DEFAULT_CBOR_LIMITS.maxDepth) throw new DecodeError('CBOR: nested too deeply');
  const { major, arg, next } = readHead(data, at);
  if (major === MT_BYTES || major === MT_TEXT) {
    if (arg > data.length - next) throw new DecodeError('CBOR: truncated input');
    return next + arg;
  }
  if (major === MT_ARRAY || major === MT_MAP) {
    let pos = next;
    const items = major === MT_MAP ? arg * 2 : arg;
    for (let i = 0; i < items; i++) pos = skipItem(data, pos, depth + 1);
    return pos;
  }
  return next;
}

// ---- Typed field access for decoders --------------------------------------------------
// Each wire structure decodes through these, so every field is checked at the door.

export function asMap(value: CborValue | undefined, what: string): CborMap {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Uint8Array) {
    throw new DecodeError(`${what} must be a map`);
  }
  return value;
}

export function asArray(value: CborValue | undefined, what: string, maxItems = Infinity): CborValue[] {
  if (!Array.isArray(value)) throw new DecodeError(`${what} must be an array`);
  if (value.length > maxItems) throw new DecodeError(`${what} has more than ${maxItems} items`);
  return value;
}

export interface BytesRule {
  /** Exact length. */
  len?: number;
  /** Largest length. */
  max?: number;
}

export function asBytes(value: CborValue | undefined, what: string, rule: BytesRule = {}): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new DecodeError(`${what} must be bytes`);
  if (rule.len !== undefined && value.length !== rule.len)
    throw new DecodeError(`${what} must be ${rule.len} bytes`);
  if (rule.max !== undefined && value.length > rule.max)
    throw new DecodeError(`${what} longer than ${rule.max} bytes`);
  return value;
}

export function asText(value: CborValue | undefined, what: string, maxLength = 4096): string {
  if (typeof value !== 'string') throw new DecodeError(`${what} must be text`);
  if (value.length > maxLength) throw new DecodeError(`${what} longer than ${maxLength} characters`);
  return value;
}

export function asUint(value: CborValue | undefined, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new DecodeError(`${what} must be an unsigned integer`);
  }
  if (value > max) throw new DecodeError(`${what} larger than ${max}`);
  return value;
}

export function asBool(value: CborValue | undefined, what: string): boolean {
  if (typeof value !== 'boolean') throw new DecodeError(`${what} must be a boolean`);
  return value;
}

/** Returns undefined for an absent field, else applies `read`. */
export function optional<T>(value: CborValue | undefined, read: (v: CborValue) => T): T | undefined {
  return value === undefined ? undefined : read(value);
}
