/**
 * Relay ↔ relay links (docs/decisions/0033): binary WebSocket messages on `/mesh`, each one
 * canonical CBOR map with a type `t`, as the client protocol's frames are.
 *
 * Handshake, authenticated both ways (seed 000's login challenge, between servers):
 *
 *     dialer   → `lhello {v, key, challenge}`
 *     listener → `lwelcome {v, key, challenge, sig}`   sig over L || challenge_d || challenge_l || key_d
 *     dialer   → `lauth {sig}`                          sig over D || challenge_l || challenge_d || key_l
 *
 * The dialer checks the listener's key against the fingerprint in the address it dialled;
 * the listener learns the dialer's key and checks it signed the listener's fresh challenge.
 * Each signature names the other side's key and both challenges, so neither can be replayed
 * on another link nor reflected. After it, the link carries, both ways:
 *
 * - `lsa {data}`: a flooded descriptor or link-state advert (core's mesh codecs; opaque here),
 * - `lkey {key, dh, sig}`: a relay's key record, flooded (relay-forward.ts),
 * - `lfwd {to, sid, body, auth?, hops}`: a forwarded send on its way to relay `to`,
 * - `ldone {fid, code?}`: the destination's answer to the forward `fid`, on its way back
 *   (no code: stored; a code: refused for good, as an `err` frame's),
 * - `lerr {code, msg}`: a frame this side refused.
 */
import { assertLength, concatBytes, utf8 } from './bytes.ts';
import { asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, optional, type CborMap } from './cbor.ts';
import { sign, verify } from './crypto.ts';
import { DecodeError, isErrorCode, type ErrorCode } from './errors.ts';
import { FINGERPRINT_BYTES } from './relay-address.ts';
import { FORWARD_ID_BYTES, decodeKeyRecord, type RelayKeyRecord } from './relay-forward.ts';
import { CHALLENGE_BYTES, COMMAND_AUTH_BYTES, MAX_BODY_BYTES, QUEUE_ID_BYTES } from './relay-protocol.ts';

export const RELAY_LINK_VERSION = 1;
/** Largest link frame: a forwarded body of the largest size and its header. */
export const MAX_LINK_FRAME_BYTES = MAX_BODY_BYTES + 1024;
/** Largest advert or descriptor a link carries. */
export const MAX_LINK_ADVERT_BYTES = 16 * 1024;
/** Hops a forward may take before it is dropped as looping. */
export const MAX_FORWARD_HOPS = 32;

const LISTENER_CONTEXT = utf8('parus-relay-link-listener-v1');
const DIALER_CONTEXT = utf8('parus-relay-link-dialer-v1');

export interface LinkHello {
  t: 'lhello';
  v: number;
  key: Uint8Array;
  challenge: Uint8Array;
}
export interface LinkWelcome {
  t: 'lwelcome';
  v: number;
  key: Uint8Array;
  challenge: Uint8Array;
  sig: Uint8Array;
}
export interface LinkAuth {
  t: 'lauth';
  sig: Uint8Array;
}
export interface LinkAdvert {
  t: 'lsa';
  data: Uint8Array;
}
export interface LinkKeyRecord extends RelayKeyRecord {
  t: 'lkey';
}
export interface LinkForward {
  t: 'lfwd';
  to: Uint8Array;
  sid: Uint8Array;
  body: Uint8Array;
  auth?: Uint8Array;
  hops: number;
}
export interface LinkDone {
  t: 'ldone';
  fid: Uint8Array;
  code?: ErrorCode;
}
export interface LinkError {
  t: 'lerr';
  code: ErrorCode;
  msg: string;
}

export type LinkFrame =
  | LinkHello
  | LinkWelcome
  | LinkAuth
  | LinkAdvert
  | LinkKeyRecord
  | LinkForward
  | LinkDone
  | LinkError;

export function encodeLinkFrame(frame: LinkFrame): Uint8Array {
  return encodeCbor(frame as unknown as CborMap);
}

const key32 = { len: 32 };
const sig64 = { len: 64 };

/** The fields each frame may have: anything else is refused (a peer cannot smuggle data along). */
const FIELDS: Record<string, readonly string[] | undefined> = {
  lhello: ['t', 'v', 'key', 'challenge'],
  lwelcome: ['t', 'v', 'key', 'challenge', 'sig'],
  lauth: ['t', 'sig'],
  lsa: ['t', 'data'],
  lkey: ['t', 'key', 'dh', 'sig'],
  lfwd: ['t', 'to', 'sid', 'body', 'auth', 'hops'],
  ldone: ['t', 'fid', 'code'],
  lerr: ['t', 'code', 'msg'],
};

export function decodeLinkFrame(bytes: Uint8Array): LinkFrame {
  if (bytes.length > MAX_LINK_FRAME_BYTES)
    throw new DecodeError(`link frame larger than ${MAX_LINK_FRAME_BYTES} bytes`);
  const m = asMap(
    decodeCbor(bytes, { maxBytes: MAX_LINK_FRAME_BYTES, maxDepth: 2, maxItems: 8 }),
    'link frame',
  );
  const t = asText(m.t, 't', 16);
  const allowed = FIELDS[t];
  if (!allowed) throw new DecodeError('unknown link frame type');
  for (const k of Object.keys(m)) if (!allowed.includes(k)) throw new DecodeError(`unknown field in ${t}`);
  switch (t) {
    case 'lhello':
      return {
        t,
        v: asUint(m.v, 'v'),
        key: asBytes(m.key, 'key', key32),
        challenge: asBytes(m.challenge, 'challenge', { len: CHALLENGE_BYTES }),
      };
    case 'lwelcome':
      return {
        t,
        v: asUint(m.v, 'v'),
        key: asBytes(m.key, 'key', key32),
        challenge: asBytes(m.challenge, 'challenge', { len: CHALLENGE_BYTES }),
        sig: asBytes(m.sig, 'sig', sig64),
      };
    case 'lauth':
      return { t, sig: asBytes(m.sig, 'sig', sig64) };
    case 'lsa':
      return { t, data: asBytes(m.data, 'data', { max: MAX_LINK_ADVERT_BYTES }) };
    case 'lkey':
      return { t, ...decodeKeyRecord(m) };
    case 'lfwd': {
      const hops = asUint(m.hops, 'hops');
      if (hops > MAX_FORWARD_HOPS) throw new DecodeError('forward over too many hops');
      const f: LinkForward = {
        t,
        to: asBytes(m.to, 'to', { len: FINGERPRINT_BYTES }),
        sid: asBytes(m.sid, 'sid', { len: QUEUE_ID_BYTES }),
        body: asBytes(m.body, 'body', { max: MAX_BODY_BYTES }),
        hops,
      };
      const auth = optional(m.auth, (v) => asBytes(v, 'auth', { len: COMMAND_AUTH_BYTES }));
      if (auth) f.auth = auth;
      return f;
    }
    case 'ldone': {
      const f: LinkDone = { t, fid: asBytes(m.fid, 'fid', { len: FORWARD_ID_BYTES }) };
      const code = optional(m.code, (v) => asText(v, 'code', 32));
      if (code !== undefined) {
        if (!isErrorCode(code)) throw new DecodeError('unknown error code');
        f.code = code;
      }
      return f;
    }
    case 'lerr': {
      const code = asText(m.code, 'code', 32);
      if (!isErrorCode(code)) throw new DecodeError('unknown error code');
      return { t, code, msg: asText(m.msg, 'msg', 512) };
    }
    default:
      throw new DecodeError('unknown link frame type');
  }
}

/** What one side signs: its context, the other side's challenge, its own, and the other side's key. */
function signedBytes(
  context: Uint8Array,
  otherChallenge: Uint8Array,
  ownChallenge: Uint8Array,
  otherKey: Uint8Array,
): Uint8Array {
  assertLength(otherChallenge, CHALLENGE_BYTES, 'challenge');
  assertLength(ownChallenge, CHALLENGE_BYTES, 'challenge');
  assertLength(otherKey, 32, 'relay key');
  return concatBytes(context, otherChallenge, ownChallenge, otherKey);
}

/** The listener's signature: over its context, the dialer's challenge, its own, and the dialer's key. */
export function signLinkWelcome(
  signSecret: Uint8Array,
  dialerChallenge: Uint8Array,
  listenerChallenge: Uint8Array,
  dialerKey: Uint8Array,
): Uint8Array {
  return sign(signSecret, signedBytes(LISTENER_CONTEXT, dialerChallenge, listenerChallenge, dialerKey));
}

export function verifyLinkWelcome(
  welcome: LinkWelcome,
  dialerChallenge: Uint8Array,
  dialerKey: Uint8Array,
): boolean {
  return verify(
    welcome.key,
    signedBytes(LISTENER_CONTEXT, dialerChallenge, welcome.challenge, dialerKey),
    welcome.sig,
  );
}

/** The dialer's signature: over its context, the listener's challenge, its own, and the listener's key. */
export function signLinkAuth(
  signSecret: Uint8Array,
  listenerChallenge: Uint8Array,
  dialerChallenge: Uint8Array,
  listenerKey: Uint8Array,
): Uint8Array {
  return sign(signSecret, signedBytes(DIALER_CONTEXT, listenerChallenge, dialerChallenge, listenerKey));
}

export function verifyLinkAuth(
  dialerKey: Uint8Array,
  sig: Uint8Array,
  listenerChallenge: Uint8Array,
  dialerChallenge: Uint8Array,
  listenerKey: Uint8Array,
): boolean {
  return verify(dialerKey, signedBytes(DIALER_CONTEXT, listenerChallenge, dialerChallenge, listenerKey), sig);
}
