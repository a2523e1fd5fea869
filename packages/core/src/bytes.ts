/** Byte helpers for public data. For secrets use `equalSecret` in crypto.ts (constant time). */
import { DecodeError, UsageError } from './errors.ts';

export function concatBytes(...parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Equality of public bytes (ids, public keys shown to users). Not constant time. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lexicographic order of byte strings, for deterministic tie-breaks. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** The ASCII codes of the two hex digits of each byte value, one after the other. */
const HEX_CODES: Uint8Array = (() => {
  const digits = '0123456789abcdef';
  const codes = new Uint8Array(512);
  for (let b = 0; b < 256; b++) {
    codes[2 * b] = digits.charCodeAt(b >> 4);
    codes[2 * b + 1] = digits.charCodeAt(b & 15);
  }
  return codes;
})();
/** Hex digits of up to HEX_CHUNK bytes, laid out before decoding them in one go. */
const HEX_CHUNK = 256;
const hexScratch = new Uint8Array(2 * HEX_CHUNK);
/** ASCII only is decoded here, where latin1 (windows-1252) and ASCII agree. */
const asciiDecoder = new TextDecoder('latin1');
/**
 * Ids and keys (up to SHORT_HEX bytes) are made from an array of the digits' codes of their
 * exact length, one per length, kept: String.fromCharCode over it is a flat string too, and
 * about twice as fast as a TextDecoder call for such short inputs (docs/decisions/0051).
 */
const SHORT_HEX = 64;
const shortCodes: number[][] = Array.from({ length: SHORT_HEX + 1 }, (_, n) =>
  new Array<number>(2 * n).fill(48),
);

/**
 * Lower-case hex. Ids are map keys on the relay's hot paths and kept there for as long as a
 * connection lives: the string is made in one piece (one decode of the digits' codes), not by
 * a concatenation per byte, whose rope of partial strings V8 keeps (about 0.5 KiB per 24-byte
 * id kept, and slower to hash). docs/decisions/0042.
 */
export function toHex(bytes: Uint8Array): string {
  const n = bytes.length;
  if (n <= SHORT_HEX) {
    const codes = shortCodes[n]!;
    let o = 0;
    for (let i = 0; i < n; i++) {
      const b = 2 * bytes[i]!;
      codes[o++] = HEX_CODES[b]!;
      codes[o++] = HEX_CODES[b + 1]!;
    }
    return String.fromCharCode.apply(null, codes);
  }
  let s = '';
  for (let at = 0; at < n; at += HEX_CHUNK) {
    const end = Math.min(n, at + HEX_CHUNK);
    let o = 0;
    for (let i = at; i < end; i++) {
      const b = 2 * bytes[i]!;
      hexScratch[o++] = HEX_CODES[b]!;
      hexScratch[o++] = HEX_CODES[b + 1]!;
    }
    s += asciiDecoder.decode(hexScratch.subarray(0, o));
  }
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new DecodeError('invalid hex string');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64URL_INDEX = new Map([...B64URL].map((c, i) => [c, i]));

/** RFC 4648 §5 base64url without padding. */
export function toBase64Url(bytes: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]! + B64URL[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]!;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    s += B64URL[n >> 18]! + B64URL[(n >> 12) & 63]! + B64URL[(n >> 6) & 63]!;
  }
  return s;
}

export function fromBase64Url(text: string): Uint8Array {
  if (text.length % 4 === 1) throw new DecodeError('invalid base64url length');
  const out = new Uint8Array(Math.floor((text.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const c of text) {
    const v = B64URL_INDEX.get(c);
    if (v === undefined) throw new DecodeError('invalid base64url character');
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Canonical form only: leftover bits must be zero.
  if ((acc & ((1 << bits) - 1)) !== 0) throw new DecodeError('non-canonical base64url');
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch (cause) {
    throw new DecodeError('invalid UTF-8', { cause });
  }
}

/** Big-endian unsigned 32-bit integer. */
export function u32be(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new UsageError('u32 out of range');
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

/** Big-endian unsigned 64-bit integer from a safe JS integer. */
export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new UsageError('u64 out of range');
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(n / 0x100000000));
  view.setUint32(4, n >>> 0);
  return out;
}

export function assertLength(value: Uint8Array, length: number, what: string): void {
  if (!(value instanceof Uint8Array) || value.length !== length) {
    throw new UsageError(`${what} must be ${length} bytes`);
  }
}
