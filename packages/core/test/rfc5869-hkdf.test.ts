/**
 * Known answers for HKDF-SHA-256 from RFC 5869 Appendix A (test cases 1 to 3), through
 * `hkdf`; the PRK of each case is checked through `hmacSha256` (RFC 5869 §2.2, Extract).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, hkdf, hmacSha256, initCrypto, toHex, UsageError } from '../src/index.ts';

function range(from: number, to: number): Uint8Array {
  const out = new Uint8Array(to - from + 1);
  for (let i = 0; i < out.length; i++) out[i] = from + i;
  return out;
}

const cases = [
  {
    // RFC 5869 A.1, Test Case 1: basic test case with SHA-256.
    name: 'A.1 Test Case 1',
    ikm: new Uint8Array(22).fill(0x0b),
    salt: fromHex('000102030405060708090a0b0c'),
    info: fromHex('f0f1f2f3f4f5f6f7f8f9'),
    length: 42,
    prk: '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
    okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
  },
  {
    // RFC 5869 A.2, Test Case 2: longer inputs/outputs (IKM 0x00..0x4f, salt 0x60..0xaf, info 0xb0..0xff).
    name: 'A.2 Test Case 2',
    ikm: range(0x00, 0x4f),
    salt: range(0x60, 0xaf),
    info: range(0xb0, 0xff),
    length: 82,
    prk: '06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244',
    okm:
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c' +
      '59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71' +
      'cc30c58179ec3e87c14c01d5c1f3434f1d87',
  },
  {
    // RFC 5869 A.3, Test Case 3: zero-length salt and info.
    name: 'A.3 Test Case 3',
    ikm: new Uint8Array(22).fill(0x0b),
    salt: new Uint8Array(0),
    info: new Uint8Array(0),
    length: 42,
    prk: '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
    okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
  },
];

describe('HKDF-SHA-256, RFC 5869 Appendix A', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  for (const c of cases) {
    it(`${c.name}: OKM`, () => {
      expect(toHex(hkdf(c.ikm, c.salt, c.info, c.length))).toBe(c.okm);
    });

    it(`${c.name}: PRK = HMAC-Hash(salt, IKM), salt defaulting to HashLen zeros`, () => {
      const salt = c.salt.length > 0 ? c.salt : new Uint8Array(32);
      expect(toHex(hmacSha256(salt, c.ikm))).toBe(c.prk);
    });
  }

  it('gives prefixes of the same stream for shorter lengths (RFC 5869 §2.3)', () => {
    const c = cases[1]!;
    expect(toHex(hkdf(c.ikm, c.salt, c.info, 1))).toBe(c.okm.slice(0, 2));
    expect(toHex(hkdf(c.ikm, c.salt, c.info, 32))).toBe(c.okm.slice(0, 64));
    expect(toHex(hkdf(c.ikm, c.salt, c.info, 33))).toBe(c.okm.slice(0, 66));
  });

  it('refuses lengths outside 1..255*HashLen with UsageError', () => {
    const c = cases[0]!;
    expect(() => hkdf(c.ikm, c.salt, c.info, 0)).toThrow(UsageError);
    expect(() => hkdf(c.ikm, c.salt, c.info, 255 * 32 + 1)).toThrow(UsageError);
    expect(() => hkdf(c.ikm, c.salt, c.info, 1.5)).toThrow(UsageError);
    expect(hkdf(c.ikm, c.salt, c.info, 255 * 32).length).toBe(255 * 32);
  });
});
