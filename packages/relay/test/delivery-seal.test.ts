/**
 * The relay's native delivery seal (delivery-seal.ts) against the published AEAD vector and
 * against core's WebAssembly seal, byte for byte; what it seals, core's openDelivery opens.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  UsageError,
  VerificationError,
  encodeDeliveryPlaintext,
  fromHex,
  initCrypto,
  openDelivery,
  sealDeliveryPlaintext,
  systemRandom,
  toHex,
  utf8,
} from '@parus/core';
import { sealDeliveryNative } from '../src/delivery-seal.ts';

describe('sealDeliveryNative', () => {
  beforeAll(async () => {
    await initCrypto();
  });

  it('seals draft-irtf-cfrg-xchacha-03 §A.3.1 to the published ciphertext and tag, after the nonce', () => {
    const plaintext = utf8(
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
    );
    const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
    const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
    const nonce = fromHex('404142434445464748494a4b4c4d4e4f5051525354555657');
    const sealed = sealDeliveryNative(key, nonce, aad, plaintext);
    expect(toHex(sealed)).toBe(
      toHex(nonce) +
        'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb' +
        '731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452' +
        '2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9' +
        '21f9664c97637da9768812f615c68b13b52e' +
        'c0875924c1c7987947deafd8780acf49',
    );
  });

  it("makes core's bytes for every size, and core opens them", () => {
    for (const size of [0, 1, 15, 16, 17, 255, 256, 4_096, 65_536]) {
      const key = systemRandom.bytes(32);
      const nonce = systemRandom.bytes(24);
      const mid = systemRandom.bytes(16);
      const body = systemRandom.bytes(size);
      const plaintext = encodeDeliveryPlaintext(1_700_000_000_000, body);
      const native = sealDeliveryNative(key, nonce, mid, plaintext);
      expect(toHex(native)).toBe(toHex(sealDeliveryPlaintext(key, nonce, mid, plaintext)));
      expect(openDelivery(key, mid, native)).toEqual({ ts: 1_700_000_000_000, body });
    }
  });

  it('binds the message id: another mid does not open', () => {
    const key = systemRandom.bytes(32);
    const sealed = sealDeliveryNative(key, systemRandom.bytes(24), systemRandom.bytes(16), utf8('x'));
    expect(() => openDelivery(key, systemRandom.bytes(16), sealed)).toThrow(VerificationError);
  });

  it('refuses a key or nonce of the wrong length with UsageError', () => {
    const mid = systemRandom.bytes(16);
    expect(() => sealDeliveryNative(new Uint8Array(31), new Uint8Array(24), mid, utf8('x'))).toThrow(
      UsageError,
    );
    expect(() => sealDeliveryNative(new Uint8Array(32), new Uint8Array(12), mid, utf8('x'))).toThrow(
      UsageError,
    );
  });
});
