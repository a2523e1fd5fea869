/**
 * The client ↔ relay protocol: binary WebSocket messages, each one canonical CBOR map with
 * a type `t`. Queues follow DESIGN.md "Lookup keys": one-way, with a recipient id (rid)
 * and a sender id (sid) that the relay cannot link for an observer, each guarded by its
 * own X25519 key (`rk` for the recipient, `sk` for the sender).
 *
 * Session: the client opens with `hello` carrying a random challenge; the relay answers
 * `welcome` with its Ed25519 key, a fresh session nonce, a fresh X25519 key `dh` for this
 * connection alone, and a signature over the challenge, the nonce and `dh`; the client
 * checks the key against the fingerprint in the relay address.
 *
 * Commands are authenticated, not signed (docs/decisions/0005): the idea of SimpleX SMP's
 * command authorization with X25519 authenticators. The queue key and the relay's
 * per-connection `dh` agree on a MAC key K (see deriveCommandAuthKey), and each command
 * carries `auth = HMAC-SHA-256(K, AUTH_CONTEXT || session || CBOR(frame without auth))`.
 * Only the holder of the queue key's secret and this connection's relay can compute it,
 * so a command captured on one connection is worthless on another; request ids must grow
 * on a connection, so a command repeated on the same connection is refused as a replay.
 * The relay pays one X25519 per (connection, key), whose K it caches, and then one HMAC of
 * a few microseconds per command, where version 1's Ed25519 verification took well over a
 * hundred (docs/BENCHMARKS.md).
 * Unlike a signature, an authenticator convinces only this relay, which is all it is for.
 *
 * Delivery: the relay stores each sent body sealed under the queue key (agreed by X25519
 * between the recipient's `rdh` and a per-queue relay key `sdh`), so what goes out never
 * looks like what came in.
 */
import { assertLength, concatBytes, utf8 } from './bytes.ts';
import {
  asArray,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeCbor,
  encodeCbor,
  mapEntrySpan,
  optional,
  type CborMap,
} from './cbor.ts';
import {
  DH_BYTES,
  dh,
  equalSecret,
  hkdf,
  hmacSha256,
  openWithNonce,
  sealWithNonce,
  wipe,
  type Random,
} from './crypto.ts';
import { DecodeError, UsageError, VerificationError, isErrorCode, type ErrorCode } from './errors.ts';
import {
  decodeBlobCommand,
  decodeBlobReply,
  isBlobCommandType,
  type BlobCommand,
  type BlobReply,
} from './blob-protocol.ts';
import {
  decodeCardCommand,
  decodeCardRecordFrame,
  isCardCommandType,
  type CardCommand,
  type CardDeleteFrame,
  type CardPutFrame,
  type CardRecordFrame,
} from './short-invitation.ts';
import { MAX_ACK_BATCH, splitAckIds } from './ack-batch.ts';
import { MAX_OK_BATCH, MAX_OK_BATCH_ID, splitOkIds, writeOkIds } from './ok-batch.ts';
import { MESSAGE_ID_BYTES, QUEUE_ID_BYTES } from './relay-ids.ts';
import {
  decodeFanoutCommand,
  decodeFanoutReply,
  type FanoutCommand,
  type FanoutReply,
} from './fanout-frames.ts';
import {
  decodeForwardFrame,
  decodeKeyRecord,
  decodeKeyRecordRequest,
  type ForwardFrame,
  type KeyRecordReply,
  type KeyRecordRequest,
} from './relay-forward.ts';

/** 2: X25519 command authenticators in place of Ed25519 command signatures. */
export const RELAY_PROTOCOL_VERSION = 2;
/** Largest WebSocket message either side accepts. */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Largest body a `send` may carry (a padded, encrypted envelope). */
export const MAX_BODY_BYTES = 192 * 1024;
export const CHALLENGE_BYTES = 32;
/** HMAC-SHA-256 output: the size of a command's `auth`. */
export const COMMAND_AUTH_BYTES = 32;

export { MESSAGE_ID_BYTES, QUEUE_ID_BYTES };

const WELCOME_CONTEXT = utf8('parus-relay-welcome-v2');
const AUTH_CONTEXT = utf8('parus-relay-command-auth-v1');
const AUTH_KEY_INFO = utf8('parus-relay-auth-v1');
const QUEUE_KEY_INFO = utf8('parus-queue-key-v1');

// ---- Frames ---------------------------------------------------------------------------

export interface HelloFrame {
  t: 'hello';
  v: number;
  challenge: Uint8Array;
  /**
   * 1: the client reads `oks` frames (ok-batch.ts), so the relay may answer several commands
   * of one turn in one frame. A relay that does not know the field ignores it.
   */
  oks?: number;
}
/**
 * Create a queue. Authenticated with the `rk` it carries, which proves possession of its
 * secret. `sk` secures the queue at once (optional; it needs no proof).
 */
export interface NewFrame {
  t: 'new';
  id: number;
  rk: Uint8Array;
  rdh: Uint8Array;
  sk?: Uint8Array;
  auth: Uint8Array;
}
/** Set the sender key of an unsecured queue. Authenticated with `rk`. */
export interface SecureFrame {
  t: 'secure';
  id: number;
  rid: Uint8Array;
  sk: Uint8Array;
  auth: Uint8Array;
}
/** Start receiving a queue's messages on this connection. Authenticated with `rk`. */
export interface SubFrame {
  t: 'sub';
  id: number;
  rid: Uint8Array;
  auth: Uint8Array;
}
/** Put a body into a queue. Authenticated with `sk` once the queue is secured. */
export interface SendFrame {
  t: 'send';
  id: number;
  sid: Uint8Array;
  body: Uint8Array;
  auth?: Uint8Array;
}
/**
 * The recipient has durably processed message `mid`, or each of `mids` (exactly one of the
 * two; ack-batch.ts): the relay deletes them. Authenticated with `rk`.
 */
export interface AckFrame {
  t: 'ack';
  id: number;
  rid: Uint8Array;
  mid?: Uint8Array;
  /** n × 16-byte message ids, 1 ≤ n ≤ MAX_ACK_BATCH, none twice (packAckIds). */
  mids?: Uint8Array;
  auth: Uint8Array;
}
/** Delete a queue and everything in it. Authenticated with `rk`. */
export interface DelFrame {
  t: 'del';
  id: number;
  rid: Uint8Array;
  auth: Uint8Array;
}
export interface PingFrame {
  t: 'ping';
  id: number;
}
/**
 * Short-lived TURN credentials for calls (decision 0046). Authenticated with the `rk` of one of
 * the caller's queues on this relay: only the relay's own users get them.
 */
export interface TurnFrame {
  t: 'turn';
  id: number;
  rid: Uint8Array;
  auth: Uint8Array;
}
/** TURN URLs and credentials (coturn's REST scheme: user = expiry:id, pass = HMAC-SHA1), valid `ttl` s. */
export interface TurnReply {
  t: 'turnc';
  id: number;
  urls: string[];
  user: string;
  pass: string;
  ttl: number;
}
export const MAX_TURN_URLS = 4;
const MAX_TURN_TEXT = 256;

export type ClientFrame =
  | HelloFrame
  | NewFrame
  | SecureFrame
  | SubFrame
  | SendFrame
  | AckFrame
  | DelFrame
  | PingFrame
  | TurnFrame
  | BlobCommand
  | CardCommand
  | FanoutCommand
  | ForwardFrame
  | KeyRecordRequest;
export type AuthenticatedCommand =
  | NewFrame
  | SecureFrame
  | SubFrame
  | SendFrame
  | AckFrame
  | DelFrame
  | TurnFrame
  | BlobCommand
  | CardPutFrame
  | CardDeleteFrame
  | FanoutCommand;

export interface WelcomeFrame {
  t: 'welcome';
  v: number;
  key: Uint8Array; // relay Ed25519 public key
  session: Uint8Array; // fresh per connection
  dh: Uint8Array; // the relay's X25519 public key for this connection alone
  sig: Uint8Array; // over WELCOME_CONTEXT || challenge || session || dh
  /**
   * The relay's per-connection frame rate limit (frames per second, burst), so that a client
   * paces itself instead of being refused. Not signed: whoever could change it could as well
   * drop the connection.
   */
  rate?: number;
  burst?: number;
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
/** The plain `ok`s of several commands (ok-batch.ts), to a client whose hello asked for them. */
export interface OksFrame {
  t: 'oks';
  /** 2 to MAX_OK_BATCH request ids, strictly ascending, each below 2^32. */
  ids: number[];
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

export type RelayFrame =
  | WelcomeFrame
  | IdsFrame
  | OkFrame
  | OksFrame
  | MsgFrame
  | EndFrame
  | ErrFrame
  | TurnReply
  | BlobReply
  | CardRecordFrame
  | FanoutReply
  | KeyRecordReply;

// ---- Codecs ---------------------------------------------------------------------------

const key32 = { len: 32 };
const sig64 = { len: 64 };
const auth32 = { len: COMMAND_AUTH_BYTES };
const qid = { len: QUEUE_ID_BYTES };
const mid16 = { len: MESSAGE_ID_BYTES };

function frameMap(bytes: Uint8Array): CborMap {
  if (bytes.length > MAX_FRAME_BYTES) throw new DecodeError(`frame larger than ${MAX_FRAME_BYTES} bytes`);
  return asMap(decodeCbor(bytes, { maxBytes: MAX_FRAME_BYTES, maxDepth: 4, maxItems: 16 }), 'frame');
}

function reqId(m: CborMap): number {
  return asUint(m.id, 'id');
}

/** Where encodeFrame's laid-out frames go: `size` bytes, each of which it then writes. */
export type FrameAllocator = (size: number) => Uint8Array;

const newBytes: FrameAllocator = (size) => new Uint8Array(size);

/**
 * The frame's canonical CBOR. `alloc` gives the array for the frames laid out directly
 * (`msg`, `ok`), which write every byte of it: the relay passes Node's pooled
 * Buffer.allocUnsafe, as a fan-out writes a `msg` per copy.
 */
export function encodeFrame(frame: ClientFrame | RelayFrame, alloc: FrameAllocator = newBytes): Uint8Array {
  if (frame.t === 'msg') return encodeMsgFrame(frame, alloc);
  if (frame.t === 'ok' && frame.pending === undefined) return encodeOkFrame(frame.id, alloc);
  if (frame.t === 'oks') return encodeOksFrame(frame.ids, alloc);
  return encodeCbor(frame as unknown as CborMap);
}

// {"t": "oks", "ids": bytes(4n)}, laid out directly (one per connection and turn at most;
// tests check that the bytes are encodeCbor's). Keys in encoded order: "t", then "ids".
const OKS_HEAD = Uint8Array.from([0xa2, 0x61, 0x74, 0x63, 0x6f, 0x6b, 0x73, 0x63, 0x69, 0x64, 0x73]);

function encodeOksFrame(ids: readonly number[], alloc: FrameAllocator): Uint8Array {
  if (ids.length < 2 || ids.length > MAX_OK_BATCH)
    throw new UsageError(`an oks carries 2 to ${MAX_OK_BATCH} request ids`);
  const n = ids.length * 4;
  // The byte string's head: n is 8 to 4 × MAX_OK_BATCH (1,024), so one of three forms.
  const lenBytes = n < 24 ? 0 : n < 0x100 ? 1 : 2;
  const out = alloc(OKS_HEAD.length + 1 + lenBytes + n);
  out.set(OKS_HEAD, 0);
  let at = OKS_HEAD.length;
  if (lenBytes === 0) out[at++] = 0x40 + n;
  else if (lenBytes === 1) {
    out[at++] = 0x58;
    out[at++] = n;
  } else {
    out[at++] = 0x59;
    out[at++] = n >>> 8;
    out[at++] = n & 0xff;
  }
  writeOkIds(ids, out, at);
  return out;
}

/** Whether a command's plain `ok` can go in an `oks` frame (its id fits the frame's 4 bytes). */
export function fitsOks(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 0 && id <= MAX_OK_BATCH_ID;
}

// {"t": "ok", "id": …}: the answer to every ack, laid out directly (tests check that the
// bytes are encodeCbor's). Keys in encoded order: "t" is shorter than "id".
const OK_HEAD = Uint8Array.from([0xa2, 0x61, 0x74, 0x62, 0x6f, 0x6b, 0x62, 0x69, 0x64]);

function encodeOkFrame(id: number, alloc: FrameAllocator): Uint8Array {
  if (!Number.isSafeInteger(id) || id < 0 || id > 0xffffffff) return encodeCbor({ t: 'ok', id });
  const size = id < 24 ? 1 : id < 0x100 ? 2 : id < 0x10000 ? 3 : 5;
  const out = alloc(OK_HEAD.length + size);
  out.set(OK_HEAD, 0);
  const at = OK_HEAD.length;
  if (size === 1) out[at] = id;
  else if (size === 2) {
    out[at] = 0x18;
    out[at + 1] = id;
  } else if (size === 3) {
    out[at] = 0x19;
    out[at + 1] = id >>> 8;
    out[at + 2] = id & 0xff;
  } else {
    out[at] = 0x1a;
    out[at + 1] = id >>> 24;
    out[at + 2] = (id >>> 16) & 0xff;
    out[at + 3] = (id >>> 8) & 0xff;
    out[at + 4] = id & 0xff;
  }
  return out;
}

// The canonical CBOR of a `msg` frame up to its body's length: map of 4, keys in encoded
// order (t, mid, rid, body). The relay writes one per delivery (many per fan-out), so it
// is laid out directly instead of going through the generic encoder; tests check that the
// bytes are encodeCbor's.
const MSG_HEAD = Uint8Array.from([0xa4, 0x61, 0x74, 0x63, 0x6d, 0x73, 0x67, 0x63, 0x6d, 0x69, 0x64, 0x50]); // {"t": "msg", "mid": bytes(16)
const RID_KEY = Uint8Array.from([0x63, 0x72, 0x69, 0x64, 0x58, 0x18]); // "rid": bytes(24)
const BODY_KEY = Uint8Array.from([0x64, 0x62, 0x6f, 0x64, 0x79]); // "body"

function encodeMsgFrame(frame: MsgFrame, alloc: FrameAllocator): Uint8Array {
  if (frame.mid.length !== MESSAGE_ID_BYTES || frame.rid.length !== QUEUE_ID_BYTES) {
    return encodeCbor(frame as unknown as CborMap);
  }
  const n = frame.body.length;
  const lenBytes = n < 24 ? 0 : n < 0x100 ? 1 : n < 0x10000 ? 2 : 4;
  const size = MSG_HEAD.length + 16 + RID_KEY.length + 24 + BODY_KEY.length + 1 + lenBytes + n;
  const out = alloc(size);
  let at = 0;
  out.set(MSG_HEAD, at);
  at += MSG_HEAD.length;
  out.set(frame.mid, at);
  at += 16;
  out.set(RID_KEY, at);
  at += RID_KEY.length;
  out.set(frame.rid, at);
  at += 24;
  out.set(BODY_KEY, at);
  at += BODY_KEY.length;
  if (lenBytes === 0) out[at++] = 0x40 + n;
  else if (lenBytes === 1) {
    out[at++] = 0x58;
    out[at++] = n;
  } else if (lenBytes === 2) {
    out[at++] = 0x59;
    out[at++] = n >>> 8;
    out[at++] = n & 0xff;
  } else {
    out[at++] = 0x5a;
    out[at++] = n >>> 24;
    out[at++] = (n >>> 16) & 0xff;
    out[at++] = (n >>> 8) & 0xff;
    out[at++] = n & 0xff;
  }
  out.set(frame.body, at);
  return out;
}

// ---- The two hottest client frames, decoded without the generic CBOR map ------------------
//
// Every 1:1 message brings the relay a `send` and an `ack` (docs/decisions/0042). Their
// canonical encodings have one layout each: the map head, the keys in canonical order (t, id,
// sid, auth, body; t, id, mid, rid, auth), shortest heads. decodeHotFrame reads exactly that
// layout and nothing else; anything else (a batched ack, an unknown field, a long id, bad
// input) goes to the generic decoder, which accepts or refuses it as it always has. So the
// fast path only ever accepts frames the generic one accepts, with the same fields. Its byte
// fields are views of `bytes`, not copies (the frame as received outlives every command that
// reads them).

/** `t`, then the text `send` / `ack`, then the key `id`. */
const HOT_SEND_START = Uint8Array.of(0x61, 0x74, 0x64, 0x73, 0x65, 0x6e, 0x64, 0x62, 0x69, 0x64);
const HOT_ACK_START = Uint8Array.of(0x61, 0x74, 0x63, 0x61, 0x63, 0x6b, 0x62, 0x69, 0x64);
/** `sid` and a 24-byte head; `auth` and a 32-byte head; `body`; `mid` and a 16-byte head; `rid` and a 24-byte head. */
const HOT_SID = Uint8Array.of(0x63, 0x73, 0x69, 0x64, 0x58, QUEUE_ID_BYTES);
const HOT_AUTH = Uint8Array.of(0x64, 0x61, 0x75, 0x74, 0x68, 0x58, COMMAND_AUTH_BYTES);
const HOT_BODY = Uint8Array.of(0x64, 0x62, 0x6f, 0x64, 0x79);
const HOT_MID = Uint8Array.of(0x63, 0x6d, 0x69, 0x64, 0x40 + MESSAGE_ID_BYTES);
const HOT_RID = Uint8Array.of(0x63, 0x72, 0x69, 0x64, 0x58, QUEUE_ID_BYTES);

/** Whether `bytes` holds `what` at `at`. */
function hasAt(bytes: Uint8Array, at: number, what: Uint8Array): boolean {
  if (at + what.length > bytes.length) return false;
  for (let i = 0; i < what.length; i++) if (bytes[at + i] !== what[i]) return false;
  return true;
}

/** A canonical unsigned integer below 2^32 at `at`: [value, next offset], or undefined. */
function hotUint(bytes: Uint8Array, at: number): [number, number] | undefined {
  if (at >= bytes.length) return undefined;
  const initial = bytes[at]!;
  if (initial < 24) return [initial, at + 1];
  if (initial === 24 && at + 2 <= bytes.length && bytes[at + 1]! >= 24) return [bytes[at + 1]!, at + 2];
  if (initial === 25 && at + 3 <= bytes.length) {
    const n = (bytes[at + 1]! << 8) | bytes[at + 2]!;
    return n >= 0x100 ? [n, at + 3] : undefined;
  }
  if (initial === 26 && at + 5 <= bytes.length) {
    const n = bytes[at + 1]! * 0x1000000 + ((bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!);
    return n >= 0x10000 ? [n, at + 5] : undefined;
  }
  return undefined;
}

/**
 * Where the `auth` entry of an authenticated `send` or `ack` of one id is, found from their
 * layout (decodeHotFrame) without scanning the map; undefined for any other frame. For bytes
 * decodeClientFrame accepted (commandAuthPieces' promise), a map of five entries whose first
 * keys are these has its `auth` entry there, as keys are unique.
 */
function hotAuthSpan(
  bytes: Uint8Array,
): { first: number; start: number; end: number; entries: number } | undefined {
  if (bytes[0] !== 0xa5) return undefined;
  let start: number;
  if (hasAt(bytes, 1, HOT_SEND_START)) {
    const id = hotUint(bytes, 1 + HOT_SEND_START.length);
    if (!id || !hasAt(bytes, id[1], HOT_SID)) return undefined;
    start = id[1] + HOT_SID.length + QUEUE_ID_BYTES;
  } else if (hasAt(bytes, 1, HOT_ACK_START)) {
    const id = hotUint(bytes, 1 + HOT_ACK_START.length);
    if (!id || !hasAt(bytes, id[1], HOT_MID)) return undefined;
    const ridAt = id[1] + HOT_MID.length + MESSAGE_ID_BYTES;
    if (!hasAt(bytes, ridAt, HOT_RID)) return undefined;
    start = ridAt + HOT_RID.length + QUEUE_ID_BYTES;
  } else return undefined;
  if (!hasAt(bytes, start, HOT_AUTH)) return undefined;
  return { first: 1, start, end: start + HOT_AUTH.length + COMMAND_AUTH_BYTES, entries: 5 };
}

/** A `send` or an `ack` of one id laid out canonically with exactly its fields; undefined otherwise. */
export function decodeHotFrame(bytes: Uint8Array): SendFrame | AckFrame | undefined {
  if (bytes.length < 2 || bytes.length > MAX_FRAME_BYTES) return undefined;
  const head = bytes[0]!;
  if ((head === 0xa4 || head === 0xa5) && hasAt(bytes, 1, HOT_SEND_START)) {
    const id = hotUint(bytes, 1 + HOT_SEND_START.length);
    if (!id || !hasAt(bytes, id[1], HOT_SID)) return undefined;
    const sidAt = id[1] + HOT_SID.length;
    let at = sidAt + QUEUE_ID_BYTES;
    let authAt = -1;
    if (head === 0xa5) {
      if (!hasAt(bytes, at, HOT_AUTH)) return undefined;
      authAt = at + HOT_AUTH.length;
      at = authAt + COMMAND_AUTH_BYTES;
    }
    if (!hasAt(bytes, at, HOT_BODY)) return undefined;
    at += HOT_BODY.length;
    if (at >= bytes.length) return undefined;
    // The body's head: major type 2, shortest length form, at most MAX_BODY_BYTES.
    const initial = bytes[at]!;
    let length: number;
    if (initial >= 0x40 && initial < 0x58) {
      length = initial - 0x40;
      at += 1;
    } else if (initial === 0x58 && at + 2 <= bytes.length && bytes[at + 1]! >= 24) {
      length = bytes[at + 1]!;
      at += 2;
    } else if (initial === 0x59 && at + 3 <= bytes.length) {
      length = (bytes[at + 1]! << 8) | bytes[at + 2]!;
      if (length < 0x100) return undefined;
      at += 3;
    } else if (initial === 0x5a && at + 5 <= bytes.length) {
      length = bytes[at + 1]! * 0x1000000 + ((bytes[at + 2]! << 16) | (bytes[at + 3]! << 8) | bytes[at + 4]!);
      if (length < 0x10000) return undefined;
      at += 5;
    } else return undefined;
    if (length > MAX_BODY_BYTES || at + length !== bytes.length) return undefined;
    const f: SendFrame = {
      t: 'send',
      id: id[0],
      sid: bytes.subarray(sidAt, sidAt + QUEUE_ID_BYTES),
      body: bytes.subarray(at, at + length),
    };
    if (authAt >= 0) f.auth = bytes.subarray(authAt, authAt + COMMAND_AUTH_BYTES);
    return f;
  }
  if (head === 0xa5 && hasAt(bytes, 1, HOT_ACK_START)) {
    const id = hotUint(bytes, 1 + HOT_ACK_START.length);
    if (!id || !hasAt(bytes, id[1], HOT_MID)) return undefined;
    const midAt = id[1] + HOT_MID.length;
    let at = midAt + MESSAGE_ID_BYTES;
    if (!hasAt(bytes, at, HOT_RID)) return undefined;
    const ridAt = at + HOT_RID.length;
    at = ridAt + QUEUE_ID_BYTES;
    if (!hasAt(bytes, at, HOT_AUTH)) return undefined;
    const authAt = at + HOT_AUTH.length;
    if (authAt + COMMAND_AUTH_BYTES !== bytes.length) return undefined;
    return {
      t: 'ack',
      id: id[0],
      rid: bytes.subarray(ridAt, ridAt + QUEUE_ID_BYTES),
      auth: bytes.subarray(authAt, authAt + COMMAND_AUTH_BYTES),
      mid: bytes.subarray(midAt, midAt + MESSAGE_ID_BYTES),
    };
  }
  return undefined;
}

export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  const hot = decodeHotFrame(bytes);
  if (hot) return hot;
  const m = frameMap(bytes);
  const t = asText(m.t, 't', 16);
  switch (t) {
    case 'hello': {
      const f: HelloFrame = {
        t,
        v: asUint(m.v, 'v'),
        challenge: asBytes(m.challenge, 'challenge', { len: CHALLENGE_BYTES }),
      };
      const oks = optional(m.oks, (v) => asUint(v, 'oks', 1));
      if (oks !== undefined) f.oks = oks;
      return f;
    }
    case 'new': {
      const f: NewFrame = {
        t,
        id: reqId(m),
        rk: asBytes(m.rk, 'rk', key32),
        rdh: asBytes(m.rdh, 'rdh', key32),
        auth: asBytes(m.auth, 'auth', auth32),
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
        auth: asBytes(m.auth, 'auth', auth32),
      };
    case 'sub':
    case 'del':
      return { t, id: reqId(m), rid: asBytes(m.rid, 'rid', qid), auth: asBytes(m.auth, 'auth', auth32) };
    case 'send': {
      const f: SendFrame = {
        t,
        id: reqId(m),
        sid: asBytes(m.sid, 'sid', qid),
        body: asBytes(m.body, 'body', { max: MAX_BODY_BYTES }),
      };
      const auth = optional(m.auth, (v) => asBytes(v, 'auth', auth32));
      if (auth) f.auth = auth;
      return f;
    }
    case 'ack': {
      const f: AckFrame = {
        t,
        id: reqId(m),
        rid: asBytes(m.rid, 'rid', qid),
        auth: asBytes(m.auth, 'auth', auth32),
      };
      if (m.mids !== undefined) {
        if (m.mid !== undefined) throw new DecodeError('an ack carries mid or mids, not both');
        f.mids = asBytes(m.mids, 'mids', { max: MAX_ACK_BATCH * MESSAGE_ID_BYTES });
        splitAckIds(f.mids);
      } else f.mid = asBytes(m.mid, 'mid', mid16);
      return f;
    }
    case 'ping':
      return { t, id: reqId(m) };
    case 'turn':
      return { t, id: reqId(m), rid: asBytes(m.rid, 'rid', qid), auth: asBytes(m.auth, 'auth', auth32) };
    case 'fwd':
      return decodeForwardFrame(m, reqId(m), {
        queueIdBytes: QUEUE_ID_BYTES,
        maxBody: MAX_BODY_BYTES,
        authBytes: COMMAND_AUTH_BYTES,
      });
    case 'rkey':
      return decodeKeyRecordRequest(m, reqId(m));
    default: {
      if (isBlobCommandType(t))
        return decodeBlobCommand(t, m, { id: reqId(m), auth: asBytes(m.auth, 'auth', auth32) });
      if (isCardCommandType(t)) return decodeCardCommand(t, m, reqId(m));
      const fanout = decodeFanoutCommand(t, m, MAX_BODY_BYTES);
      if (fanout) return fanout;
      throw new DecodeError('unknown client frame type');
    }
  }
}

/** A welcome's announced rate limit, when it has one that makes sense. */
function withRate(m: CborMap): { rate?: number; burst?: number } {
  const rate = optional(m.rate, (v) => asUint(v, 'rate'));
  const burst = optional(m.burst, (v) => asUint(v, 'burst'));
  return rate && burst ? { rate, burst } : {};
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
        dh: asBytes(m.dh, 'dh', key32),
        sig: asBytes(m.sig, 'sig', sig64),
        ...withRate(m),
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
    case 'oks':
      return { t, ids: splitOkIds(asBytes(m.ids, 'ids', { max: MAX_OK_BATCH * 4 })) };
    case 'msg':
      return {
        t,
        rid: asBytes(m.rid, 'rid', qid),
        mid: asBytes(m.mid, 'mid', mid16),
        body: asBytes(m.body, 'body', { max: MAX_BODY_BYTES + 256 }),
      };
    case 'end':
      return { t, rid: asBytes(m.rid, 'rid', qid) };
    case 'turnc': {
      const urls = asArray(m.urls, 'urls', MAX_TURN_URLS).map((u) => asText(u, 'TURN URL', MAX_TURN_TEXT));
      if (urls.length === 0 || !urls.every((u) => /^turns?:[^\s]+$/.test(u)))
        throw new DecodeError('TURN URLs must be turn: or turns: URLs');
      return {
        t,
        id: reqId(m),
        urls,
        user: asText(m.user, 'TURN user', MAX_TURN_TEXT),
        pass: asText(m.pass, 'TURN password', MAX_TURN_TEXT),
        ttl: asUint(m.ttl, 'TURN ttl', 7 * 24 * 3600),
      };
    }
    case 'blob':
    case 'chunk':
      return decodeBlobReply(t, m, reqId(m));
    case 'crec':
      return decodeCardRecordFrame(m, reqId(m));
    case 'rkey':
      return { t, id: reqId(m), ...decodeKeyRecord(m) };
    case 'err': {
      const code = asText(m.code, 'code', 32);
      if (!isErrorCode(code)) throw new DecodeError('unknown error code');
      const f: ErrFrame = { t, code, msg: asText(m.msg, 'msg', 512) };
      const id = optional(m.id, (v) => asUint(v, 'id'));
      if (id !== undefined) f.id = id;
      return f;
    }
    default: {
      const fanout = decodeFanoutReply(t, m);
      if (fanout) return fanout;
      throw new DecodeError('unknown relay frame type');
    }
  }
}

// ---- Welcome signature and command authenticators ---------------------------------------

/** The bytes the relay's Ed25519 key signs in `welcome`: it vouches for the session and `dh`. */
export function welcomeSigningBytes(challenge: Uint8Array, session: Uint8Array, dh: Uint8Array): Uint8Array {
  assertLength(challenge, CHALLENGE_BYTES, 'challenge');
  assertLength(session, CHALLENGE_BYTES, 'session');
  assertLength(dh, DH_BYTES, 'relay session X25519 key');
  return concatBytes(WELCOME_CONTEXT, challenge, session, dh);
}

/**
 * The MAC key of one queue key on one connection (SimpleX SMP, "command authorization"
 * with X25519 authenticators; HKDF-SHA-256 as in RFC 5869):
 *
 *     K = HKDF(ikm = X25519(ours, theirs), salt = session,
 *              info = "parus-relay-auth-v1" || clientPublicKey, 32 bytes)
 *
 * The client passes its queue key's secret and the relay's `dh` from `welcome`; the relay
 * passes its per-connection secret and the client's key. `clientPublicKey` (the queue key)
 * goes into `info` so that K names the key it stands for, not just the shared point. A
 * low-order key throws VerificationError (from `dh`).
 */
export function deriveCommandAuthKey(
  ourDhSecret: Uint8Array,
  theirDhPublic: Uint8Array,
  session: Uint8Array,
  clientPublicKey: Uint8Array,
): Uint8Array {
  assertLength(session, CHALLENGE_BYTES, 'session');
  if (clientPublicKey.length !== DH_BYTES) throw new VerificationError('queue key must be 32 bytes');
  const shared = dh(ourDhSecret, theirDhPublic);
  try {
    return hkdf(shared, session, concatBytes(AUTH_KEY_INFO, clientPublicKey), 32);
  } finally {
    wipe(shared);
  }
}

/** The bytes an authenticator covers: context, the connection's session nonce, the frame without `auth`. */
function authenticatedBytes(session: Uint8Array, frame: AuthenticatedCommand): Uint8Array {
  const { auth: _auth, ...rest } = frame;
  return concatBytes(AUTH_CONTEXT, session, encodeCbor(rest as unknown as CborMap));
}

/** A command's `auth`: HMAC-SHA-256 (RFC 2104) under K over the frame (any `auth` in it is left out). */
export function authenticateCommand(
  key: Uint8Array,
  session: Uint8Array,
  frame: AuthenticatedCommand,
): Uint8Array {
  assertLength(key, 32, 'command authentication key');
  assertLength(session, CHALLENGE_BYTES, 'session');
  return hmacSha256(key, authenticatedBytes(session, frame));
}

/** Whether `auth` is the authenticator of `frame` under K; compared in constant time. */
export function checkCommandAuth(
  key: Uint8Array,
  session: Uint8Array,
  frame: AuthenticatedCommand,
  auth: Uint8Array,
): boolean {
  if (auth.length !== COMMAND_AUTH_BYTES) return false;
  const expected = authenticateCommand(key, session, frame);
  try {
    return equalSecret(expected, auth);
  } finally {
    wipe(expected);
  }
}

/** Map heads of 0 to 23 entries (CBOR major type 5). */
const MAP_HEADS = Array.from({ length: 24 }, (_, n) => Uint8Array.of(0xa0 | n));

/**
 * What an authenticator covers, before the frame: AUTH_CONTEXT || session. The same for
 * every command of a connection, so a relay can hash it once per key (relay command-auth.ts).
 */
export function commandAuthPrefix(session: Uint8Array): Uint8Array {
  assertLength(session, CHALLENGE_BYTES, 'session');
  return concatBytes(AUTH_CONTEXT, session);
}

/**
 * The rest of what a command's authenticator covers, cut from the frame as received rather
 * than encoded again: the frame's map without its `auth` entry, as three pieces (the map's
 * head, one entry fewer; the entries before `auth`; those after it). `received` must be
 * bytes that decodeClientFrame accepted: it takes canonical CBOR only (shortest heads, keys
 * in order), so for a frame of known fields these are exactly the bytes of the decoded frame
 * without `auth` that authenticateCommand encodes, and a field the relay does not know is
 * covered as sent. Undefined when the frame has no `auth`.
 */
export function commandAuthPieces(received: Uint8Array): Uint8Array[] | undefined {
  const span = hotAuthSpan(received) ?? mapEntrySpan(received, 'auth');
  if (!span) return undefined;
  const n = span.entries - 1;
  // A map head (major type 5); frames hold at most 16 entries, but any count up to 255 is laid out right.
  const head = n < 24 ? MAP_HEADS[n]! : Uint8Array.of(0xb8, n);
  return [head, received.subarray(span.first, span.start), received.subarray(span.end)];
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
