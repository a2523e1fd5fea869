/**
 * Known answers for X25519 from RFC 7748: the two scalar-multiplication vectors and the
 * iterated test of §5.2, and the Diffie-Hellman example of §6.1, through `dh` and
 * `dhKeyPairFromSecret` of crypto.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dh,
  dhKeyPairFromSecret,
  fromHex,
  initCrypto,
  toHex,
  UsageError,
  VerificationError,
} from '../src/index.ts';

describe('X25519, RFC 7748', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  // RFC 7748 §5.2, the two test vectors for the function X25519 (scalar, u-coordinate).
  const functionVectors = [
    {
      scalar: 'a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4',
      u: 'e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c',
      out: 'c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552',
    },
    {
      // The top bit of this u-coordinate is set; §5 says it must be masked, not rejected.
      scalar: '4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d',
      u: 'e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493',
      out: '95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957',
    },
  ];

  functionVectors.forEach((v, i) => {
    it(`§5.2 scalar multiplication, vector ${i + 1}`, () => {
      expect(toHex(dh(fromHex(v.scalar), fromHex(v.u)))).toBe(v.out);
    });
  });

  it('§5.2 iterated: after 1 and after 1,000 iterations', () => {
    // k = u = 9; each round: k' = X25519(k, u), u = k, k = k'.
    let k: Uint8Array = fromHex('0900000000000000000000000000000000000000000000000000000000000000');
    let u: Uint8Array = k.slice();
    const results = new Map<number, string>();
    for (let i = 1; i <= 1000; i++) {
      const next = dh(k, u);
      u = k;
      k = next;
      if (i === 1 || i === 1000) results.set(i, toHex(k));
    }
    // RFC 7748 §5.2: "After one iteration" and "After 1,000 iterations".
    expect(results.get(1)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    expect(results.get(1000)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  it('§6.1 Diffie-Hellman: Alice and Bob derive the published keys and shared secret', () => {
    // RFC 7748 §6.1.
    const alice = dhKeyPairFromSecret(
      fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
    );
    const bob = dhKeyPairFromSecret(
      fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
    );
    expect(toHex(alice.publicKey)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(bob.publicKey)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(dh(alice.secretKey, bob.publicKey))).toBe(k);
    expect(toHex(dh(bob.secretKey, alice.publicKey))).toBe(k);
  });

  it('rejects a low-order peer key (all zeros) with VerificationError', () => {
    const secret = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    expect(() => dh(secret, new Uint8Array(32))).toThrow(VerificationError);
    // u = 1 is also of low order (RFC 7748 §6.1: the all-zero output must be checked).
    const one = new Uint8Array(32);
    one[0] = 1;
    expect(() => dh(secret, one)).toThrow(VerificationError);
  });

  it('rejects a peer key of the wrong size with VerificationError, a bad secret with UsageError', () => {
    const secret = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    expect(() => dh(secret, new Uint8Array(31))).toThrow(VerificationError);
    expect(() => dh(secret.subarray(1), new Uint8Array(32).fill(9))).toThrow(UsageError);
  });
});
