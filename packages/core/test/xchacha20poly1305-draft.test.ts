/**
 * Known answer for AEAD_XChaCha20_Poly1305 from draft-irtf-cfrg-xchacha-03 §A.3.1, through
 * `seal` and `open` of crypto.ts; then tampering with ciphertext, tag, AD, key or nonce.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  fromHex,
  initCrypto,
  open,
  openWithNonce,
  seal,
  sealWithNonce,
  toHex,
  UsageError,
  utf8,
  VerificationError,
} from '../src/index.ts';

// draft-irtf-cfrg-xchacha-03, Appendix A.3.1 (AEAD_XChaCha20_Poly1305 test vector).
const plaintext = utf8(
  "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
);
const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
const nonce = fromHex('404142434445464748494a4b4c4d4e4f5051525354555657');
const ciphertext =
  'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb' +
  '731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452' +
  '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
  '21f9664c97637da9768812f615c68b13b52e';
const tag = 'c0875924c1c7987947deafd8780acf49';

describe('XChaCha20-Poly1305, draft-irtf-cfrg-xchacha-03 §A.3.1', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('seals to the published ciphertext || tag', () => {
    expect(toHex(seal(key, nonce, plaintext, aad))).toBe(ciphertext + tag);
  });

  it('opens the published ciphertext || tag', () => {
    expect(open(key, nonce, fromHex(ciphertext + tag), aad)).toEqual(plaintext);
  });

  it('rejects a flipped bit anywhere in ciphertext or tag with VerificationError', () => {
    const sealed = fromHex(ciphertext + tag);
    for (const index of [0, 1, 57, sealed.length - 17, sealed.length - 16, sealed.length - 1]) {
      const bad = sealed.slice();
      bad[index]! ^= 0x80;
      expect(() => open(key, nonce, bad, aad)).toThrow(VerificationError);
    }
  });

  it('rejects changed or missing AD, another key or another nonce with VerificationError', () => {
    const sealed = fromHex(ciphertext + tag);
    const badAd = aad.slice();
    badAd[0]! ^= 1;
    expect(() => open(key, nonce, sealed, badAd)).toThrow(VerificationError);
    expect(() => open(key, nonce, sealed)).toThrow(VerificationError);
    const badKey = key.slice();
    badKey[31]! ^= 1;
    expect(() => open(badKey, nonce, sealed, aad)).toThrow(VerificationError);
    const badNonce = nonce.slice();
    badNonce[23]! ^= 1;
    expect(() => open(key, badNonce, sealed, aad)).toThrow(VerificationError);
  });

  it('rejects truncated input with VerificationError and bad key/nonce sizes with UsageError', () => {
    const sealed = fromHex(ciphertext + tag);
    expect(() => open(key, nonce, sealed.subarray(0, sealed.length - 1), aad)).toThrow(VerificationError);
    expect(() => open(key, nonce, sealed.subarray(0, 15), aad)).toThrow(VerificationError);
    expect(() => open(key, nonce, new Uint8Array(0), aad)).toThrow(VerificationError);
    expect(() => seal(key.subarray(1), nonce, plaintext)).toThrow(UsageError);
    expect(() => seal(key, nonce.subarray(1), plaintext)).toThrow(UsageError);
  });

  it('sealWithNonce prefixes the nonce it drew; openWithNonce reverses it', () => {
    const rng = { bytes: (n: number) => nonce.slice(0, n) };
    const box = sealWithNonce(rng, key, plaintext, aad);
    expect(toHex(box)).toBe(toHex(nonce) + ciphertext + tag);
    expect(openWithNonce(key, box, aad)).toEqual(plaintext);
    expect(() => openWithNonce(key, box.subarray(0, 39), aad)).toThrow(VerificationError);
  });
});
