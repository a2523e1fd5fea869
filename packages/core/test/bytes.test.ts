/** Byte helpers: hex and base64url round trips and the rejection of invalid input. */
import { describe, expect, it } from 'vitest';
import {
  assertLength,
  compareBytes,
  concatBytes,
  DecodeError,
  equalBytes,
  fromBase64Url,
  fromHex,
  fromUtf8,
  toBase64Url,
  toHex,
  u32be,
  u64be,
  UsageError,
  utf8,
} from '../src/index.ts';

/** Deterministic bytes of every value, for round trips (xorshift32). */
function pseudoBytes(length: number, seed: number): Uint8Array {
  let x = seed >>> 0 || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

describe('hex', () => {
  it('round trips every byte value and random buffers of every length up to 100', () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    expect(fromHex(toHex(all))).toEqual(all);
    for (let n = 0; n <= 100; n++) {
      const b = pseudoBytes(n, n + 1);
      const hex = toHex(b);
      expect(hex).toMatch(/^[0-9a-f]*$/);
      expect(hex.length).toBe(2 * n);
      expect(fromHex(hex)).toEqual(b);
    }
  });

  it('is right across the chunks it is made in (256 bytes each), up to 1,000 bytes', () => {
    for (const n of [255, 256, 257, 511, 512, 513, 1000]) {
      const b = pseudoBytes(n, n);
      let expected = '';
      for (const byte of b) expected += byte.toString(16).padStart(2, '0');
      expect(toHex(b), String(n)).toBe(expected);
    }
  });

  it('accepts upper case', () => {
    expect(fromHex('DEADbeef')).toEqual(new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
  });

  it('rejects odd lengths and non-hex characters with DecodeError', () => {
    for (const bad of ['0', 'abc', 'zz', '0g', ' 00', '00 ', '0x00', '+1', '-1', 'é0']) {
      expect(() => fromHex(bad), bad).toThrow(DecodeError);
    }
  });
});

describe('base64url (RFC 4648 §5, no padding)', () => {
  it('matches the RFC 4648 §10 test vectors (padding removed)', () => {
    // RFC 4648 §10: BASE64("") = "", "f" = "Zg==", "fo" = "Zm8=", "foo" = "Zm9v", "foob" = "Zm9vYg==",
    // "fooba" = "Zm9vYmE=", "foobar" = "Zm9vYmFy". base64url uses the same characters here.
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg'],
      ['fo', 'Zm8'],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg'],
      ['fooba', 'Zm9vYmE'],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [text, encoded] of vectors) {
      expect(toBase64Url(utf8(text))).toBe(encoded);
      expect(fromUtf8(fromBase64Url(encoded))).toBe(text);
    }
  });

  it('uses the URL-safe alphabet (RFC 4648 §5: 62 is "-", 63 is "_")', () => {
    expect(toBase64Url(new Uint8Array([0xfb, 0xff]))).toBe('-_8');
    expect(fromBase64Url('-_8')).toEqual(new Uint8Array([0xfb, 0xff]));
  });

  it('round trips random buffers of every length up to 100', () => {
    for (let n = 0; n <= 100; n++) {
      const b = pseudoBytes(n, 1000 + n);
      const text = toBase64Url(b);
      expect(text).toMatch(/^[A-Za-z0-9_-]*$/);
      expect(fromBase64Url(text)).toEqual(b);
    }
  });

  it('rejects padding, the standard alphabet, bad lengths and non-canonical tails with DecodeError', () => {
    // 'Zh', 'Zm9' and 'Zm9vYmF' leave non-zero bits after the last byte: canonical forms are 'Zg', 'Zm8', 'Zm9vYmE'.
    for (const bad of [
      'Zg==',
      'Zm8=',
      '+/8',
      'ab/c',
      'a',
      'Zm9vY',
      'Zh',
      'Zm9',
      'Zm9vYmF',
      ' Zg',
      'Zg\n',
      'Z.g',
    ]) {
      expect(() => fromBase64Url(bad), JSON.stringify(bad)).toThrow(DecodeError);
    }
  });

  it('accepts only the canonical encoding of each value', () => {
    for (let n = 1; n <= 5; n++) {
      const text = toBase64Url(pseudoBytes(n, 77 + n));
      for (let i = 0; i < text.length; i++) {
        for (const c of ['A', 'B', 'Q', 'g', 'w', '_']) {
          const variant = text.slice(0, i) + c + text.slice(i + 1);
          try {
            expect(toBase64Url(fromBase64Url(variant))).toBe(variant);
          } catch (error) {
            expect(error).toBeInstanceOf(DecodeError);
          }
        }
      }
    }
  });
});

describe('UTF-8', () => {
  it('round trips text', () => {
    for (const text of ['', 'abc', '注音輸入法', '\u{1F426}']) expect(fromUtf8(utf8(text))).toBe(text);
  });

  it('rejects invalid UTF-8 with DecodeError', () => {
    for (const hex of ['ff', 'c328', 'eda080', 'c0af', 'f8888080', 'e282']) {
      expect(() => fromUtf8(fromHex(hex)), hex).toThrow(DecodeError);
    }
  });
});

describe('other helpers', () => {
  it('concatBytes, equalBytes, compareBytes', () => {
    expect(concatBytes()).toEqual(new Uint8Array(0));
    expect(concatBytes(fromHex('01'), new Uint8Array(0), fromHex('0203'))).toEqual(fromHex('010203'));
    expect(equalBytes(fromHex('0102'), fromHex('0102'))).toBe(true);
    expect(equalBytes(fromHex('0102'), fromHex('0103'))).toBe(false);
    expect(equalBytes(fromHex('0102'), fromHex('010200'))).toBe(false);
    expect(compareBytes(fromHex('01'), fromHex('02'))).toBeLessThan(0);
    expect(compareBytes(fromHex('0201'), fromHex('02'))).toBeGreaterThan(0);
    expect(compareBytes(fromHex('ff'), fromHex('ff'))).toBe(0);
  });

  it('u32be and u64be encode big-endian and refuse out-of-range input with UsageError', () => {
    expect(toHex(u32be(0x01020304))).toBe('01020304');
    expect(toHex(u32be(0xffffffff))).toBe('ffffffff');
    expect(toHex(u64be(0x0102030405))).toBe('0000000102030405');
    expect(toHex(u64be(Number.MAX_SAFE_INTEGER))).toBe('001fffffffffffff');
    for (const bad of [-1, 0x100000000, 1.5, Number.NaN]) expect(() => u32be(bad)).toThrow(UsageError);
    for (const bad of [-1, Number.MAX_SAFE_INTEGER + 1, 0.5]) expect(() => u64be(bad)).toThrow(UsageError);
  });

  it('assertLength throws UsageError on a wrong length or a non-Uint8Array', () => {
    expect(() => assertLength(new Uint8Array(3), 3, 'x')).not.toThrow();
    expect(() => assertLength(new Uint8Array(2), 3, 'x')).toThrow(UsageError);
    expect(() => assertLength([1, 2, 3] as unknown as Uint8Array, 3, 'x')).toThrow(UsageError);
  });
});
