/**
 * Linking a new device to an account (docs/decisions/0030 "Linking"): the offer the new
 * device shows, the three messages that agree on keys and a short code both screens show,
 * and the framing of what then goes over the channel (the account snapshot one way, the new
 * device's keys the other way). Pure: randomness and the clock are parameters; the relay
 * queues that carry the messages are the caller's.
 *
 * The new device N shows `parus:device/` + base64url(CBOR {
 *     v: 1, id: bytes 16, key: bytes 32 (N's ephemeral X25519), relay: text, sid: bytes 24
 *     (where N receives), exp: uint (ms), name: text (N's device name) })
 * The existing device E scans it (or the link is pasted) and, in N's queue:
 *   E → N  answer  { v, t: "answer", id, key: E's ephemeral X25519, relay, sid (where E
 *                    receives), c: BLAKE2b("parus-device-link-commit-v1" || E key || nE) }
 *   N → E  nonce   { v, t: "nonce", id, n: nN }
 *   E → N  reveal  { v, t: "reveal", id, n: nE }      N checks c (constant time)
 * transcript = BLAKE2b-256("parus-device-link-v1" || offer || answer || nN || nE), each
 * encoded; the short code is 6 digits from BLAKE2b("parus-device-link-sas-v1" || transcript),
 * and the channel keys are HKDF-SHA-256(X25519(eN, eE), transcript, "parus-device-link-keys-v1"),
 * one per direction. E commits to nE before it sees nN, and N fixes nN before it sees nE: a
 * relay in the middle must choose its values before knowing the other side's nonce, so it
 * makes both screens show the same code with probability 10^-6 (ZRTP, RFC 6189 §4.4.1).
 *
 * After both users confirmed the code, a payload goes as `data` messages { v, t: "data", id,
 * i, h (24 bytes, first only), c }: libsodium secretstream chunks under that direction's key,
 * so a frame that is changed, dropped, reordered or cut short does not authenticate.
 *
 * Refused: an expired offer (ExpiredError), an offer answered before or a second answer
 * (ReplayError), a reveal that does not open its commitment (VerificationError), a message of
 * another link or out of turn (ProtocolError), malformed input (DecodeError).
 */
import { concatBytes, fromBase64Url, toBase64Url, toHex, utf8 } from './bytes.ts';
import { asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import {
  DH_BYTES,
  SECRETSTREAM_ABYTES,
  SECRETSTREAM_HEADER_BYTES,
  dh,
  dhKeyPairFromSecret,
  equalSecret,
  hash,
  hkdf,
  openSecretStream,
  secretStreamPull,
  secretStreamPush,
  wipe,
  type Random,
} from './crypto.ts';
import { nameFault } from './display-text.ts';
import {
  DecodeError,
  ExpiredError,
  ProtocolError,
  ReplayError,
  UsageError,
  VerificationError,
} from './errors.ts';
import { MAX_DEVICE_NAME_CHARS } from './device-log.ts';
import { parseRelayAddress } from './relay-address.ts';

export const DEVICE_LINK_PREFIX = 'parus:device/';
export const LINK_ID_BYTES = 16;
export const LINK_NONCE_BYTES = 32;
export const LINK_SID_BYTES = 24;
export const LINK_OFFER_TTL_MS = 10 * 60_000;
export const MAX_LINK_OFFER_TTL_MS = 60 * 60_000;
export const MAX_LINK_OFFER_CHARS = 2048;
/** Plaintext per data frame: a frame stays well under the relay's 192 KiB body. */
export const LINK_CHUNK_BYTES = 128 * 1024;
/** The most one link carries (an account snapshot with its history). */
export const MAX_LINK_TRANSFER_BYTES = 256 * 1024 * 1024;
export const MAX_LINK_MESSAGE_BYTES = LINK_CHUNK_BYTES + 256;
const MAX_RELAY_CHARS = 512;

const COMMIT_CONTEXT = utf8('parus-device-link-commit-v1');
const TRANSCRIPT_CONTEXT = utf8('parus-device-link-v1');
const SAS_CONTEXT = utf8('parus-device-link-sas-v1');
const KEYS_INFO = utf8('parus-device-link-keys-v1');

export interface LinkOffer {
  id: Uint8Array;
  key: Uint8Array;
  relay: string;
  sid: Uint8Array;
  expires: number;
  name: string;
}

export type LinkMessage =
  | { t: 'answer'; id: Uint8Array; key: Uint8Array; relay: string; sid: Uint8Array; c: Uint8Array }
  | { t: 'nonce'; id: Uint8Array; n: Uint8Array }
  | { t: 'reveal'; id: Uint8Array; n: Uint8Array }
  | { t: 'data'; id: Uint8Array; i: number; h?: Uint8Array; c: Uint8Array };

/** What both sides hold once the code is shown: the code, and one key per direction. */
export interface LinkSession {
  id: Uint8Array;
  /** Six digits, "123 456". */
  code: string;
  sendKey: Uint8Array;
  receiveKey: Uint8Array;
}

function offerMap(o: LinkOffer): CborMap {
  return { v: 1, id: o.id, key: o.key, relay: o.relay, sid: o.sid, exp: o.expires, name: o.name };
}

function checkRelay(relay: string, Err: typeof UsageError | typeof DecodeError): void {
  try {
    parseRelayAddress(relay);
  } catch (cause) {
    throw new Err('link relay is not a relay address', { cause });
  }
}

export function encodeLinkOffer(offer: LinkOffer): string {
  return DEVICE_LINK_PREFIX + toBase64Url(encodeCbor(offerMap(offer)));
}

export function isDeviceLink(text: string): boolean {
  return typeof text === 'string' && text.trim().toLowerCase().startsWith(DEVICE_LINK_PREFIX);
}

/** Decodes a `parus:device/` link (DecodeError); its expiry is checked when it is answered. */
export function parseLinkOffer(text: string): LinkOffer {
  if (typeof text !== 'string') throw new DecodeError('device link must be text');
  if (text.length > MAX_LINK_OFFER_CHARS) throw new DecodeError('device link too long');
  if (!isDeviceLink(text)) throw new DecodeError('not a parus: device link');
  const bytes = fromBase64Url(text.trim().slice(DEVICE_LINK_PREFIX.length));
  const m = asMap(
    decodeCbor(bytes, { maxBytes: MAX_LINK_OFFER_CHARS, maxDepth: 1, maxItems: 8, maxTotalItems: 9 }),
    'device link',
  );
  if (Object.keys(m).sort().join(',') !== 'exp,id,key,name,relay,sid,v')
    throw new DecodeError('device link fields');
  if (asUint(m.v, 'device link version') !== 1) throw new DecodeError('unknown device link version');
  const name = asText(m.name, 'device name', MAX_DEVICE_NAME_CHARS * 4);
  const fault = nameFault(name, MAX_DEVICE_NAME_CHARS);
  if (fault !== undefined) throw new DecodeError(`device name ${fault}`);
  const relay = asText(m.relay, 'link relay', MAX_RELAY_CHARS);
  checkRelay(relay, DecodeError);
  return {
    id: asBytes(m.id, 'link id', { len: LINK_ID_BYTES }),
    key: asBytes(m.key, 'link key', { len: DH_BYTES }),
    relay,
    sid: asBytes(m.sid, 'link queue', { len: LINK_SID_BYTES }),
    expires: asUint(m.exp, 'link expiry'),
    name,
  };
}

function messageMap(m: LinkMessage): CborMap {
  switch (m.t) {
    case 'answer':
      return { v: 1, t: m.t, id: m.id, key: m.key, relay: m.relay, sid: m.sid, c: m.c };
    case 'nonce':
    case 'reveal':
      return { v: 1, t: m.t, id: m.id, n: m.n };
    case 'data':
      return m.h
        ? { v: 1, t: m.t, id: m.id, i: m.i, h: m.h, c: m.c }
        : { v: 1, t: m.t, id: m.id, i: m.i, c: m.c };
  }
}

export function encodeLinkMessage(m: LinkMessage): Uint8Array {
  return encodeCbor(messageMap(m));
}

export function decodeLinkMessage(bytes: Uint8Array): LinkMessage {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('link message must be bytes');
  const m = asMap(
    decodeCbor(bytes, { maxBytes: MAX_LINK_MESSAGE_BYTES, maxDepth: 1, maxItems: 8, maxTotalItems: 9 }),
    'link message',
  );
  if (asUint(m.v, 'link message version') !== 1) throw new DecodeError('unknown link message version');
  const t = asText(m.t, 'link message type', 8);
  const id = asBytes(m.id, 'link id', { len: LINK_ID_BYTES });
  const keys = Object.keys(m).sort().join(',');
  switch (t) {
    case 'answer': {
      if (keys !== 'c,id,key,relay,sid,t,v') throw new DecodeError('link answer fields');
      const relay = asText(m.relay, 'link relay', MAX_RELAY_CHARS);
      checkRelay(relay, DecodeError);
      return {
        t,
        id,
        key: asBytes(m.key, 'link key', { len: DH_BYTES }),
        relay,
        sid: asBytes(m.sid, 'link queue', { len: LINK_SID_BYTES }),
        c: asBytes(m.c, 'link commitment', { len: 32 }),
      };
    }
    case 'nonce':
    case 'reveal':
      if (keys !== 'id,n,t,v') throw new DecodeError(`link ${t} fields`);
      return { t, id, n: asBytes(m.n, 'link nonce', { len: LINK_NONCE_BYTES }) };
    case 'data': {
      const i = asUint(m.i, 'link frame index', Math.ceil(MAX_LINK_TRANSFER_BYTES / LINK_CHUNK_BYTES));
      if (keys !== (i === 0 ? 'c,h,i,id,t,v' : 'c,i,id,t,v')) throw new DecodeError('link data fields');
      const c = asBytes(m.c, 'link frame', { max: LINK_CHUNK_BYTES + SECRETSTREAM_ABYTES });
      if (c.length < SECRETSTREAM_ABYTES) throw new DecodeError('link frame too short');
      return i === 0
        ? { t, id, i, h: asBytes(m.h, 'link stream header', { len: SECRETSTREAM_HEADER_BYTES }), c }
        : { t, id, i, c };
    }
    default:
      throw new DecodeError('unknown link message type');
  }
}

// ---- The handshake ------------------------------------------------------------------

/** The new device's side. */
export interface LinkOffererState {
  phase: 'waiting' | 'nonce-sent' | 'done';
  offer: LinkOffer;
  secret: Uint8Array;
  answer?: Extract<LinkMessage, { t: 'answer' }>;
  nonce?: Uint8Array;
}

/** The existing device's side. */
export interface LinkAnswererState {
  phase: 'answered' | 'done';
  offer: LinkOffer;
  secret: Uint8Array;
  answer: Extract<LinkMessage, { t: 'answer' }>;
  nonce: Uint8Array;
}

function commitment(key: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hash(concatBytes(COMMIT_CONTEXT, key, nonce));
}

/** New device: an offer to show, with the ephemeral secret it keeps. */
export function createLinkOffer(opts: {
  rng: Random;
  relay: string;
  sid: Uint8Array;
  now: number;
  name: string;
  ttlMs?: number;
}): { link: string; state: LinkOffererState } {
  const ttl = opts.ttlMs ?? LINK_OFFER_TTL_MS;
  if (!Number.isSafeInteger(ttl) || ttl <= 0 || ttl > MAX_LINK_OFFER_TTL_MS)
    throw new UsageError('link lifetime out of range');
  if (!Number.isSafeInteger(opts.now) || opts.now < 0) throw new UsageError('now must be ms since the epoch');
  if (!(opts.sid instanceof Uint8Array) || opts.sid.length !== LINK_SID_BYTES)
    throw new UsageError('link queue must be 24 bytes');
  checkRelay(opts.relay, UsageError);
  const fault = nameFault(opts.name, MAX_DEVICE_NAME_CHARS);
  if (fault !== undefined) throw new UsageError(`device name ${fault}`);
  const secret = opts.rng.bytes(DH_BYTES);
  const offer: LinkOffer = {
    id: opts.rng.bytes(LINK_ID_BYTES),
    key: dhKeyPairFromSecret(secret).publicKey,
    relay: opts.relay,
    sid: opts.sid.slice(),
    expires: opts.now + ttl,
    name: opts.name,
  };
  return { link: encodeLinkOffer(offer), state: { phase: 'waiting', offer, secret } };
}

function checkId(expected: Uint8Array, got: Uint8Array): void {
  if (!equalSecret(expected, got)) throw new ProtocolError('message of another device link');
}

function session(
  offer: LinkOffer,
  answer: Extract<LinkMessage, { t: 'answer' }>,
  nN: Uint8Array,
  nE: Uint8Array,
  mySecret: Uint8Array,
  theirKey: Uint8Array,
  role: 'offerer' | 'answerer',
): LinkSession {
  const transcript = hash(
    concatBytes(TRANSCRIPT_CONTEXT, utf8(encodeLinkOffer(offer)), encodeLinkMessage(answer), nN, nE),
  );
  const digest = hash(concatBytes(SAS_CONTEXT, transcript));
  const n = ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
  const digits = String(n % 1_000_000).padStart(6, '0');
  const shared = dh(mySecret, theirKey);
  const keys = hkdf(shared, transcript, KEYS_INFO, 64);
  wipe(shared);
  const toAnswerer = keys.slice(0, 32);
  const toOfferer = keys.slice(32, 64);
  wipe(keys);
  return {
    id: offer.id,
    code: `${digits.slice(0, 3)} ${digits.slice(3)}`,
    sendKey: role === 'offerer' ? toAnswerer : toOfferer,
    receiveKey: role === 'offerer' ? toOfferer : toAnswerer,
  };
}

/**
 * Existing device: answers an offer. `answered` says whether this device answered that offer
 * id before (the caller keeps the ids of offers it answered until they expire).
 */
export function answerLinkOffer(opts: {
  offer: LinkOffer;
  rng: Random;
  now: number;
  relay: string;
  sid: Uint8Array;
  answered: (id: string) => boolean;
}): { state: LinkAnswererState; message: Uint8Array } {
  const { offer } = opts;
  if (opts.now > offer.expires) throw new ExpiredError('device link expired');
  if (offer.expires - opts.now > MAX_LINK_OFFER_TTL_MS) throw new ProtocolError('device link lives too long');
  if (opts.answered(toHex(offer.id))) throw new ReplayError('device link already answered');
  if (!(opts.sid instanceof Uint8Array) || opts.sid.length !== LINK_SID_BYTES)
    throw new UsageError('link queue must be 24 bytes');
  checkRelay(opts.relay, UsageError);
  const secret = opts.rng.bytes(DH_BYTES);
  const key = dhKeyPairFromSecret(secret).publicKey;
  const nonce = opts.rng.bytes(LINK_NONCE_BYTES);
  const answer = {
    t: 'answer',
    id: offer.id,
    key,
    relay: opts.relay,
    sid: opts.sid.slice(),
    c: commitment(key, nonce),
  } as const;
  return { state: { phase: 'answered', offer, secret, answer, nonce }, message: encodeLinkMessage(answer) };
}

/** New device: takes the (first) answer and sends its nonce. */
export function receiveLinkAnswer(
  state: LinkOffererState,
  message: LinkMessage,
  opts: { rng: Random; now: number },
): { state: LinkOffererState; reply: Uint8Array } {
  if (message.t !== 'answer') throw new ProtocolError('expected a link answer');
  checkId(state.offer.id, message.id);
  if (state.phase !== 'waiting') throw new ReplayError('device link already answered');
  if (opts.now > state.offer.expires) throw new ExpiredError('device link expired');
  const nonce = opts.rng.bytes(LINK_NONCE_BYTES);
  return {
    state: { ...state, phase: 'nonce-sent', answer: message, nonce },
    reply: encodeLinkMessage({ t: 'nonce', id: state.offer.id, n: nonce }),
  };
}

/** Existing device: takes the new device's nonce, reveals its own; the code can be shown. */
export function receiveLinkNonce(
  state: LinkAnswererState,
  message: LinkMessage,
): { state: LinkAnswererState; reply: Uint8Array; session: LinkSession } {
  if (message.t !== 'nonce') throw new ProtocolError('expected a link nonce');
  checkId(state.offer.id, message.id);
  if (state.phase !== 'answered') throw new ReplayError('link nonce already received');
  const s = session(
    state.offer,
    state.answer,
    message.n,
    state.nonce,
    state.secret,
    state.offer.key,
    'answerer',
  );
  wipe(state.secret);
  return {
    state: { ...state, phase: 'done' },
    reply: encodeLinkMessage({ t: 'reveal', id: state.offer.id, n: state.nonce }),
    session: s,
  };
}

/** New device: checks the reveal against the commitment; the code can be shown. */
export function receiveLinkReveal(
  state: LinkOffererState,
  message: LinkMessage,
): { state: LinkOffererState; session: LinkSession } {
  if (message.t !== 'reveal') throw new ProtocolError('expected a link reveal');
  checkId(state.offer.id, message.id);
  if (state.phase === 'done') throw new ReplayError('link reveal already received');
  if (state.phase !== 'nonce-sent' || !state.answer || !state.nonce)
    throw new ProtocolError('link reveal out of turn');
  if (!equalSecret(commitment(state.answer.key, message.n), state.answer.c))
    throw new VerificationError('link reveal does not match its commitment');
  const s = session(
    state.offer,
    state.answer,
    state.nonce,
    message.n,
    state.secret,
    state.answer.key,
    'offerer',
  );
  wipe(state.secret);
  return { state: { ...state, phase: 'done' }, session: s };
}

// ---- The transfer -------------------------------------------------------------------

/** A payload as encoded `data` messages under one direction's key. */
export function sealLinkTransfer(opts: {
  key: Uint8Array;
  id: Uint8Array;
  rng: Random;
  payload: Uint8Array;
  chunkBytes?: number;
}): Uint8Array[] {
  const chunk = opts.chunkBytes ?? LINK_CHUNK_BYTES;
  if (!Number.isInteger(chunk) || chunk < 1 || chunk > LINK_CHUNK_BYTES)
    throw new UsageError('chunk size out of range');
  if (opts.payload.length > MAX_LINK_TRANSFER_BYTES) throw new UsageError('payload too large for a link');
  const header = opts.rng.bytes(SECRETSTREAM_HEADER_BYTES);
  const stream = openSecretStream(opts.key, header);
  const frames: Uint8Array[] = [];
  const count = Math.max(1, Math.ceil(opts.payload.length / chunk));
  for (let i = 0; i < count; i++) {
    const piece = opts.payload.subarray(i * chunk, Math.min(opts.payload.length, (i + 1) * chunk));
    const c = secretStreamPush(stream, piece, i === count - 1);
    frames.push(
      encodeLinkMessage(
        i === 0 ? { t: 'data', id: opts.id, i, h: header, c } : { t: 'data', id: opts.id, i, c },
      ),
    );
  }
  return frames;
}

/**
 * Reads `data` messages in order. `push` returns the payload after the final frame. A frame
 * seen before (a relay may deliver again) is a ReplayError the caller may ignore; a frame
 * ahead of its turn, or any frame after the end, is a ProtocolError; one that does not
 * authenticate a VerificationError; more than `maxBytes` a DecodeError.
 */
export class LinkTransferReader {
  private next = 0;
  private total = 0;
  private stream: ReturnType<typeof openSecretStream> | undefined;
  private readonly parts: Uint8Array[] = [];
  private finished = false;

  constructor(
    private readonly key: Uint8Array,
    private readonly id: Uint8Array,
    private readonly maxBytes = MAX_LINK_TRANSFER_BYTES,
  ) {}

  get done(): boolean {
    return this.finished;
  }

  push(message: LinkMessage): Uint8Array | undefined {
    if (message.t !== 'data') throw new ProtocolError('expected link data');
    checkId(this.id, message.id);
    if (message.i < this.next) throw new ReplayError('link frame seen before');
    if (this.finished) throw new ProtocolError('link frame after the end');
    if (message.i > this.next) throw new ProtocolError('link frame out of order');
    if (message.i === 0) {
      if (!message.h) throw new DecodeError('first link frame without its header');
      this.stream = openSecretStream(this.key, message.h);
    }
    if (!this.stream) throw new ProtocolError('link frame before the first');
    const { message: plain, final } = secretStreamPull(this.stream, message.c);
    this.total += plain.length;
    if (this.total > this.maxBytes) throw new DecodeError('link transfer larger than allowed');
    this.parts.push(plain);
    this.next++;
    if (!final) return undefined;
    this.finished = true;
    return concatBytes(...this.parts);
  }
}
