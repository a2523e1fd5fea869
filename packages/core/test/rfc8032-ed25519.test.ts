/**
 * Known answers for Ed25519 from RFC 8032 §7.1 ("Test Vectors for Ed25519"), through the
 * named operations of crypto.ts. TEST SHA(abc) is left out: its message is a SHA-512
 * digest meant for Ed25519ph, which Parus does not use.
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, initCrypto, sign, signKeyPairFromSeed, toHex, UsageError, verify } from '../src/index.ts';

interface Ed25519Vector {
  name: string;
  secretKey: string; // the 32-byte seed RFC 8032 calls SECRET KEY
  publicKey: string;
  message: string;
  signature: string;
}

/** RFC 8032 §7.1, "-----TEST 1024": the 1023-byte message lives in a vector file, as printed. */
function test1024Message(): string {
  const text = readFileSync(new URL('./vectors/rfc8032-7.1-test1024-message.txt', import.meta.url), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'))
    .join('');
}

const vectors: Ed25519Vector[] = [
  // RFC 8032 §7.1, -----TEST 1 (empty message)
  {
    name: 'TEST 1',
    secretKey: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155' +
      '5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  // RFC 8032 §7.1, -----TEST 2 (1-byte message)
  {
    name: 'TEST 2',
    secretKey: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    publicKey: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da' +
      '085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  // RFC 8032 §7.1, -----TEST 3 (2-byte message)
  {
    name: 'TEST 3',
    secretKey: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    publicKey: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac' +
      '18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
  // RFC 8032 §7.1, -----TEST 1024 (1023-byte message, see the vector file)
  {
    name: 'TEST 1024',
    secretKey: 'f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5',
    publicKey: '278117fc144c72340f67d0f2316e8386ceffbf2b2428c9c51fef7c597f1d426e',
    message: test1024Message(),
    signature:
      '0aab4c900501b3e24d7cdf4663326a3a87df5e4843b2cbdb67cbf6e460fec350' +
      'aa5371b1508f9f4528ecea23c436d94b5e8fcd4f681e30a6ac00a9704a188a03',
  },
];

describe('Ed25519, RFC 8032 §7.1', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('reads the 1023-byte message of TEST 1024 in full', () => {
    expect(fromHex(test1024Message()).length).toBe(1023);
  });

  for (const v of vectors) {
    describe(v.name, () => {
      it('derives the public key from the secret seed', () => {
        const kp = signKeyPairFromSeed(fromHex(v.secretKey));
        expect(toHex(kp.publicKey)).toBe(v.publicKey);
        // libsodium's 64-byte secret key is seed || public key.
        expect(toHex(kp.secretKey)).toBe(v.secretKey + v.publicKey);
      });

      it('produces the signature bytes', () => {
        const kp = signKeyPairFromSeed(fromHex(v.secretKey));
        expect(toHex(sign(kp.secretKey, fromHex(v.message)))).toBe(v.signature);
      });

      it('verifies the signature', () => {
        expect(verify(fromHex(v.publicKey), fromHex(v.message), fromHex(v.signature))).toBe(true);
      });

      it('rejects the signature with any one bit flipped in R, in S, in the message or in the key', () => {
        const pk = fromHex(v.publicKey);
        const msg = fromHex(v.message);
        const sig = fromHex(v.signature);
        for (const bit of [0, 7, 255, 256, 300, 511]) {
          const bad = sig.slice();
          bad[bit >> 3]! ^= 1 << (bit & 7);
          expect(verify(pk, msg, bad)).toBe(false);
        }
        if (msg.length > 0) {
          const badMsg = msg.slice();
          badMsg[msg.length - 1]! ^= 0x01;
          expect(verify(pk, badMsg, sig)).toBe(false);
        } else {
          expect(verify(pk, new Uint8Array([0]), sig)).toBe(false);
        }
        const badKey = pk.slice();
        badKey[0]! ^= 0x01;
        expect(verify(badKey, msg, sig)).toBe(false);
      });
    });
  }

  it('returns false, never throws, for keys and signatures of the wrong size', () => {
    const v = vectors[1]!;
    const msg = fromHex(v.message);
    const sig = fromHex(v.signature);
    const pk = fromHex(v.publicKey);
    expect(verify(pk.subarray(1), msg, sig)).toBe(false);
    expect(verify(pk, msg, sig.subarray(1))).toBe(false);
    expect(verify(pk, msg, new Uint8Array(0))).toBe(false);
  });

  it('refuses a seed or a secret key of the wrong size with UsageError', () => {
    expect(() => signKeyPairFromSeed(new Uint8Array(31))).toThrow(UsageError);
    expect(() => sign(new Uint8Array(32), new Uint8Array(0))).toThrow(UsageError);
  });
});
