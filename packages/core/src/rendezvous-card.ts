/**
 * The rendez-vous card (Meow §"Adding a contact", DESIGN.md "Contacts"): the invitation an
 * inviter hands out as a QR code, a `parus:` link or a file (the file holds the link text).
 * It is the inviter's PQXDH prekey bundle (PQXDH §3.2) plus where to answer:
 *
 *   CBOR map {
 *     v: 1,
 *     identityKey: bytes 32     Ckp, Ed25519, fresh per contact (PQXDH IK_B)
 *     signedPrekey: bytes 32    X25519 (SPK_B), also the inviter's first ratchet key
 *     kemKey: bytes 1216        X-Wing public key (PQSPK_B)
 *     queue: { relay: text, sid: bytes 24 }   the inviter's rendez-vous queue
 *     queue2?: { relay: text, sid: bytes 24 }  a second one on another relay (decision 0037)
 *     relays: [text] (<= 8)     preferred relays
 *     name?: text (<= 64 code points)          display name the inviter suggests
 *     expires: uint             ms since the epoch
 *     oneTime: bool             one-time card, or a long-lived contact address
 *     sig: bytes 64             Ed25519 by identityKey over "parus-card-v1" || CBOR(map without sig)
 *   }
 *
 * The one signature covers both prekeys, standing in for PQXDH's per-prekey signatures
 * (§3.2); the named CBOR fields keep a curve key from being read as a KEM key. Relay
 * addresses must be in their canonical text form (formatRelayAddress), and the decoder
 * rejects unknown fields, so decoding then encoding gives back the same bytes and
 * `cardId` is stable. A card without `queue2` is byte for byte what it was before that field
 * existed (decision 0037): cards of single-relay accounts stay readable by older clients.
 */
import { concatBytes, equalBytes, fromBase64Url, toBase64Url, utf8 } from './bytes.ts';
import { nameFault } from './display-text.ts';
import {
  asArray,
  asBool,
  asBytes,
  asMap,
  asText,
  asUint,
  decodeCbor,
  encodeCbor,
  type CborMap,
} from './cbor.ts';
import {
  DH_BYTES,
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  XWING_PUBLIC_BYTES,
  assertSignature,
  hash,
  sign,
  type SignKeyPair,
} from './crypto.ts';
import { DecodeError, ParusError, ProtocolError, UsageError } from './errors.ts';
import { formatRelayAddress, parseRelayAddress } from './relay-address.ts';
import { QUEUE_ID_BYTES } from './relay-ids.ts';

export const CARD_VERSION = 1;
export const MAX_CARD_RELAYS = 8;
export const MAX_CARD_NAME_CHARS = 64;
/** Longest relay address text a card may carry (a 253-character host name needs ~330). */
export const MAX_RELAY_ADDRESS_CHARS = 512;
/** Largest encoded card: keys and signature (~1.4 KiB) plus nine relay addresses at most. */
export const MAX_CARD_BYTES = 8 * 1024;
export const CARD_LINK_PREFIX = 'parus:';
/** Longest link text accepted (before trimming whitespace), generous for a MAX_CARD_BYTES card. */
export const MAX_CARD_LINK_CHARS = 16 * 1024;

const CARD_CONTEXT = utf8('parus-card-v1');

export interface CardQueue {
  relay: string; // relay address text, parus://fingerprint@host:port
  sid: Uint8Array; // the queue's sender id
}

export interface RendezvousCard {
  v: 1;
  identityKey: Uint8Array;
  signedPrekey: Uint8Array;
  kemKey: Uint8Array;
  queue: CardQueue;
  /** A second rendez-vous queue on another relay: answer there when `queue`'s relay does not (decision 0037). */
  queue2?: CardQueue;
  relays: string[];
  name?: string;
  expires: number;
  oneTime: boolean;
  sig: Uint8Array;
}

export interface CreateCardOptions {
  identity: SignKeyPair; // the Ckp made for this contact; its public key becomes identityKey
  /** Redundant with identity.publicKey; when given it must be equal. */
  identityKey?: Uint8Array;
  signedPrekey: Uint8Array;
  kemKey: Uint8Array;
  queue: CardQueue;
  queue2?: CardQueue | undefined;
  relays: readonly string[];
  name?: string | undefined;
  expires: number;
  oneTime: boolean;
}

// ---- Field rules shared by createCard (UsageError) and decodeCard (DecodeError) --------

type Fail = (message: string) => never;
const usage: Fail = (message) => {
  throw new UsageError(message);
};
const malformed: Fail = (message) => {
  throw new DecodeError(message);
};

/** Parses and re-formats a relay address; `strict` demands the text already be canonical. */
function canonicalRelay(text: string, what: string, fail: Fail, strict: boolean): string {
  if (typeof text !== 'string' || text.length > MAX_RELAY_ADDRESS_CHARS)
    fail(`${what} is not a relay address`);
  let canonical: string;
  try {
    canonical = formatRelayAddress(parseRelayAddress(text));
  } catch (cause) {
    if (cause instanceof ParusError) return fail(`${what} is not a relay address`);
    throw cause;
  }
  if (strict && canonical !== text) fail(`${what} is not in canonical form`);
  return canonical;
}

function checkRelays(relays: readonly string[], fail: Fail, strict: boolean): string[] {
  if (!Array.isArray(relays) || relays.length > MAX_CARD_RELAYS) fail(`at most ${MAX_CARD_RELAYS} relays`);
  const out = relays.map((r, i) => canonicalRelay(r, `relays[${i}]`, fail, strict));
  if (new Set(out).size !== out.length) fail('relays repeat an address');
  return out;
}

// The one name rule (display-text.ts): a control or bidirectional character would let a name
// rewrite a terminal line or spoof the UI, an invisible one would hide in it.
function checkName(name: string, fail: Fail): string {
  const fault = nameFault(name, MAX_CARD_NAME_CHARS);
  if (fault !== undefined) fail(`card name ${fault}`);
  return name;
}

// ---- Encoding -------------------------------------------------------------------------

/** The card as its CBOR map, without `sig`: what the signature covers. */
function unsignedMap(card: Omit<RendezvousCard, 'sig'>): CborMap {
  const m: CborMap = {
    v: card.v,
    identityKey: card.identityKey,
    signedPrekey: card.signedPrekey,
    kemKey: card.kemKey,
    queue: { relay: card.queue.relay, sid: card.queue.sid },
    relays: [...card.relays],
    expires: card.expires,
    oneTime: card.oneTime,
  };
  if (card.name !== undefined) m.name = card.name;
  if (card.queue2 !== undefined) m.queue2 = { relay: card.queue2.relay, sid: card.queue2.sid };
  return m;
}

function signingBytes(card: Omit<RendezvousCard, 'sig'>): Uint8Array {
  return concatBytes(CARD_CONTEXT, encodeCbor(unsignedMap(card)));
}

export function createCard(opts: CreateCardOptions): RendezvousCard {
  const { identity } = opts;
  if (identity?.publicKey?.length !== SIGN_PUBLIC_BYTES || identity.secretKey?.length !== SIGN_SECRET_BYTES) {
    usage('identity must be an Ed25519 key pair');
  }
  if (opts.identityKey !== undefined && !equalBytes(opts.identityKey, identity.publicKey)) {
    usage('identityKey is not the public key of identity');
  }
  if (!(opts.signedPrekey instanceof Uint8Array) || opts.signedPrekey.length !== DH_BYTES) {
    usage(`signed prekey must be ${DH_BYTES} bytes`);
  }
  if (!(opts.kemKey instanceof Uint8Array) || opts.kemKey.length !== XWING_PUBLIC_BYTES) {
    usage(`KEM key must be ${XWING_PUBLIC_BYTES} bytes`);
  }
  if (!(opts.queue?.sid instanceof Uint8Array) || opts.queue.sid.length !== QUEUE_ID_BYTES) {
    usage(`queue sid must be ${QUEUE_ID_BYTES} bytes`);
  }
  if (!Number.isSafeInteger(opts.expires) || opts.expires < 0) usage('expires must be ms since the epoch');
  if (typeof opts.oneTime !== 'boolean') usage('oneTime must be a boolean');

  const unsigned: Omit<RendezvousCard, 'sig'> = {
    v: CARD_VERSION,
    identityKey: identity.publicKey.slice(),
    signedPrekey: opts.signedPrekey.slice(),
    kemKey: opts.kemKey.slice(),
    queue: {
      relay: canonicalRelay(opts.queue.relay, 'queue relay', usage, false),
      sid: opts.queue.sid.slice(),
    },
    relays: checkRelays(opts.relays, usage, false),
    expires: opts.expires,
    oneTime: opts.oneTime,
  };
  if (opts.name !== undefined) unsigned.name = checkName(opts.name, usage);
  if (opts.queue2 !== undefined) {
    if (!(opts.queue2.sid instanceof Uint8Array) || opts.queue2.sid.length !== QUEUE_ID_BYTES) {
      usage(`queue2 sid must be ${QUEUE_ID_BYTES} bytes`);
    }
    const relay = canonicalRelay(opts.queue2.relay, 'queue2 relay', usage, false);
    if (relay === unsigned.queue.relay) usage('queue2 must be on another relay than queue');
    unsigned.queue2 = { relay, sid: opts.queue2.sid.slice() };
  }
  return { ...unsigned, sig: sign(identity.secretKey, signingBytes(unsigned)) };
}

export function encodeCard(card: RendezvousCard): Uint8Array {
  return encodeCbor({ ...unsignedMap(card), sig: card.sig });
}

/**
 * Strict decoding: sizes, field types, canonical relay addresses, no unknown fields
 * (DecodeError); a version other than 1 (ProtocolError); then the signature
 * (VerificationError). Expiry is checked separately by checkCardUsable.
 */
export function decodeCard(bytes: Uint8Array): RendezvousCard {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('card must be bytes');
  if (bytes.length > MAX_CARD_BYTES) throw new DecodeError(`card larger than ${MAX_CARD_BYTES} bytes`);
  const limits = { maxBytes: MAX_CARD_BYTES, maxDepth: 2, maxItems: 16, maxTotalItems: 64 };
  const m = asMap(decodeCbor(bytes, limits), 'card');
  const v = asUint(m.v, 'card version');
  if (v !== CARD_VERSION) throw new ProtocolError(`unknown card version ${v}`);

  const q = asMap(m.queue, 'card queue');
  if (Object.keys(q).length !== 2) malformed('card queue has unknown fields');
  const card: Omit<RendezvousCard, 'sig'> = {
    v: CARD_VERSION,
    identityKey: asBytes(m.identityKey, 'card identity key', { len: SIGN_PUBLIC_BYTES }),
    signedPrekey: asBytes(m.signedPrekey, 'card signed prekey', { len: DH_BYTES }),
    kemKey: asBytes(m.kemKey, 'card KEM key', { len: XWING_PUBLIC_BYTES }),
    queue: {
      relay: canonicalRelay(
        asText(q.relay, 'card queue relay', MAX_RELAY_ADDRESS_CHARS),
        'queue relay',
        malformed,
        true,
      ),
      sid: asBytes(q.sid, 'card queue sid', { len: QUEUE_ID_BYTES }),
    },
    relays: checkRelays(
      asArray(m.relays, 'card relays', MAX_CARD_RELAYS).map((r, i) =>
        asText(r, `card relays[${i}]`, MAX_RELAY_ADDRESS_CHARS),
      ),
      malformed,
      true,
    ),
    expires: asUint(m.expires, 'card expiry'),
    oneTime: asBool(m.oneTime, 'card oneTime'),
  };
  if (m.name !== undefined)
    card.name = checkName(asText(m.name, 'card name', 4 * MAX_CARD_NAME_CHARS), malformed);
  if (m.queue2 !== undefined) {
    const q2 = asMap(m.queue2, 'card queue2');
    if (Object.keys(q2).length !== 2) malformed('card queue2 has unknown fields');
    const relay = canonicalRelay(
      asText(q2.relay, 'card queue2 relay', MAX_RELAY_ADDRESS_CHARS),
      'queue2 relay',
      malformed,
      true,
    );
    if (relay === card.queue.relay) malformed('card queue2 is on the same relay as queue');
    card.queue2 = { relay, sid: asBytes(q2.sid, 'card queue2 sid', { len: QUEUE_ID_BYTES }) };
  }
  const sig = asBytes(m.sig, 'card signature', { len: SIGNATURE_BYTES });
  // Every known field has been read; any other key is unknown (the CBOR decoder already
  // refused repeated keys).
  const known = 9 + (card.name === undefined ? 0 : 1) + (card.queue2 === undefined ? 0 : 1);
  if (Object.keys(m).length !== known) malformed('card has unknown fields');

  assertSignature(card.identityKey, signingBytes(card), sig, 'rendez-vous card');
  return { ...card, sig };
}

/** ProtocolError once `now` (ms since the epoch) has reached the card's expiry. */
export function checkCardUsable(card: RendezvousCard, now: number): void {
  if (!Number.isSafeInteger(now) || now < 0) throw new UsageError('now must be ms since the epoch');
  if (now >= card.expires) throw new ProtocolError('rendez-vous card has expired');
}

/** The `parus:` link form, also the QR code payload and the content of a card file. */
export function cardToLink(card: RendezvousCard): string {
  return CARD_LINK_PREFIX + toBase64Url(encodeCard(card));
}

/** Accepts surrounding whitespace and any case of the scheme (RFC 3986 §3.1); DecodeError otherwise. */
export function cardFromLink(text: string): RendezvousCard {
  if (typeof text !== 'string') throw new DecodeError('card link must be text');
  if (text.length > MAX_CARD_LINK_CHARS) throw new DecodeError('card link too long');
  const trimmed = text.trim();
  if (trimmed.slice(0, CARD_LINK_PREFIX.length).toLowerCase() !== CARD_LINK_PREFIX) {
    throw new DecodeError('not a parus: card link');
  }
  return decodeCard(fromBase64Url(trimmed.slice(CARD_LINK_PREFIX.length)));
}

/** BLAKE2b-256 of the encoded card: names the invitation a contact request answers. */
export function cardId(card: RendezvousCard): Uint8Array {
  return hash(encodeCard(card), 32);
}
