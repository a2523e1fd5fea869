/**
 * A device set: toward one contact, my contact identity (Ckp) lists my current devices
 * (docs/decisions/0030 "Contacts see one person", 0038). Contacts never see the account's
 * device log; they see this, signed by the key they already know, so the safety number (from
 * Ckp alone) does not change when a device is added.
 *
 *   CBOR map {
 *     v: 1,
 *     identityKey: bytes 32      the Ckp (Ed25519) that signs
 *     seq: uint ≥ 1              higher than any set signed before toward this contact
 *     devices: [ 1..16 entries {
 *       cert: bytes              device certificate (device-certificate.ts) by identityKey
 *       prekey: bytes 32         the device's medium-term signed prekey (X25519)
 *       kem: bytes 1216          its X-Wing prekey (decision 0003)
 *       psig: bytes 64           Ed25519 by the device key over "parus-device-prekey-v1" ‖ prekey ‖ kem
 *                                (not over the identity: after a rotation the new identity
 *                                certifies the same prekeys again without the device)
 *       queue: { relay, sid }    where that device receives from this contact
 *       queue2?: { relay, sid }  its second queue, on another relay (decision 0037)
 *     } ]
 *     next?: bytes 32            pre-rotation: BLAKE2b-256("parus-ckp-next-v1" ‖ next Ckp public)
 *     sig: bytes 64              Ed25519 by identityKey over "parus-device-set-v1" ‖ CBOR(map without sig)
 *   }
 *
 * Pre-rotation is KERI's (draft-ssmith-keri §2.3.1): a set signed by a new key is accepted only
 * if the hash of that key was committed to by the set before it, so a thief who copied the
 * current Ckp cannot rotate it. The next key's seed is kept sealed (libsodium sealed box) to
 * the X25519 half of the account key, which only the passphrase opens.
 *
 * A device introduction (a new device's first message into one contact device's queue) is a
 * contact request (contact-request.ts: PQXDH's initial message, no one-time prekey, X3DH §3.3)
 * whose `card` names the prefix it used (BLAKE2b-256 of that device's prekey), behind the tag
 * byte DEVICE_INTRO_TAG, which neither a ratchet message (0x01) nor a group fan-out frame
 * (0x80) starts with.
 */
import { concatBytes, utf8 } from './bytes.ts';
import { asArray, asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import { decodeContactRequest, encodeContactRequest, type ContactRequest } from './contact-request.ts';
import {
  DH_BYTES,
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  XWING_PUBLIC_BYTES,
  assertSignature,
  equalSecret,
  hash,
  openSealedBox,
  sealToPublicKey,
  sign,
  signKeyPairFromSeed,
  signPublicToDh,
  signSecretToDh,
  type Random,
  type SignKeyPair,
} from './crypto.ts';
import {
  createDeviceCertificate,
  decodeDeviceCertificate,
  encodeDeviceCertificate,
  type DeviceCertificate,
} from './device-certificate.ts';
import { DecodeError, ProtocolError, ReplayError, UsageError, VerificationError } from './errors.ts';
import { parseRelayAddress } from './relay-address.ts';

export const DEVICE_SET_VERSION = 1;
/** At most this many devices toward one contact. */
export const MAX_SET_DEVICES = 16;
/** An entry is ~1.6 KiB (the X-Wing key is 1216 bytes); 16 of them fit well. */
export const MAX_DEVICE_SET_BYTES = 32 * 1024;
/** A relay queue's sender id. */
const SID_BYTES = 24;
export const DEVICE_INTRO_TAG = 0x82;

const SET_CONTEXT = utf8('parus-device-set-v1');
const PREKEY_CONTEXT = utf8('parus-device-prekey-v1');
const NEXT_CONTEXT = utf8('parus-ckp-next-v1');

export interface SetQueue {
  relay: string;
  sid: Uint8Array;
}

export interface DeviceSetEntry {
  cert: DeviceCertificate;
  prekey: Uint8Array;
  kem: Uint8Array;
  psig: Uint8Array;
  queue: SetQueue;
  queue2?: SetQueue;
}

export interface DeviceSet {
  v: 1;
  identityKey: Uint8Array;
  seq: number;
  devices: DeviceSetEntry[];
  next?: Uint8Array;
  sig: Uint8Array;
}

/** What a contact keeps of the last set it accepted. */
export interface HeldDeviceSet {
  identityKey: Uint8Array;
  seq: number;
  next?: Uint8Array;
}

function isKeyPair(k: SignKeyPair | undefined): boolean {
  return k?.publicKey?.length === SIGN_PUBLIC_BYTES && k.secretKey?.length === SIGN_SECRET_BYTES;
}

function checkQueue(q: SetQueue, what: string): void {
  if (typeof q?.relay !== 'string' || !(q.sid instanceof Uint8Array) || q.sid.length !== SID_BYTES)
    throw new UsageError(`${what} must be a relay address and a ${SID_BYTES}-byte sid`);
  parseRelayAddress(q.relay);
}

function prekeyBytes(prekey: Uint8Array, kem: Uint8Array): Uint8Array {
  return concatBytes(PREKEY_CONTEXT, prekey, kem);
}

/** One device's entry: its certificate by `identity` and its prekeys signed by the device. */
export function createDeviceSetEntry(opts: {
  identity: SignKeyPair;
  device: SignKeyPair;
  prekey: Uint8Array;
  kem: Uint8Array;
  queue: SetQueue;
  queue2?: SetQueue;
  issued: number;
}): DeviceSetEntry {
  const { identity, device, prekey, kem, queue, queue2, issued } = opts;
  if (!isKeyPair(identity) || !isKeyPair(device))
    throw new UsageError('identity and device must be Ed25519 key pairs');
  if (!(prekey instanceof Uint8Array) || prekey.length !== DH_BYTES)
    throw new UsageError('prekey must be X25519');
  if (!(kem instanceof Uint8Array) || kem.length !== XWING_PUBLIC_BYTES)
    throw new UsageError('kem must be X-Wing');
  checkQueue(queue, 'queue');
  if (queue2) checkQueue(queue2, 'queue2');
  const entry: DeviceSetEntry = {
    cert: createDeviceCertificate({ identity, deviceKey: device.publicKey, issued }),
    prekey: prekey.slice(),
    kem: kem.slice(),
    psig: sign(device.secretKey, prekeyBytes(prekey, kem)),
    queue: { relay: queue.relay, sid: queue.sid.slice() },
  };
  if (queue2) entry.queue2 = { relay: queue2.relay, sid: queue2.sid.slice() };
  return entry;
}

function entryMap(e: DeviceSetEntry): CborMap {
  const m: CborMap = {
    cert: encodeDeviceCertificate(e.cert),
    prekey: e.prekey,
    kem: e.kem,
    psig: e.psig,
    queue: { relay: e.queue.relay, sid: e.queue.sid },
  };
  if (e.queue2) m.queue2 = { relay: e.queue2.relay, sid: e.queue2.sid };
  return m;
}

function unsignedMap(s: Omit<DeviceSet, 'sig'>): CborMap {
  const m: CborMap = {
    v: s.v,
    identityKey: s.identityKey,
    seq: s.seq,
    devices: s.devices.map(entryMap),
  };
  if (s.next) m.next = s.next;
  return m;
}

/**
 * Signs a set of `devices` (entries certified by `identity`) with sequence number `seq` and,
 * when given, the commitment `next` to the key that may succeed `identity`.
 */
export function createDeviceSet(opts: {
  identity: SignKeyPair;
  seq: number;
  devices: readonly DeviceSetEntry[];
  next?: Uint8Array;
}): DeviceSet {
  const { identity, seq, devices, next } = opts;
  if (!isKeyPair(identity)) throw new UsageError('identity must be an Ed25519 key pair');
  if (!Number.isSafeInteger(seq) || seq < 1) throw new UsageError('seq must be a whole number ≥ 1');
  if (devices.length < 1 || devices.length > MAX_SET_DEVICES)
    throw new UsageError(`a device set has 1..${MAX_SET_DEVICES} devices`);
  if (next !== undefined && (!(next instanceof Uint8Array) || next.length !== 32))
    throw new UsageError('next must be a 32-byte commitment');
  const unsigned: Omit<DeviceSet, 'sig'> = {
    v: DEVICE_SET_VERSION,
    identityKey: identity.publicKey.slice(),
    seq,
    devices: devices.map((d) => ({ ...d })),
    ...(next ? { next: next.slice() } : {}),
  };
  checkEntries(unsigned);
  const set: DeviceSet = {
    ...unsigned,
    sig: sign(identity.secretKey, concatBytes(SET_CONTEXT, encodeCbor(unsignedMap(unsigned)))),
  };
  const bytes = encodeDeviceSet(set);
  if (bytes.length > MAX_DEVICE_SET_BYTES) throw new UsageError('device set too large');
  return set;
}

export function encodeDeviceSet(set: DeviceSet): Uint8Array {
  return encodeCbor({ ...unsignedMap(set), sig: set.sig });
}

/** Every certificate by the set's key, distinct devices, every prekey signed by its device. */
function checkEntries(set: Omit<DeviceSet, 'sig'>): void {
  const seen = new Set<string>();
  for (const e of set.devices) {
    if (!equalSecret(e.cert.identityKey, set.identityKey))
      throw new VerificationError('device certificate by another identity than the set');
    const k = Array.from(e.cert.deviceKey).join(',');
    if (seen.has(k)) throw new DecodeError('device set names a device twice');
    seen.add(k);
    assertSignature(e.cert.deviceKey, prekeyBytes(e.prekey, e.kem), e.psig, 'device prekey');
  }
}

function fields(m: CborMap, allowed: readonly string[], what: string): void {
  for (const k of Object.keys(m))
    if (!allowed.includes(k)) throw new DecodeError(`${what} has unknown fields`);
}

function decodeQueue(v: CborMap[string], what: string): SetQueue {
  const q = asMap(v, what);
  fields(q, ['relay', 'sid'], what);
  const relay = asText(q.relay, `${what} relay`, 512);
  try {
    parseRelayAddress(relay);
  } catch (cause) {
    throw new DecodeError(`${what} relay is not a relay address`, { cause });
  }
  return { relay, sid: asBytes(q.sid, `${what} sid`, { len: SID_BYTES }) };
}

/**
 * Strict decoding and bounds (DecodeError), version 1 only (ProtocolError), then every
 * signature: the set's, each certificate (by the set's key: a forged or foreign one is a
 * VerificationError) and each prekey's (by its device). Whether the key is the contact's is
 * the caller's check (checkDeviceSetUpdate).
 */
export function decodeDeviceSet(bytes: Uint8Array): DeviceSet {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('device set must be bytes');
  if (bytes.length > MAX_DEVICE_SET_BYTES)
    throw new DecodeError(`device set larger than ${MAX_DEVICE_SET_BYTES} bytes`);
  const limits = {
    maxBytes: MAX_DEVICE_SET_BYTES,
    maxDepth: 4,
    maxItems: MAX_SET_DEVICES,
    maxTotalItems: 16 + MAX_SET_DEVICES * 16,
  };
  const m = asMap(decodeCbor(bytes, limits), 'device set');
  fields(m, ['v', 'identityKey', 'seq', 'devices', 'next', 'sig'], 'device set');
  const v = asUint(m.v, 'device set version');
  if (v !== DEVICE_SET_VERSION) throw new ProtocolError(`unknown device set version ${v}`);
  const seq = asUint(m.seq, 'device set seq');
  if (seq < 1) throw new DecodeError('device set seq must be ≥ 1');
  const list = asArray(m.devices, 'device set devices', MAX_SET_DEVICES);
  if (list.length < 1) throw new DecodeError('device set without devices');
  const devices = list.map((value) => {
    const e = asMap(value, 'device set entry');
    fields(e, ['cert', 'prekey', 'kem', 'psig', 'queue', 'queue2'], 'device set entry');
    const entry: DeviceSetEntry = {
      cert: decodeDeviceCertificate(asBytes(e.cert, 'device certificate', { max: 512 })),
      prekey: asBytes(e.prekey, 'device prekey', { len: DH_BYTES }),
      kem: asBytes(e.kem, 'device KEM key', { len: XWING_PUBLIC_BYTES }),
      psig: asBytes(e.psig, 'device prekey signature', { len: SIGNATURE_BYTES }),
      queue: decodeQueue(e.queue, 'device queue'),
    };
    if (e.queue2 !== undefined) entry.queue2 = decodeQueue(e.queue2, 'device second queue');
    return entry;
  });
  const set: DeviceSet = {
    v: DEVICE_SET_VERSION,
    identityKey: asBytes(m.identityKey, 'device set identity key', { len: SIGN_PUBLIC_BYTES }),
    seq,
    devices,
    ...(m.next !== undefined ? { next: asBytes(m.next, 'device set next', { len: 32 }) } : {}),
    sig: asBytes(m.sig, 'device set signature', { len: SIGNATURE_BYTES }),
  };
  assertSignature(
    set.identityKey,
    concatBytes(SET_CONTEXT, encodeCbor(unsignedMap(set))),
    set.sig,
    'device set',
  );
  checkEntries(set);
  return set;
}

/** `entry` certified by another identity (a rotation): the device's prekeys and queues as they were. */
export function recertifyDeviceSetEntry(
  entry: DeviceSetEntry,
  identity: SignKeyPair,
  issued: number,
): DeviceSetEntry {
  return { ...entry, cert: createDeviceCertificate({ identity, deviceKey: entry.cert.deviceKey, issued }) };
}

/** The pre-rotation commitment to a Ckp public key. */
export function nextIdentityCommitment(publicKey: Uint8Array): Uint8Array {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== SIGN_PUBLIC_BYTES)
    throw new UsageError('identity key must be 32 bytes');
  return hash(concatBytes(NEXT_CONTEXT, publicKey), 32);
}

/**
 * Whether a contact holding `held` (nothing yet: the first set, which must be by `current`,
 * the Ckp it knows) may take `incoming`. Pure; throws and changes nothing when not:
 * - by the held key: a seq not above the held one is a ReplayError; a commitment dropped or
 *   changed without rotating is a ProtocolError;
 * - by another key: only the key committed to (a rotation, which must commit to its own
 *   successor: ProtocolError otherwise); anything else, including the old key after a
 *   rotation, is a VerificationError.
 */
export function checkDeviceSetUpdate(
  held: HeldDeviceSet | undefined,
  incoming: DeviceSet,
  current: Uint8Array,
): { rotated: boolean } {
  const heldKey = held?.identityKey ?? current;
  if (equalSecret(incoming.identityKey, heldKey)) {
    if (held && incoming.seq <= held.seq) throw new ReplayError('device set not newer than the one held');
    if (held?.next && !(incoming.next && equalSecret(incoming.next, held.next)))
      throw new ProtocolError('device set changes its pre-rotation commitment without rotating');
    return { rotated: false };
  }
  if (held?.next && equalSecret(nextIdentityCommitment(incoming.identityKey), held.next)) {
    if (incoming.seq <= held.seq) throw new ReplayError('device set not newer than the one held');
    if (!incoming.next) throw new ProtocolError('a rotated identity must commit to its successor');
    return { rotated: true };
  }
  throw new VerificationError('device set signed by a key that is not the contact identity');
}

/**
 * A set by the held identity whose seq is not above the held one can still be news about its
 * sender (decision 0062). A contact's devices sign sets without a coordinator: a device restored
 * from an older backup extends the set it knows and reuses a seq another device already used,
 * and each device's weekly prekey rotation is its own. So a contact takes from such a set the
 * entry of the device that sent it, when that entry is newer (certificate `issued`) than the
 * newest it holds for that device (`senderAt`; undefined for a device it does not know yet,
 * whose introduction this is). Returns that entry; the rest of the set is not taken. Pure; throws
 * and changes nothing when not:
 * - a set by another key than the held one: VerificationError (a rotation must advance the seq);
 * - a changed or dropped commitment: ProtocolError;
 * - a sender the set does not list: VerificationError;
 * - an entry not newer than the held one (an old or replayed set, a backdated rotation): ReplayError.
 */
export function checkDeviceNews(
  held: HeldDeviceSet,
  incoming: DeviceSet,
  sender: Uint8Array,
  senderAt: number | undefined,
): DeviceSetEntry {
  if (!equalSecret(incoming.identityKey, held.identityKey))
    throw new VerificationError('device set signed by a key that is not the contact identity');
  if (held.next && !(incoming.next && equalSecret(incoming.next, held.next)))
    throw new ProtocolError('device set changes its pre-rotation commitment without rotating');
  const entry = incoming.devices.find((e) => equalSecret(e.cert.deviceKey, sender));
  if (!entry) throw new VerificationError('device set sent by a device it does not list');
  if (senderAt !== undefined && entry.cert.issued <= senderAt)
    throw new ReplayError('device set entry not newer than the one held');
  return entry;
}

/** The held part of a set. */
export function heldDeviceSet(set: DeviceSet): HeldDeviceSet {
  return { identityKey: set.identityKey, seq: set.seq, ...(set.next ? { next: set.next } : {}) };
}

/** The next Ckp's seed sealed to the X25519 half of the account key (Ed25519 public). */
export function sealNextIdentity(rng: Random, accountKey: Uint8Array, seed: Uint8Array): Uint8Array {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new UsageError('seed must be 32 bytes');
  return sealToPublicKey(rng, signPublicToDh(accountKey), seed);
}

/** Opens a sealed next Ckp with the account key pair (from the passphrase): VerificationError if not. */
export function openNextIdentity(accountKey: SignKeyPair, sealed: Uint8Array): SignKeyPair {
  if (!isKeyPair(accountKey)) throw new UsageError('account key must be an Ed25519 key pair');
  const secret = signSecretToDh(accountKey.secretKey);
  try {
    const seed = openSealedBox(
      { publicKey: signPublicToDh(accountKey.publicKey), secretKey: secret },
      sealed,
    );
    if (seed.length !== 32) throw new VerificationError('sealed next identity has the wrong size');
    return signKeyPairFromSeed(seed);
  } finally {
    secret.fill(0);
  }
}

/** The id a device introduction gives the prekey it used. */
export function prekeyId(prekey: Uint8Array): Uint8Array {
  return hash(concatBytes(PREKEY_CONTEXT, prekey), 32);
}

export function isDeviceIntro(body: Uint8Array): boolean {
  return body.length > 0 && body[0] === DEVICE_INTRO_TAG;
}

/** A device introduction: `card` is prekeyId(the contact device's prekey). */
export function encodeDeviceIntro(intro: ContactRequest): Uint8Array {
  return concatBytes(Uint8Array.of(DEVICE_INTRO_TAG), encodeContactRequest(intro));
}

/** DecodeError unless `bytes` is the tag and a strict contact request. */
export function decodeDeviceIntro(bytes: Uint8Array): ContactRequest {
  if (!(bytes instanceof Uint8Array) || !isDeviceIntro(bytes))
    throw new DecodeError('not a device introduction');
  return decodeContactRequest(bytes.subarray(1));
}
