/**
 * A device's inbox card (docs/decisions/0030 "Sessions", 0039): where one device of an account
 * receives from the account's other devices, and the prekeys they open a session with (PQXDH,
 * pqxdh.ts, with the device key as the identity key, no one-time prekey: X3DH §3.3). Signed by
 * the device key, which the account's device log names, so an own device checks the card
 * against the log and nobody else can make one for that device.
 *
 *   CBOR map {
 *     v: 1,
 *     device: bytes 32      the device's Ed25519 key (Dkp), as in the device log
 *     relay: text           parus://… of the inbox queue
 *     sid: bytes 24         the inbox queue's sender id
 *     prekey: bytes 32      X25519 signed prekey
 *     kem: bytes 1216       X-Wing prekey
 *     issued: uint          ms since the epoch; a newer card replaces an older one
 *     sig: bytes 64         Ed25519 by device over "parus-device-inbox-v1" || CBOR(map without sig)
 *   }
 */
import { concatBytes, utf8 } from './bytes.ts';
import { asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import {
  DH_BYTES,
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  XWING_PUBLIC_BYTES,
  assertSignature,
  sign,
  type SignKeyPair,
} from './crypto.ts';
import { DecodeError, ProtocolError, UsageError } from './errors.ts';
import { formatRelayAddress, parseRelayAddress } from './relay-address.ts';
import { QUEUE_ID_BYTES } from './relay-ids.ts';
import { MAX_RELAY_ADDRESS_CHARS } from './rendezvous-card.ts';

export const DEVICE_INBOX_CARD_VERSION = 1;
/** A card is ~1.4 KiB (the X-Wing key is most of it). */
export const MAX_DEVICE_INBOX_CARD_BYTES = 2048;

const CONTEXT = utf8('parus-device-inbox-v1');

export interface DeviceInboxCard {
  v: 1;
  device: Uint8Array;
  relay: string;
  sid: Uint8Array;
  prekey: Uint8Array;
  kem: Uint8Array;
  issued: number;
  sig: Uint8Array;
}

function unsignedMap(c: Omit<DeviceInboxCard, 'sig'>): CborMap {
  return {
    v: c.v,
    device: c.device,
    relay: c.relay,
    sid: c.sid,
    prekey: c.prekey,
    kem: c.kem,
    issued: c.issued,
  };
}

function signingBytes(c: Omit<DeviceInboxCard, 'sig'>): Uint8Array {
  return concatBytes(CONTEXT, encodeCbor(unsignedMap(c)));
}

function canonicalRelay(relay: string, onBad: (msg: string, cause: unknown) => Error): string {
  try {
    const canonical = formatRelayAddress(parseRelayAddress(relay));
    if (canonical !== relay) throw new DecodeError('relay address is not in canonical form');
    return canonical;
  } catch (cause) {
    throw onBad('inbox card relay is not a canonical relay address', cause);
  }
}

export function createDeviceInboxCard(opts: {
  device: SignKeyPair;
  relay: string;
  sid: Uint8Array;
  prekey: Uint8Array;
  kem: Uint8Array;
  issued: number;
}): DeviceInboxCard {
  const { device, sid, prekey, kem, issued } = opts;
  if (device?.publicKey?.length !== SIGN_PUBLIC_BYTES || device.secretKey?.length !== SIGN_SECRET_BYTES)
    throw new UsageError('device must be an Ed25519 key pair');
  if (!(sid instanceof Uint8Array) || sid.length !== QUEUE_ID_BYTES)
    throw new UsageError(`sid must be ${QUEUE_ID_BYTES} bytes`);
  if (!(prekey instanceof Uint8Array) || prekey.length !== DH_BYTES)
    throw new UsageError(`prekey must be ${DH_BYTES} bytes`);
  if (!(kem instanceof Uint8Array) || kem.length !== XWING_PUBLIC_BYTES)
    throw new UsageError(`kem must be ${XWING_PUBLIC_BYTES} bytes`);
  if (!Number.isSafeInteger(issued) || issued < 0) throw new UsageError('issued must be ms since the epoch');
  const relay = canonicalRelay(opts.relay, (m, cause) => new UsageError(m, { cause }));
  const unsigned = {
    v: DEVICE_INBOX_CARD_VERSION,
    device: device.publicKey.slice(),
    relay,
    sid: sid.slice(),
    prekey: prekey.slice(),
    kem: kem.slice(),
    issued,
  } as const;
  return { ...unsigned, sig: sign(device.secretKey, signingBytes(unsigned)) };
}

export function encodeDeviceInboxCard(c: DeviceInboxCard): Uint8Array {
  return encodeCbor({ ...unsignedMap(c), sig: c.sig });
}

/**
 * Strict decoding (DecodeError: sizes, unknown fields, a relay address not in canonical form),
 * version 1 only (ProtocolError), then the device's signature (VerificationError). The caller
 * checks that `device` is a current device of its account's log.
 */
export function decodeDeviceInboxCard(bytes: Uint8Array): DeviceInboxCard {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('inbox card must be bytes');
  if (bytes.length > MAX_DEVICE_INBOX_CARD_BYTES)
    throw new DecodeError(`inbox card larger than ${MAX_DEVICE_INBOX_CARD_BYTES} bytes`);
  const limits = { maxBytes: MAX_DEVICE_INBOX_CARD_BYTES, maxDepth: 1, maxItems: 8, maxTotalItems: 16 };
  const m = asMap(decodeCbor(bytes, limits), 'inbox card');
  const v = asUint(m.v, 'inbox card version');
  if (v !== DEVICE_INBOX_CARD_VERSION) throw new ProtocolError(`unknown inbox card version ${v}`);
  const card: DeviceInboxCard = {
    v: DEVICE_INBOX_CARD_VERSION,
    device: asBytes(m.device, 'inbox card device', { len: SIGN_PUBLIC_BYTES }),
    relay: canonicalRelay(
      asText(m.relay, 'inbox card relay', MAX_RELAY_ADDRESS_CHARS),
      (msg, cause) => new DecodeError(msg, { cause }),
    ),
    sid: asBytes(m.sid, 'inbox card sid', { len: QUEUE_ID_BYTES }),
    prekey: asBytes(m.prekey, 'inbox card prekey', { len: DH_BYTES }),
    kem: asBytes(m.kem, 'inbox card KEM key', { len: XWING_PUBLIC_BYTES }),
    issued: asUint(m.issued, 'inbox card issue time'),
    sig: asBytes(m.sig, 'inbox card signature', { len: SIGNATURE_BYTES }),
  };
  if (Object.keys(m).length !== 8) throw new DecodeError('inbox card has unknown fields');
  assertSignature(card.device, signingBytes(card), card.sig, 'inbox card');
  return card;
}
