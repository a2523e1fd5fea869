/**
 * The client ↔ relay protocol: binary WebSocket messages, each one canonical CBOR map with
 * a type `t`. Queues follow DESIGN.md "Lookup keys": one-way, with a recipient id (rid)
 * and a sender id (sid) that the relay cannot link for an observer, each guarded by its
 * own Ed25519 key.
 *
 * Session: the client opens with `hello` carrying a random challenge; the relay answers
 * `welcome` with its key, a fresh session nonce and a signature over both, and the client
 * checks the key against the fingerprint in the relay address. Every signed command signs
 * `COMMAND_CONTEXT || session || CBOR(frame without sig)`, so a command captured on one
 * connection is worthless on another, and request ids must grow on a connection, so a
 * command repeated on the same connection is refused as a replay.
 *
 * Delivery: the relay stores each sent body sealed under the queue key (agreed by X25519
 * between the recipient's `rdh` and a per-queue relay key `sdh`), so what goes out never
 * looks like what came in.
 */
import { concatBytes, utf8 } from './bytes.ts';
import { asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, optional, type CborMap } from './cbor.ts';
import { dh, hkdf, openWithNonce, sealWithNonce, wipe, type Random } from './crypto.ts';
import { DecodeError, isErrorCode, type ErrorCode } from './errors.ts';

export const RELAY_PROTOCOL_VERSION = 1;
/** Largest WebSocket message either side accepts. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Largest body a `send` may carry (a padded, encrypted envelope). */
export const MAX_BODY_BYTES = 192 * 1024;
export const QUEUE_ID_BYTES = 24;
export const MESSAGE_ID_BYTES = 16;
export const CHALLENGE_BYTES = 32;

const WELCOME_CONTEXT = utf8('parus-relay-welcome-v1');
const COMMAND_CONTEXT = utf8('parus-relay-command-v1');
const QUEUE_KEY_INFO = utf8('parus-queue-key-v1');

// ---- Frames ---------------------------------------------------------------------------

export interface HelloFrame {
  t: 'hello';
  v: number;
  challenge: Uint8Array;
}
/** Create a queue. Signed by `rk`. `sk` secures it at once (optional). */
export interface NewFrame {
  t: 'new';
  id: number;
  rk: Uint8Array;
  rdh: Uint8Array;
  sk?: Uint8Array;
  sig: Uint8Array;
}
/** Set the sender key of an unsecured queue. Signed by `rk`. */
export interface SecureFrame {
  t: 'secure';
  id: number;
  rid: Uint8Array;
  sk: Uint8Array;
  sig: Uint8Array;
}
/** Start receiving a queue's messages on this connection. Signed by `rk`. */
export interface SubFrame {
  t: 'sub';
  id: number;
  rid: Uint8Array;
  sig: Uint8Array;
}
/** Put a body into a queue. Signed by `sk` once the queue is secured. */
export interface SendFrame {
  t: 'send';
  id: number;
  sid: Uint8Array;
  body: Uint8Array;
  sig?: Uint8Array;
}
/** The recipient has durably processed message `mid`: the relay deletes it. Signed by `rk`. */
export interface AckFrame {
  t: 'ack';
  id: number;
  rid: Uint8Array;
  mid: Uint8Array;
  sig: Uint8Array;
}
/** Delete a queue and everything in it. Signed by `rk`. */
export interface DelFrame {
  t: 'del';
  id: number;
  rid: Uint8Array;
  sig: Uint8Array;
}
export interface PingFrame {
  t: 'ping';
  id: number;
}

export type ClientFrame =
  | HelloFrame
  | NewFrame
  | SecureFrame
  | SubFrame
  | SendFrame
  | AckFrame
  | DelFrame
  | PingFrame;
export type SignedCommand = NewFrame | SecureFrame | SubFrame | SendFrame | AckFrame | DelFrame;

export interface WelcomeFrame {
  t: 'welcome';
  v: number;
  key: Uint8Array; // relay Ed25519 public key
  session: Uint8Array; // fresh per connection
  sig: Uint8Array; // over WELCOME_CONTEXT || challenge || session
}
export interface IdsFrame {
  t: 'ids';
  id: number;
  rid: Uint8Array;
  sid: Uint8Array;
  sdh: Uint8Array;
}
export interface OkFrame {
  t: 'ok';
  id: number;
  /** For `sub`: how many messages wait in the queue; they follow as `msg` frames. */
  pending?: number;
}
export interface MsgFrame {
  t: 'msg';
  rid: Uint8Array;
  mid: Uint8Array;
  /** nonce || XChaCha20-Poly1305(queue key, CBOR {ts, body}, ad = mid) */
  body: Uint8Array;
}
export interface EndFrame {
  t: 'end';
  rid: Uint8Array;
}
export interface ErrFrame {
  t: 'err';
  id?: number;
  code: ErrorCode;
  msg: string;
}

export type RelayFrame = WelcomeFrame | IdsFrame | OkFrame | MsgFrame | EndFrame | ErrFrame;

// ---- Codecs ---------------------------------------------------------------------------

const key32 = { len: 32 };
const sig64 = { len: 64 };
const qid = { len: QUEUE_ID_BYTES };
const mid16 = { len: MESSAGE_ID_BYTES };

function frameMap(bytes: Uint8Array): CborMap {
  if (bytes.length > MAX_FRAME_BYTES) throw new DecodeError(`frame larger than ${MAX_FRAME_BYTES} bytes`);
  return asMap(decodeCbor(bytes, { maxBytes: MAX_FRAME_BYTES, maxDepth: 4, maxItems: 16 }), 'frame');
}

function reqId(m: CborMap): number {
  return asUint(m.id, 'id');
}

export function encodeFrame(frame: ClientFrame | RelayFrame): Uint8Array {
  return encodeCbor(frame as unknown as CborMap);
}

export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  const m = frameMap(bytes);
  const t = asText(m.t, 't', 16);
  switch (t) {
    case 'hello':
      return {
        t,
        v: asUint(m.v, 'v'),
        challenge: asBytes(m.challenge, 'challenge', { len: CHALLENGE_BYTES }),
      };
    case 'new': {
      const f: NewFrame = {
        t,
        id: reqId(m),
        rk: asBytes(m.rk, 'rk', key32),
        rdh: asBytes(m.rdh, 'rdh', key32),
        sig: asBytes(m.sig, 'sig', sig64),
      };
      const sk = optional(m.sk, (v) => asBytes(v, 'sk', key32));
      if (sk) f.sk = sk;
      return f;
    }
    case 'secure':
      return {
        t,
        id: reqId(m),
        rid: asBytes(m.rid, 'rid', qid),
        sk: asBytes(m.sk, 'sk', key32),
        sig: asBytes(m.sig, 'sig', sig64),
      };
    case 'sub':
    case 'del':
      return { t, id: reqId(m), rid: asBytes(m.rid, 'rid', qid), sig: asBytes(m.sig, 'sig', sig64) };
    case 'send': {
      const f: SendFrame = {
        t,
        id: reqId(m),
        sid: asBytes(m.sid, 'sid', qid),
        body: asBytes(m.body, 'body', { max: MAX_BODY_BYTES }),
      };
      const sig = optional(m.sig, (v) => asBytes(v, 'sig', sig64));
      if (sig) f.sig = sig;
      return f;
    }
    case 'ack':
      return {
        t,
        id: reqId(m),
        rid: asBytes(m.rid, 'rid', qid),
        mid: asBytes(m.mid, 'mid', mid16),
        sig: asBytes(m.sig, 'sig', sig64),
      };
    case 'ping':
      return { t, id: reqId(m) };
    default:
      throw new DecodeError('unknown client frame type');
  }
}

export function decodeRelayFrame(bytes: Uint8Array): RelayFrame {
  const m = frameMap(bytes);
  const t = asText(m.t, 't', 16);
  switch (t) {
    case 'welcome':
      return {
        t,
        v: asUint(m.v, 'v'),
        key: asBytes(m.key, 'key', key32),
        session: asBytes(m.session, 'session', { len: CHALLENGE_BYTES }),
        sig: asBytes(m.sig, 'sig', sig64),
      };
    case 'ids':
      return {
        t,
        id: reqId(m),
        rid: asBytes(m.rid, 'rid', qid),
        sid: asBytes(m.sid, 'sid', qid),
        sdh: asBytes(m.sdh, 'sdh', key32),
      };
    case 'ok': {
      const f: OkFrame = { t, id: reqId(m) };
      const pending = optional(m.pending, (v) => asUint(v, 'pending'));
      if (pending !== undefined) f.pending = pending;
      return f;
    }
    case 'msg':
      return {
        t,
        rid: asBytes(m.rid, 'rid', qid),
        mid: asBytes(m.mid, 'mid', mid16),
        body: asBytes(m.body, 'body', { max: MAX_BODY_BYTES + 256 }),
      };
    case 'end':
      return { t, rid: asBytes(m.rid, 'rid', qid) };
    case 'err': {
      const code = asText(m.code, 'code', 32);
      if (!isErrorCode(code)) throw new DecodeError('unknown error code');
      const f: ErrFrame = { t, code, msg: asText(m.msg, 'msg', 512) };
      const id = optional(m.id, (v) => asUint(v, 'id'));
      if (id !== undefined) f.id = id;
      return f;
    }
    default:
      throw new DecodeError('unknown relay frame type');
  }
}

// ---- Signatures -----------------------------------------------------------------------

export function welcomeSigningBytes(challenge: Uint8Array, session: Uint8Array): Uint8Array {
  return concatBytes(WELCOME_CONTEXT, challenge, session);
}

/** The bytes a command's `sig` covers: context, the connection's session nonce, the frame without `sig`. */
export function commandSigningBytes(session: Uint8Array, frame: SignedCommand): Uint8Array {
  const { sig: _sig, ...unsigned } = frame;
  return concatBytes(COMMAND_CONTEXT, session, encodeCbor(unsigned as unknown as CborMap));
}

// ---- Queue key and delivered bodies ---------------------------------------------------

/**
 * The key a relay seals a queue's stored messages with: HKDF over X25519 between the
 * recipient's `rdh` and the relay's per-queue `sdh`, bound to the recipient id.
 */
export function queueKey(dhSecret: Uint8Array, peerDhPublic: Uint8Array, rid: Uint8Array): Uint8Array {
  const shared = dh(dhSecret, peerDhPublic);
  try {
    return hkdf(shared, new Uint8Array(0), concatBytes(QUEUE_KEY_INFO, rid), 32);
  } finally {
    wipe(shared);
  }
}

export interface DeliveredBody {
  /** Relay receive time, ms since the epoch. */
  ts: number;
  /** The body exactly as the sender sent it. */
  body: Uint8Array;
}

export function sealDelivery(rng: Random, key: Uint8Array, mid: Uint8Array, d: DeliveredBody): Uint8Array {
  return sealWithNonce(rng, key, encodeCbor({ ts: d.ts, body: d.body }), mid);
}

export function openDelivery(key: Uint8Array, mid: Uint8Array, sealed: Uint8Array): DeliveredBody {
  const m = asMap(decodeCbor(openWithNonce(key, sealed, mid), { maxBytes: MAX_FRAME_BYTES }), 'delivery');
  return { ts: asUint(m.ts, 'ts'), body: asBytes(m.body, 'body', { max: MAX_BODY_BYTES }) };
}
