/** Known answers for HMAC-SHA-256 from RFC 4231 §4, through `hmacSha256`. */
import { beforeAll, describe, expect, it } from 'vitest';
import { hmacSha256, initCrypto, toHex, utf8 } from '../src/index.ts';

const cases = [
  {
    // RFC 4231 §4.2, Test Case 1.
    name: 'Test Case 1',
    key: new Uint8Array(20).fill(0x0b),
    data: utf8('Hi There'),
    mac: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
  },
  {
    // RFC 4231 §4.3, Test Case 2: a key shorter than the length of the HMAC output.
    name: 'Test Case 2',
    key: utf8('Jefe'),
    data: utf8('what do ya want for nothing?'),
    mac: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
  },
  {
    // RFC 4231 §4.4, Test Case 3: combined length of key and data larger than 64 bytes.
    name: 'Test Case 3',
    key: new Uint8Array(20).fill(0xaa),
    data: new Uint8Array(50).fill(0xdd),
    mac: '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe',
  },
  {
    // RFC 4231 §4.7, Test Case 6: a key larger than the block size (hashed first).
    name: 'Test Case 6',
    key: new Uint8Array(131).fill(0xaa),
    data: utf8('Test Using Larger Than Block-Size Key - Hash Key First'),
    mac: '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
  },
];

describe('HMAC-SHA-256, RFC 4231', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  for (const c of cases) {
    it(c.name, () => {
      expect(toHex(hmacSha256(c.key, c.data))).toBe(c.mac);
    });
  }
});
