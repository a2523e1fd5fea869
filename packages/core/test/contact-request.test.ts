import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, toHex } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { initCrypto } from '../src/crypto.ts';
import {
  decodeContactRequest,
  encodeContactRequest,
  MAX_CONTACT_REQUEST_BYTES,
  MAX_CONTACT_REQUEST_MESSAGE_BYTES,
  type ContactRequest,
} from '../src/contact-request.ts';
import { DecodeError, ProtocolError, UsageError } from '../src/errors.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';

const rng = scriptedRandom('contact-request');
let request: ContactRequest;

beforeAll(async () => {
  await initCrypto();
  request = {
    v: 1,
    card: rng.bytes(32),
    identityKey: rng.bytes(32),
    init: { ephemeralKey: rng.bytes(32), kemCiphertext: rng.bytes(1120) },
    message: rng.bytes(700),
  };
});

function edited(edit: (m: CborMap) => void): Uint8Array {
  const m = decodeCbor(encodeContactRequest(request)) as CborMap;
  edit(m);
  return encodeCbor(m);
}

describe('contact request codec', () => {
  it('round-trips', () => {
    const bytes = encodeContactRequest(request);
    const back = decodeContactRequest(bytes);
    expect(back).toEqual(request);
    expect(toHex(encodeContactRequest(back))).toBe(toHex(bytes));
    // 32 + 32 + 32 + 1120 bytes of keys, ~70 bytes of framing, plus the message.
    expect(bytes.length - request.message.length).toBeLessThan(1300);
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(encodeContactRequest(request), decodeContactRequest);
  });

  it('meets 600 random mutations with DecodeError or a decode (nothing is signed here)', () => {
    const bytes = encodeContactRequest(request);
    const { byClass } = expectMutationsRejected(bytes, decodeContactRequest, {
      count: 600,
      seed: 11,
      versionOffset: versionOffset(bytes),
      allowed: [DecodeError],
      mayDecode: true,
    });
    expect(byClass.DecodeError).toBeGreaterThan(0);
  });

  it('refuses oversized input with DecodeError', () => {
    expect(() => decodeContactRequest(new Uint8Array(MAX_CONTACT_REQUEST_BYTES + 1))).toThrow(DecodeError);
    const big = edited((m) => (m.message = new Uint8Array(MAX_CONTACT_REQUEST_MESSAGE_BYTES + 1)));
    expect(() => decodeContactRequest(big)).toThrow(DecodeError);
    const max = { ...request, message: new Uint8Array(MAX_CONTACT_REQUEST_MESSAGE_BYTES) };
    expect(encodeContactRequest(max).length).toBeLessThanOrEqual(MAX_CONTACT_REQUEST_BYTES);
    expect(decodeContactRequest(encodeContactRequest(max)).message).toHaveLength(
      MAX_CONTACT_REQUEST_MESSAGE_BYTES,
    );
    expect(() => decodeContactRequest(concatBytes(encodeContactRequest(request), new Uint8Array(1)))).toThrow(
      DecodeError,
    );
  });

  it('refuses malformed fields with DecodeError and an unknown version with ProtocolError', () => {
    const bad: Array<(m: CborMap) => void> = [
      (m) => (m.extra = 0),
      (m) => (m.init = { ...(m.init as CborMap), extra: 0 }),
      (m) => (m.init = { ephemeralKey: request.init.ephemeralKey }),
      (m) => (m.card = new Uint8Array(31)),
      (m) => (m.identityKey = new Uint8Array(33)),
      (m) => (m.init = { ephemeralKey: new Uint8Array(32), kemCiphertext: new Uint8Array(1088) }),
      (m) => (m.message = new Uint8Array(0)),
      (m) => (m.message = 'text'),
      (m) => delete m.card,
      (m) => (m.v = 'one'),
    ];
    for (const edit of bad) expect(() => decodeContactRequest(edited(edit))).toThrow(DecodeError);
    expect(() => decodeContactRequest(edited((m) => (m.v = 2)))).toThrow(ProtocolError);
  });

  it('checks arguments when encoding', () => {
    expect(() => encodeContactRequest({ ...request, card: new Uint8Array(16) })).toThrow(UsageError);
    expect(() => encodeContactRequest({ ...request, message: new Uint8Array(0) })).toThrow(UsageError);
    expect(() =>
      encodeContactRequest({ ...request, init: { ...request.init, kemCiphertext: new Uint8Array(10) } }),
    ).toThrow(UsageError);
  });
});
