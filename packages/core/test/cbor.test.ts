/**
 * The deterministic CBOR codec: round trips of every supported type, the RFC 8949
 * Appendix A examples that fall inside our subset, every rejection the strict decoder
 * promises, and single-byte mutation fuzzing.
 */
import { describe, expect, it } from 'vitest';
import {
  concatBytes,
  decodeCbor,
  DecodeError,
  DEFAULT_CBOR_LIMITS,
  encodeCbor,
  fromHex,
  toHex,
  UsageError,
  type CborValue,
} from '../src/index.ts';

/** A small deterministic generator (xorshift32), so every run mutates the same bytes. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

describe('CBOR round trips', () => {
  const values: Array<[string, CborValue]> = [
    ['zero', 0],
    ['small ints', 23],
    ['1-byte head', 24],
    ['1-byte max', 255],
    ['2-byte min', 256],
    ['2-byte max', 65535],
    ['4-byte min', 65536],
    ['4-byte max', 0xffffffff],
    ['8-byte min', 0x100000000],
    ['max safe integer', Number.MAX_SAFE_INTEGER],
    ['-1', -1],
    ['-24', -24],
    ['-25', -25],
    ['-256', -256],
    ['-257', -257],
    ['-65537', -65537],
    ['-2^32 - 1', -0x100000001],
    ['min safe integer', Number.MIN_SAFE_INTEGER],
    ['true', true],
    ['false', false],
    ['null', null],
    ['empty text', ''],
    ['ascii text', 'hello'],
    ['non-ASCII text', '你好，世界 — 已讀 收回'],
    ['astral text', '\u{1F426}\u{1F54A}'],
    ['long text', 'x'.repeat(70000)],
    ['empty bytes', new Uint8Array(0)],
    ['bytes', fromHex('00ff10')],
    ['long bytes', new Uint8Array(1000).fill(7)],
    ['empty array', []],
    ['empty map', {}],
    ['nested', { a: [1, [2, [3, { b: new Uint8Array([4]) }]]], c: { d: { e: null } }, f: [true, false, ''] }],
    ['map key order', { zz: 1, a: 2, b: 3, aa: 4, '': 5, é: 6 }],
  ];

  for (const [name, value] of values) {
    it(name, () => {
      const bytes = encodeCbor(value);
      expect(decodeCbor(bytes)).toEqual(value);
      // Canonical: encoding the decoded value gives the same bytes.
      expect(toHex(encodeCbor(decodeCbor(bytes)))).toBe(toHex(bytes));
    });
  }

  it('sorts map keys by their encoded bytes (RFC 8949 §4.2.1): shorter keys first', () => {
    expect(toHex(encodeCbor({ aa: 1, b: 2 }))).toBe('a2616202626161' + '01');
    expect(toHex(encodeCbor({ b: 1, a: 2 }))).toBe('a2616102616201');
  });

  it('leaves out map entries whose value is undefined', () => {
    expect(toHex(encodeCbor({ a: 1, b: undefined }))).toBe('a1616101');
  });

  it('refuses values outside the subset with UsageError', () => {
    expect(() => encodeCbor(1.5)).toThrow(UsageError);
    expect(() => encodeCbor(Number.NaN)).toThrow(UsageError);
    expect(() => encodeCbor(Number.MAX_SAFE_INTEGER + 1)).toThrow(UsageError);
    expect(() => encodeCbor(undefined as unknown as CborValue)).toThrow(UsageError);
    let deep: CborValue = 0;
    for (let i = 0; i < DEFAULT_CBOR_LIMITS.maxDepth + 2; i++) deep = [deep];
    expect(() => encodeCbor(deep)).toThrow(UsageError);
  });
});

describe('RFC 8949 Appendix A examples within the subset', () => {
  // RFC 8949 Appendix A ("Examples of Encoded CBOR Data Items"), Table 6: value, encoding.
  const examples: Array<[CborValue, string]> = [
    [0, '00'],
    [1, '01'],
    [10, '0a'],
    [23, '17'],
    [24, '1818'],
    [25, '1819'],
    [100, '1864'],
    [1000, '1903e8'],
    [1000000, '1a000f4240'],
    [1000000000000, '1b000000e8d4a51000'],
    [-1, '20'],
    [-10, '29'],
    [-100, '3863'],
    [-1000, '3903e7'],
    [false, 'f4'],
    [true, 'f5'],
    [null, 'f6'],
    [new Uint8Array(0), '40'],
    [fromHex('01020304'), '4401020304'],
    ['', '60'],
    ['a', '6161'],
    ['IETF', '6449455446'],
    ['"\\', '62225c'],
    ['\u00fc', '62c3bc'],
    ['\u6c34', '63e6b0b4'],
    ['\ud800\udd51', '64f0908591'],
    [[], '80'],
    [[1, 2, 3], '83010203'],
    [[1, [2, 3], [4, 5]], '8301820203820405'],
    [
      Array.from({ length: 25 }, (_, i) => i + 1),
      '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    ],
    [{}, 'a0'],
    [{ a: 1, b: [2, 3] }, 'a26161016162820203'],
    [['a', { b: 'c' }], '826161a161626163'],
    [{ a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, 'a56161614161626142616361436164614461656145'],
  ];

  for (const [value, hex] of examples) {
    it(`${JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `h'${toHex(v)}'` : v))} <-> ${hex}`, () => {
      expect(toHex(encodeCbor(value))).toBe(hex);
      expect(decodeCbor(fromHex(hex))).toEqual(value);
    });
  }

  // RFC 8949 Appendix A examples outside the subset: each must be refused with DecodeError.
  const outside: Array<[string, string]> = [
    ['18446744073709551615 (beyond 2^53)', '1bffffffffffffffff'],
    ['-18446744073709551616 (beyond 2^53)', '3bffffffffffffffff'],
    ['bignum tag 2', 'c249010000000000000000'],
    ['bignum tag 3', 'c349010000000000000000'],
    ['0.0 (half float)', 'f90000'],
    ['100000.0 (single float)', 'fa47c35000'],
    ['1.1 (double float)', 'fb3ff199999999999a'],
    ['Infinity', 'f97c00'],
    ['NaN', 'f97e00'],
    ['simple(16)', 'f0'],
    ['simple(255)', 'f8ff'],
    ['undefined', 'f7'],
    ['tag 0 date/time', 'c074323031332d30332d32315432303a30343a30305a'],
    ['tag 1 epoch', 'c11a514b67b0'],
    ['tag 23', 'd74401020304'],
    ['tag 32 URI', 'd82076687474703a2f2f7777772e6578616d706c652e636f6d'],
    ['map with integer keys', 'a201020304'],
    ['indefinite byte string', '5f42010243030405ff'],
    ['indefinite text string', '7f657374726561646d696e67ff'],
    ['indefinite empty array', '9fff'],
    ['indefinite nested arrays', '9f018202039f0405ffff'],
    ['indefinite map', 'bf61610161629f0203ffff'],
    ['indefinite map with text keys', 'bf6346756ef563416d7421ff'],
  ];
  for (const [name, hex] of outside) {
    it(`refuses ${name}: ${hex}`, () => {
      expect(() => decodeCbor(fromHex(hex))).toThrow(DecodeError);
    });
  }
});

describe('CBOR strict decoding', () => {
  const sample: CborValue = {
    v: 1,
    id: new Uint8Array(32).fill(0xab),
    name: 'Parus 山雀',
    n: -300,
    big: 0x123456789a,
    flags: [true, false, null],
    nested: { list: [1, 2, [3, 4, { x: 'y' }]], empty: {}, bytes: new Uint8Array(0) },
  };
  const doc = encodeCbor(sample);

  it('rejects every truncation of a valid document', () => {
    for (let n = 0; n < doc.length; n++) {
      expect(() => decodeCbor(doc.subarray(0, n))).toThrow(DecodeError);
    }
  });

  it('rejects trailing bytes', () => {
    expect(() => decodeCbor(concatBytes(doc, new Uint8Array([0])))).toThrow(DecodeError);
    expect(() => decodeCbor(fromHex('0000'))).toThrow(DecodeError);
  });

  it('rejects non-shortest integer and length heads', () => {
    for (const hex of [
      '1817', // 23 with a 1-byte argument
      '190017',
      '1900ff', // 255 with a 2-byte argument
      '1a0000ffff',
      '1b00000000ffffffff',
      '3817', // -24 with a 1-byte argument
      '5801ff', // 1-byte string with a 1-byte length
      '780161', // "a" with a 1-byte length
      '980100', // [0] with a 1-byte count
      'b8016161f6', // {"a": null} with a 1-byte count
    ]) {
      expect(() => decodeCbor(fromHex(hex)), hex).toThrow(DecodeError);
    }
  });

  it('rejects unsorted and duplicate map keys', () => {
    expect(() => decodeCbor(fromHex('a2616201616102'))).toThrow(DecodeError); // {"b":1,"a":2}
    expect(() => decodeCbor(fromHex('a2616101616102'))).toThrow(DecodeError); // {"a":1,"a":2}
    expect(() => decodeCbor(fromHex('a2626161016162' + '02'))).toThrow(DecodeError); // {"aa":1,"b":2}
  });

  it('rejects reserved heads (info 28..30) in every major type', () => {
    for (let major = 0; major < 8; major++) {
      for (const info of [28, 29, 30]) {
        expect(() => decodeCbor(new Uint8Array([(major << 5) | info, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(
          DecodeError,
        );
      }
    }
  });

  it('rejects invalid UTF-8 in text strings', () => {
    for (const hex of ['62c328', '61ff', '63eda080', '62c0af', '64f8888080', '61c3']) {
      expect(() => decodeCbor(fromHex(hex)), hex).toThrow(DecodeError);
    }
  });

  it('rejects nesting deeper than the limit', () => {
    const limited = { maxDepth: 3 };
    expect(decodeCbor(fromHex('81818100'), limited)).toEqual([[[0]]]);
    expect(() => decodeCbor(fromHex('8181818100'), limited)).toThrow(DecodeError);
    expect(() => decodeCbor(concatBytes(new Uint8Array(1000).fill(0x81), new Uint8Array([0])))).toThrow(
      DecodeError,
    );
    expect(() => decodeCbor(new Uint8Array(1000).fill(0xa1))).toThrow(DecodeError);
  });

  it('rejects more items than the limits allow, per container and per document', () => {
    const items = DEFAULT_CBOR_LIMITS.maxItems;
    const justRight = encodeCbor(new Array<number>(items).fill(0));
    expect((decodeCbor(justRight) as number[]).length).toBe(items);
    const tooMany = encodeCbor(new Array<number>(items + 1).fill(0));
    expect(() => decodeCbor(tooMany)).toThrow(DecodeError);
    expect(() => decodeCbor(encodeCbor([[1, 2], [3, 4], [5]]), { maxTotalItems: 4 })).toThrow(DecodeError);
    expect(decodeCbor(encodeCbor([[1, 2], [3]]), { maxTotalItems: 5 })).toEqual([[1, 2], [3]]);
  });

  it('rejects input larger than maxBytes before parsing it', () => {
    expect(() => decodeCbor(doc, { maxBytes: doc.length - 1 })).toThrow(DecodeError);
    expect(decodeCbor(doc, { maxBytes: doc.length })).toEqual(sample);
    expect(() => decodeCbor(new Uint8Array(DEFAULT_CBOR_LIMITS.maxBytes + 1))).toThrow(DecodeError);
  });

  it('rejects declared lengths beyond the input without allocating them', () => {
    expect(() => decodeCbor(fromHex('5affffffff00'))).toThrow(DecodeError);
    expect(() => decodeCbor(fromHex('7b001fffffffffffff'))).toThrow(DecodeError);
    expect(() => decodeCbor(fromHex('9affffffff'))).toThrow(DecodeError);
  });

  it('rejects input that is not bytes', () => {
    expect(() => decodeCbor('a0' as unknown as Uint8Array)).toThrow(DecodeError);
  });

  it('2,000 random single-byte mutations either decode canonically or throw DecodeError', () => {
    const next = xorshift(0x5eed1234);
    let decoded = 0;
    let refused = 0;
    for (let i = 0; i < 2000; i++) {
      const mutated = doc.slice();
      const index = next() % mutated.length;
      let replacement = next() & 0xff;
      if (replacement === mutated[index]) replacement ^= 1 << next() % 8;
      mutated[index] = replacement;
      let value: CborValue;
      try {
        value = decodeCbor(mutated);
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError);
        refused++;
        continue;
      }
      decoded++;
      // Whatever the strict decoder accepts is canonical: it re-encodes to the same bytes.
      expect(toHex(encodeCbor(value))).toBe(toHex(mutated));
    }
    expect(decoded + refused).toBe(2000);
    expect(refused).toBeGreaterThan(0);
  });
});
