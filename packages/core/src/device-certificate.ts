/**
 * A device certificate: the contact identity (Ckp) vouches for one of its owner's devices
 * towards one contact (DESIGN.md "Identities and keys": "Ckp certifies your current
 * devices towards that contact"). A contact accepts envelopes signed by a device key only
 * with a certificate from the Ckp it knows.
 *
 *   CBOR map {
 *     v: 1,
 *     identityKey: bytes 32    the Ckp (Ed25519)
 *     deviceKey: bytes 32      the device's Ed25519 key (Dkp)
 *     issued: uint             ms since the epoch
 *     sig: bytes 64            Ed25519 by identityKey over "parus-device-cert-v1" || CBOR(map without sig)
 *   }
 */
import { concatBytes, utf8 } from './bytes.ts';
import { asBytes, asMap, asUint, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import {
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  assertSignature,
  sign,
  type SignKeyPair,
} from './crypto.ts';
import { DecodeError, ProtocolError, UsageError } from './errors.ts';

export const DEVICE_CERTIFICATE_VERSION = 1;
/** A certificate is ~190 bytes; anything much bigger is not one. */
export const MAX_DEVICE_CERTIFICATE_BYTES = 512;

const CERT_CONTEXT = utf8('parus-device-cert-v1');

export interface DeviceCertificate {
  v: 1;
  identityKey: Uint8Array;
  deviceKey: Uint8Array;
  issued: number;
  sig: Uint8Array;
}

function signingBytes(cert: Omit<DeviceCertificate, 'sig'>): Uint8Array {
  const unsigned: CborMap = {
    v: cert.v,
    identityKey: cert.identityKey,
    deviceKey: cert.deviceKey,
    issued: cert.issued,
  };
  return concatBytes(CERT_CONTEXT, encodeCbor(unsigned));
}

export function createDeviceCertificate(opts: {
  identity: SignKeyPair;
  deviceKey: Uint8Array;
  issued: number;
}): DeviceCertificate {
  const { identity, deviceKey, issued } = opts;
  if (identity?.publicKey?.length !== SIGN_PUBLIC_BYTES || identity.secretKey?.length !== SIGN_SECRET_BYTES) {
    throw new UsageError('identity must be an Ed25519 key pair');
  }
  if (!(deviceKey instanceof Uint8Array) || deviceKey.length !== SIGN_PUBLIC_BYTES) {
    throw new UsageError(`device key must be ${SIGN_PUBLIC_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(issued) || issued < 0) throw new UsageError('issued must be ms since the epoch');
  const unsigned = {
    v: DEVICE_CERTIFICATE_VERSION,
    identityKey: identity.publicKey.slice(),
    deviceKey: deviceKey.slice(),
    issued,
  } as const;
  return { ...unsigned, sig: sign(identity.secretKey, signingBytes(unsigned)) };
}

export function encodeDeviceCertificate(cert: DeviceCertificate): Uint8Array {
  return encodeCbor({
    v: cert.v,
    identityKey: cert.identityKey,
    deviceKey: cert.deviceKey,
    issued: cert.issued,
    sig: cert.sig,
  });
}

/**
 * Strict decoding (DecodeError), version 1 only (ProtocolError), then the signature
 * (VerificationError). The caller checks that identityKey is the contact's Ckp.
 */
export function decodeDeviceCertificate(bytes: Uint8Array): DeviceCertificate {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('device certificate must be bytes');
  if (bytes.length > MAX_DEVICE_CERTIFICATE_BYTES) {
    throw new DecodeError(`device certificate larger than ${MAX_DEVICE_CERTIFICATE_BYTES} bytes`);
  }
  const limits = { maxBytes: MAX_DEVICE_CERTIFICATE_BYTES, maxDepth: 1, maxItems: 8, maxTotalItems: 16 };
  const m = asMap(decodeCbor(bytes, limits), 'device certificate');
  const v = asUint(m.v, 'device certificate version');
  if (v !== DEVICE_CERTIFICATE_VERSION) throw new ProtocolError(`unknown device certificate version ${v}`);
  const cert: DeviceCertificate = {
    v: DEVICE_CERTIFICATE_VERSION,
    identityKey: asBytes(m.identityKey, 'device certificate identity key', { len: SIGN_PUBLIC_BYTES }),
    deviceKey: asBytes(m.deviceKey, 'device certificate device key', { len: SIGN_PUBLIC_BYTES }),
    issued: asUint(m.issued, 'device certificate issue time'),
    sig: asBytes(m.sig, 'device certificate signature', { len: SIGNATURE_BYTES }),
  };
  // Every known field has been read; any other key is unknown (repeats were refused by CBOR).
  if (Object.keys(m).length !== 5) throw new DecodeError('device certificate has unknown fields');
  assertSignature(cert.identityKey, signingBytes(cert), cert.sig, 'device certificate');
  return cert;
}
