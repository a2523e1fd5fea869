import { beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, toHex, utf8 } from '../src/bytes.ts';
import { decodeCbor, encodeCbor, type CborMap } from '../src/cbor.ts';
import { generateSignKeyPair, initCrypto, sign, type SignKeyPair } from '../src/crypto.ts';
import {
  createDeviceCertificate,
  decodeDeviceCertificate,
  encodeDeviceCertificate,
  MAX_DEVICE_CERTIFICATE_BYTES,
} from '../src/device-certificate.ts';
import { DecodeError, ProtocolError, UsageError, VerificationError } from '../src/errors.ts';
import {
  expectMutationsRejected,
  expectTruncationsRejected,
  scriptedRandom,
  versionOffset,
} from './contact-test-helpers.ts';

const rng = scriptedRandom('device-certificate');
const ISSUED = 1_750_000_000_000;
let identity: SignKeyPair;
let device: SignKeyPair;

beforeAll(async () => {
  await initCrypto();
  identity = generateSignKeyPair(rng);
  device = generateSignKeyPair(rng);
});

function encoded(): Uint8Array {
  return encodeDeviceCertificate(
    createDeviceCertificate({ identity, deviceKey: device.publicKey, issued: ISSUED }),
  );
}

function edited(edit: (m: CborMap) => void, resignWith?: SignKeyPair): Uint8Array {
  const m = decodeCbor(encoded()) as CborMap;
  edit(m);
  if (!resignWith) return encodeCbor(m);
  const { sig: _sig, ...rest } = m;
  const sig = sign(resignWith.secretKey, concatBytes(utf8('parus-device-cert-v1'), encodeCbor(rest)));
  return encodeCbor({ ...rest, sig });
}

describe('device certificate codec', () => {
  it('round-trips', () => {
    const bytes = encoded();
    const cert = decodeDeviceCertificate(bytes);
    expect(cert.identityKey).toEqual(identity.publicKey);
    expect(cert.deviceKey).toEqual(device.publicKey);
    expect(cert.issued).toBe(ISSUED);
    expect(toHex(encodeDeviceCertificate(cert))).toBe(toHex(bytes));
    expect(bytes.length).toBeLessThan(200);
  });

  it('refuses every truncation with DecodeError', () => {
    expectTruncationsRejected(encoded(), decodeDeviceCertificate);
  });

  it('refuses 600 random mutations with DecodeError or VerificationError', () => {
    const bytes = encoded();
    const { byClass } = expectMutationsRejected(bytes, decodeDeviceCertificate, {
      count: 600,
      seed: 3,
      versionOffset: versionOffset(bytes),
    });
    expect(byClass.VerificationError).toBeGreaterThan(0);
    expect(byClass.DecodeError).toBeGreaterThan(0);
  });

  it('refuses oversized input with DecodeError', () => {
    expect(() => decodeDeviceCertificate(new Uint8Array(MAX_DEVICE_CERTIFICATE_BYTES + 1))).toThrow(
      DecodeError,
    );
    expect(() => decodeDeviceCertificate(concatBytes(encoded(), new Uint8Array(1)))).toThrow(DecodeError);
    expect(() => decodeDeviceCertificate(edited((m) => (m.pad = new Uint8Array(400)), identity))).toThrow(
      DecodeError,
    );
  });

  it('refuses a field changed without re-signing with VerificationError', () => {
    const other = generateSignKeyPair(rng).publicKey;
    for (const edit of [
      (m: CborMap) => (m.deviceKey = other),
      (m: CborMap) => (m.identityKey = other),
      (m: CborMap) => (m.issued = ISSUED + 1),
    ]) {
      expect(() => decodeDeviceCertificate(edited(edit))).toThrow(VerificationError);
    }
    // Signed by the device itself rather than by the identity: still refused.
    expect(() => decodeDeviceCertificate(edited(() => undefined, device))).toThrow(VerificationError);
  });

  it('refuses unknown fields and versions', () => {
    expect(() => decodeDeviceCertificate(edited((m) => (m.extra = true), identity))).toThrow(DecodeError);
    expect(() =>
      decodeDeviceCertificate(edited((m) => (m.deviceKey = new Uint8Array(31)), identity)),
    ).toThrow(DecodeError);
    expect(() => decodeDeviceCertificate(edited((m) => (m.v = 2), identity))).toThrow(ProtocolError);
  });

  it('checks arguments', () => {
    expect(() =>
      createDeviceCertificate({ identity, deviceKey: new Uint8Array(31), issued: ISSUED }),
    ).toThrow(UsageError);
    expect(() => createDeviceCertificate({ identity, deviceKey: device.publicKey, issued: -1 })).toThrow(
      UsageError,
    );
  });
});
