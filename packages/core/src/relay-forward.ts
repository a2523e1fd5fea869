/**
 * Forwarded sends (docs/decisions/0033): a client that keeps one connection, to its own
 * relay, sends to a queue on another relay of the same cloud. Two client frames extend the
 * relay protocol:
 *
 * - `rkey {to}` asks the client's relay for the signed key record of relay `to` (its
 *   Ed25519 key, whose BLAKE2b-256 is `to`, and its long-term X25519 key); the answer is
 *   `rkey {key, dh, sig}`, which the client checks itself, so its relay cannot substitute one.
 * - `fwd {to, sid, body, auth?}` is a `send` for queue `sid` on relay `to`. Its `auth` is
 *   not bound to a connection (it travels over several): it is an HMAC under
 *
 *       K = HKDF(ikm = X25519(sender key, relay dh), salt = to,
 *                info = "parus-relay-forward-auth-v1" || sender public key, 32 bytes)
 *
 *   over the destination, the queue and the body, which only the holder of the queue's
 *   sender key and the destination relay can compute. The destination keeps each forward's
 *   id (a hash of the same three) until the message would have expired: a forward that comes
 *   again (a retry after a lost answer, or a replay) stores nothing a second time.
 */
import { assertLength, concatBytes, utf8 } from './bytes.ts';
import { asBytes, optional, type CborMap } from './cbor.ts';
import { DH_BYTES, dh, equalSecret, hash, hkdf, hmacSha256, sign, verify, wipe } from './crypto.ts';
import { VerificationError } from './errors.ts';
import { FINGERPRINT_BYTES, relayFingerprint } from './relay-address.ts';

export const FORWARD_ID_BYTES = 16;

const KEY_RECORD_CONTEXT = utf8('parus-relay-key-record-v1');
const FORWARD_AUTH_INFO = utf8('parus-relay-forward-auth-v1');
const FORWARD_AUTH_CONTEXT = utf8('parus-relay-forward-v1');
const FORWARD_ID_CONTEXT = utf8('parus-relay-forward-id-v1');

/** A send for a queue on another relay of the cloud, through the client's own relay. */
export interface ForwardFrame {
  t: 'fwd';
  id: number;
  /** The destination relay's fingerprint. */
  to: Uint8Array;
  sid: Uint8Array;
  body: Uint8Array;
  auth?: Uint8Array;
}

/** Asks for the key record of relay `to`. */
export interface KeyRecordRequest {
  t: 'rkey';
  id: number;
  to: Uint8Array;
}

/** A relay's signed key record: its Ed25519 key and its long-term X25519 key. */
export interface RelayKeyRecord {
  key: Uint8Array;
  dh: Uint8Array;
  sig: Uint8Array;
}

export interface KeyRecordReply extends RelayKeyRecord {
  t: 'rkey';
  id: number;
}

const fp32 = { len: FINGERPRINT_BYTES };
const key32 = { len: 32 };

export function decodeForwardFrame(
  m: CborMap,
  id: number,
  limits: { queueIdBytes: number; maxBody: number; authBytes: number },
): ForwardFrame {
  const f: ForwardFrame = {
    t: 'fwd',
    id,
    to: asBytes(m.to, 'to', fp32),
    sid: asBytes(m.sid, 'sid', { len: limits.queueIdBytes }),
    body: asBytes(m.body, 'body', { max: limits.maxBody }),
  };
  const auth = optional(m.auth, (v) => asBytes(v, 'auth', { len: limits.authBytes }));
  if (auth) f.auth = auth;
  return f;
}

export function decodeKeyRecordRequest(m: CborMap, id: number): KeyRecordRequest {
  return { t: 'rkey', id, to: asBytes(m.to, 'to', fp32) };
}

export function decodeKeyRecord(m: CborMap): RelayKeyRecord {
  return {
    key: asBytes(m.key, 'key', key32),
    dh: asBytes(m.dh, 'dh', key32),
    sig: asBytes(m.sig, 'sig', { len: 64 }),
  };
}

function keyRecordBytes(key: Uint8Array, dhPublic: Uint8Array): Uint8Array {
  return concatBytes(KEY_RECORD_CONTEXT, key, dhPublic);
}

/** The relay's own key record, signed with its Ed25519 key. */
export function makeKeyRecord(signSecret: Uint8Array, key: Uint8Array, dhPublic: Uint8Array): RelayKeyRecord {
  assertLength(key, 32, 'relay key');
  assertLength(dhPublic, DH_BYTES, 'relay X25519 key');
  return { key, dh: dhPublic, sig: sign(signSecret, keyRecordBytes(key, dhPublic)) };
}

/**
 * Checks a key record: its signature, and, when `fingerprint` is given, that its key is the
 * one the fingerprint names. Throws VerificationError.
 */
export function checkKeyRecord(record: RelayKeyRecord, fingerprint?: Uint8Array): void {
  if (record.key.length !== 32 || record.dh.length !== DH_BYTES)
    throw new VerificationError('key record with keys of the wrong size');
  if (fingerprint && !equalSecret(relayFingerprint(record.key), fingerprint))
    throw new VerificationError('key record of another relay');
  if (!verify(record.key, keyRecordBytes(record.key, record.dh), record.sig))
    throw new VerificationError('key record signature does not verify');
}

/** The id of a forward: the same for every retry of one send, different for any other. */
export function forwardId(to: Uint8Array, sid: Uint8Array, body: Uint8Array): Uint8Array {
  return hash(concatBytes(FORWARD_ID_CONTEXT, to, sid, body), FORWARD_ID_BYTES);
}

/**
 * K of a forward's authenticator. The sender passes its sender key's secret and the
 * destination's X25519 key; the destination passes its X25519 secret and the sender key.
 */
export function deriveForwardAuthKey(
  ourDhSecret: Uint8Array,
  theirDhPublic: Uint8Array,
  to: Uint8Array,
  senderPublicKey: Uint8Array,
): Uint8Array {
  assertLength(to, FINGERPRINT_BYTES, 'destination fingerprint');
  if (senderPublicKey.length !== DH_BYTES) throw new VerificationError('sender key must be 32 bytes');
  const shared = dh(ourDhSecret, theirDhPublic);
  try {
    return hkdf(shared, to, concatBytes(FORWARD_AUTH_INFO, senderPublicKey), 32);
  } finally {
    wipe(shared);
  }
}

function forwardAuthBytes(to: Uint8Array, sid: Uint8Array, body: Uint8Array): Uint8Array {
  return concatBytes(FORWARD_AUTH_CONTEXT, to, sid, body);
}

export function authenticateForward(
  key: Uint8Array,
  to: Uint8Array,
  sid: Uint8Array,
  body: Uint8Array,
): Uint8Array {
  assertLength(key, 32, 'forward authentication key');
  return hmacSha256(key, forwardAuthBytes(to, sid, body));
}

/** Whether `auth` is the forward's authenticator under K; compared in constant time. */
export function checkForwardAuth(
  key: Uint8Array,
  to: Uint8Array,
  sid: Uint8Array,
  body: Uint8Array,
  auth: Uint8Array,
): boolean {
  if (auth.length !== 32) return false;
  const expected = authenticateForward(key, to, sid, body);
  try {
    return equalSecret(expected, auth);
  } finally {
    wipe(expected);
  }
}
