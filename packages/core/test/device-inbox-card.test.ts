import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import {
  generateDhKeyPair,
  generateSignKeyPair,
  generateXwingKeyPair,
  initCrypto,
  sign,
  type SignKeyPair,
} from '../src/crypto.ts';
import {
  MAX_DEVICE_INBOX_CARD_BYTES,
  createDeviceInboxCard,
  decodeDeviceInboxCard,
  encodeDeviceInboxCard,
} from '../src/device-inbox-card.ts';
import { DecodeError, ProtocolError, UsageError, VerificationError } from '../src/errors.ts';
import { formatRelayAddress } from '../src/relay-address.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';
import frozen from './vectors/device-inbox-card.json' with { type: 'json' };

const ISSUED = 1_765_000_000_000;
let device: SignKeyPair;
let relay: string;
let sid: Uint8Array;
let prekey: Uint8Array;
let kem: Uint8Array;

beforeAll(async () => {
  await initCrypto();
  const rng = scriptedRandom('device-inbox-card');
  device = generateSignKeyPair(rng);
  sid = rng.bytes(24);
  prekey = generateDhKeyPair(rng).publicKey;
  kem = generateXwingKeyPair(rng).publicKey;
  relay = formatRelayAddress({
    fingerprint: rng.bytes(32),
    host: 'relay.example',
    port: 7000,
    transport: 'ws',
  });
});

function encoded(): Uint8Array {
  return encodeDeviceInboxCard(createDeviceInboxCard({ device, relay, sid, prekey, kem, issued: ISSUED }));
}

function edited(edit: (m: CborMap) => void, resignWith?: SignKeyPair): Uint8Array {
  const m = decodeCbor(encoded()) as CborMap;
  edit(m);
  if (!resignWith) return encodeCbor(m);
  const { sig: _sig, ...rest } = m;
  const sig = sign(resignWith.secretKey, concatBytes(utf8('parus-device-inbox-v1'), encodeCbor(rest)));
  return encodeCbor({ ...rest, sig });
}

describe('device inbox card', () => {
  it('matches the frozen vector (never regenerate it)', () => {
    expect(toHex(encoded())).toBe(frozen.card);
    const card = decodeDeviceInboxCard(fromHex(frozen.card));
    expect(toHex(card.device)).toBe(frozen.device);
    expect(card.relay).toBe(frozen.relay);
  });

  it('round-trips byte for byte, within its bound', () => {
    const bytes = encoded();
    const card = decodeDeviceInboxCard(bytes);
    expect(card.device).toEqual(device.publicKey);
    expect(card.sid).toEqual(sid);
    expect(card.issued).toBe(ISSUED);
    expect(toHex(encodeDeviceInboxCard(card))).toBe(toHex(bytes));
    expect(bytes.length).toBeLessThan(MAX_DEVICE_INBOX_CARD_BYTES);
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(encoded(), decodeDeviceInboxCard);
  });

  it('refuses random mutations with DecodeError or VerificationError', () => {
    const bytes = encoded();
    expectMutationsRejected(bytes, decodeDeviceInboxCard, {
      count: 400,
      seed: 39,
      versionOffset: versionOffset(bytes),
    });
  });

  it('refuses an oversized input, an unknown field, another version and a card signed by another key', () => {
    expect(() => decodeDeviceInboxCard(new Uint8Array(MAX_DEVICE_INBOX_CARD_BYTES + 1))).toThrow(DecodeError);
    expect(() => decodeDeviceInboxCard(edited((m) => (m.extra = 1), device))).toThrow(DecodeError);
    expect(() => decodeDeviceInboxCard(edited((m) => (m.v = 2), device))).toThrow(ProtocolError);
    const other = generateSignKeyPair(scriptedRandom('other'));
    expect(() => decodeDeviceInboxCard(edited((m) => (m.issued = ISSUED + 1), other))).toThrow(
      VerificationError,
    );
    expect(() => decodeDeviceInboxCard(edited((m) => (m.issued = ISSUED + 1)))).toThrow(VerificationError);
  });

  it('refuses bad inputs when making a card', () => {
    expect(() =>
      createDeviceInboxCard({ device, relay, sid: sid.slice(1), prekey, kem, issued: ISSUED }),
    ).toThrow(UsageError);
    expect(() =>
      createDeviceInboxCard({ device, relay: 'not a relay', sid, prekey, kem, issued: ISSUED }),
    ).toThrow(UsageError);
  });
});
