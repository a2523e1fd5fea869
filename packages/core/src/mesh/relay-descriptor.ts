/**
 * A relay's signed descriptor: what the cloud's catalog says about one relay (seed 000: "each
 * server will remember available server list"). It travels inside the relay's link-state
 * adverts (link-state-advert.ts), so it is flooded, aged and replaced with them
 * (docs/decisions/0032).
 *
 *   CBOR map {
 *     v: 1,
 *     key: bytes 32          the relay's Ed25519 key (Skp); its fingerprint is the relay's id
 *     addresses: [text]      1..4 `parus://<fingerprint>@host:port` addresses, each of this key
 *     version: text          the software version, 1..32 characters
 *     capacity: uint         how many client connections the relay accepts
 *     note: text             the operator's note, 0..280 characters, no control characters
 *     issued: uint           ms since the epoch
 *     sig: bytes 64          Ed25519 by key over "parus-relay-descriptor-v1" || CBOR(map without sig)
 *   }
 */
import { concatBytes, toBase64Url, utf8 } from '../bytes.ts';
import { asArray, asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborMap } from '../cbor.ts';
import {
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  assertSignature,
  sign,
  type SignKeyPair,
} from '../crypto.ts';
import { nameFault } from '../display-text.ts';
import { DecodeError, ProtocolError, UsageError } from '../errors.ts';
import { fingerprintMatches, parseRelayAddress, relayFingerprint } from '../relay-address.ts';

export const RELAY_DESCRIPTOR_VERSION = 1;
export const MAX_DESCRIPTOR_ADDRESSES = 4;
export const MAX_DESCRIPTOR_ADDRESS_CHARS = 300;
export const MAX_DESCRIPTOR_SOFTWARE_CHARS = 32;
export const MAX_DESCRIPTOR_NOTE_CHARS = 280;
export const MAX_DESCRIPTOR_CAPACITY = 1_000_000_000;
/** Four longest addresses, a full note in 4-byte characters, key, signature and field names. */
export const MAX_RELAY_DESCRIPTOR_BYTES = 2_800;

const DESCRIPTOR_CONTEXT = utf8('parus-relay-descriptor-v1');

/** A relay's id in the mesh: the base64url fingerprint of its key (as in its addresses). */
export type RelayId = string;

export interface RelayDescriptor {
  v: 1;
  key: Uint8Array;
  addresses: string[];
  version: string;
  capacity: number;
  note: string;
  issued: number;
  sig: Uint8Array;
}

export interface CreateRelayDescriptorOptions {
  relay: SignKeyPair;
  addresses: readonly string[];
  version: string;
  capacity: number;
  note?: string;
  issued: number;
}

/** The id of the relay with Ed25519 key `key`: its fingerprint, base64url (43 characters). */
export function relayIdOf(key: Uint8Array): RelayId {
  return toBase64Url(relayFingerprint(key));
}

function unsignedMap(d: Omit<RelayDescriptor, 'sig'>): CborMap {
  return {
    v: d.v,
    key: d.key,
    addresses: [...d.addresses],
    version: d.version,
    capacity: d.capacity,
    note: d.note,
    issued: d.issued,
  };
}

function signingBytes(d: Omit<RelayDescriptor, 'sig'>): Uint8Array {
  return concatBytes(DESCRIPTOR_CONTEXT, encodeCbor(unsignedMap(d)));
}

/** What is wrong with the fields (other than the signature), or undefined. */
function descriptorFault(d: Omit<RelayDescriptor, 'sig' | 'v'>): string | undefined {
  if (d.addresses.length < 1 || d.addresses.length > MAX_DESCRIPTOR_ADDRESSES) {
    return `must have 1..${MAX_DESCRIPTOR_ADDRESSES} addresses`;
  }
  for (const [i, text] of d.addresses.entries()) {
    if (typeof text !== 'string' || text.length > MAX_DESCRIPTOR_ADDRESS_CHARS) {
      return `address ${i} must be text of at most ${MAX_DESCRIPTOR_ADDRESS_CHARS} characters`;
    }
    let address;
    try {
      address = parseRelayAddress(text);
    } catch {
      return `address ${i} is not a relay address`;
    }
    if (text !== text.trim()) return `address ${i} has surrounding spaces`;
    if (!fingerprintMatches(address, d.key)) return `address ${i} is not this relay's key`;
  }
  if (new Set(d.addresses).size !== d.addresses.length) return 'has an address twice';
  const versionFault = nameFault(d.version, MAX_DESCRIPTOR_SOFTWARE_CHARS);
  if (versionFault) return `software version ${versionFault}`;
  if (d.note !== '') {
    const noteFault = nameFault(d.note, MAX_DESCRIPTOR_NOTE_CHARS);
    if (noteFault) return `note ${noteFault}`;
  }
  if (!Number.isSafeInteger(d.capacity) || d.capacity < 0 || d.capacity > MAX_DESCRIPTOR_CAPACITY) {
    return `capacity must be 0..${MAX_DESCRIPTOR_CAPACITY}`;
  }
  if (!Number.isSafeInteger(d.issued) || d.issued < 0) return 'issued must be ms since the epoch';
  return undefined;
}

export function createRelayDescriptor(opts: CreateRelayDescriptorOptions): RelayDescriptor {
  const { relay } = opts;
  if (relay?.publicKey?.length !== SIGN_PUBLIC_BYTES || relay.secretKey?.length !== SIGN_SECRET_BYTES) {
    throw new UsageError('relay must be an Ed25519 key pair');
  }
  if (!Array.isArray(opts.addresses)) throw new UsageError('addresses must be an array');
  const unsigned = {
    v: RELAY_DESCRIPTOR_VERSION as 1,
    key: relay.publicKey.slice(),
    addresses: [...opts.addresses] as string[],
    version: opts.version,
    capacity: opts.capacity,
    note: opts.note ?? '',
    issued: opts.issued,
  } satisfies Omit<RelayDescriptor, 'sig'>;
  const fault = descriptorFault(unsigned);
  if (fault) throw new UsageError(`relay descriptor ${fault}`);
  return { ...unsigned, sig: sign(relay.secretKey, signingBytes(unsigned)) };
}

export function encodeRelayDescriptor(d: RelayDescriptor): Uint8Array {
  return encodeCbor({ ...unsignedMap(d), sig: d.sig });
}

/**
 * Strict decoding (DecodeError: shape, sizes, addresses that are not this key's), version 1
 * only (ProtocolError), then the signature (VerificationError).
 */
export function decodeRelayDescriptor(bytes: Uint8Array): RelayDescriptor {
  const d = readRelayDescriptor(bytes);
  checkRelayDescriptorSignature(d);
  return d;
}

/** Throws VerificationError unless the descriptor's signature is its key's. */
export function checkRelayDescriptorSignature(d: RelayDescriptor): void {
  assertSignature(d.key, signingBytes(d), d.sig, 'relay descriptor');
}

/**
 * `decodeRelayDescriptor` without the signature check, for the link-state database, which
 * checks it once per descriptor it has not seen (module-internal: not exported by core).
 */
export function readRelayDescriptor(bytes: Uint8Array): RelayDescriptor {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('relay descriptor must be bytes');
  if (bytes.length > MAX_RELAY_DESCRIPTOR_BYTES) {
    throw new DecodeError(`relay descriptor larger than ${MAX_RELAY_DESCRIPTOR_BYTES} bytes`);
  }
  const limits = { maxBytes: MAX_RELAY_DESCRIPTOR_BYTES, maxDepth: 2, maxItems: 8, maxTotalItems: 16 };
  const m = asMap(decodeCbor(bytes, limits), 'relay descriptor');
  const v = asUint(m.v, 'relay descriptor version');
  if (v !== RELAY_DESCRIPTOR_VERSION) throw new ProtocolError(`unknown relay descriptor version ${v}`);
  const d: RelayDescriptor = {
    v: RELAY_DESCRIPTOR_VERSION,
    key: asBytes(m.key, 'relay descriptor key', { len: SIGN_PUBLIC_BYTES }),
    addresses: asArray(m.addresses, 'relay descriptor addresses', MAX_DESCRIPTOR_ADDRESSES).map((a, i) =>
      asText(a, `relay descriptor address ${i}`, MAX_DESCRIPTOR_ADDRESS_CHARS),
    ),
    version: asText(m.version, 'relay descriptor software version', MAX_DESCRIPTOR_SOFTWARE_CHARS * 2),
    capacity: asUint(m.capacity, 'relay descriptor capacity', MAX_DESCRIPTOR_CAPACITY),
    note: asText(m.note, 'relay descriptor note', MAX_DESCRIPTOR_NOTE_CHARS * 2),
    issued: asUint(m.issued, 'relay descriptor issue time'),
    sig: asBytes(m.sig, 'relay descriptor signature', { len: SIGNATURE_BYTES }),
  };
  if (Object.keys(m).length !== 8) throw new DecodeError('relay descriptor has unknown fields');
  const fault = descriptorFault(d);
  if (fault) throw new DecodeError(`relay descriptor ${fault}`);
  return d;
}
