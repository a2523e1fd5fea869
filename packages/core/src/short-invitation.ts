/**
 * Short invitations (docs/decisions/0045-short-invitations.md): the rendez-vous card stays on
 * the inviter's relay, sealed under a key only the link carries, and the link (and its QR code)
 * holds just what fetching and checking it needs:
 *
 *   parus:i/ + base64url( 0x01 || fingerprint (32) || card id (16) || key (32)
 *                         || port (2, big-endian) || transport (1: 0 ws, 1 wss) || host (UTF-8) )
 *
 * about 140 characters for a relay named by an IPv4 address: a QR code of version 7 at level L
 * instead of version 34. The relay keeps the sealed card as a *card record* (frames below): at
 * most MAX_CARD_RECORD_BYTES, with an expiry, deleted by its owner when the card is spent or
 * withdrawn. The record is `nonce (24) || XChaCha20-Poly1305(key, card, ad = context)`, so a
 * relay (or anyone) serving other bytes under the id is caught when they do not open with the
 * key (VerificationError), and the card inside is then checked as any card is (its signature).
 *
 *   cput {id, ck, data, exp, auth (ck)} → crec {id, cid, exp}    the relay picks the 16-byte id
 *   cget {id, cid}                       → crec {id, cid, exp, data}   no authenticator: the id
 *                                            is unguessable, the data sealed
 *   cdel {id, cid, auth (ck)}            → ok                     the owner withdraws it
 */
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from './bytes.ts';
import { asBytes, asUint, type CborMap } from './cbor.ts';
import { AEAD_NONCE_BYTES, open, seal, type Random } from './crypto.ts';
import { DecodeError, UsageError } from './errors.ts';
import { FINGERPRINT_BYTES, formatRelayAddress, parseRelayAddress } from './relay-address.ts';
import { MAX_CARD_BYTES, decodeCard, encodeCard, type RendezvousCard } from './rendezvous-card.ts';
import { ROOM_LINK_PREFIX, parseRoomLink } from './room-link.ts';

export const SHORT_LINK_PREFIX = 'parus:i/';
/**
 * A public room's short link (decision 0059): the same layout, its record holding the signed
 * room link (room-link.ts) sealed under another context.
 */
export const SHORT_ROOM_LINK_PREFIX = 'parus:r/';
export const CARD_RECORD_ID_BYTES = 16;
export const SHORT_LINK_KEY_BYTES = 32;
const AEAD_TAG = 16;
/** A sealed card: nonce, the largest card, tag. */
export const MAX_CARD_RECORD_BYTES = AEAD_NONCE_BYTES + MAX_CARD_BYTES + AEAD_TAG;
/** Longest short link accepted (a 253-character host name fits). */
export const MAX_SHORT_LINK_CHARS = 512;
const LINK_VERSION = 1;
const FIXED = 1 + FINGERPRINT_BYTES + CARD_RECORD_ID_BYTES + SHORT_LINK_KEY_BYTES + 2 + 1;
const SEAL_CONTEXT = utf8('parus-short-card-v1');
const ROOM_SEAL_CONTEXT = utf8('parus-short-room-v1');

export interface ShortLink {
  /** The relay holding the record, in canonical text form (relay-address.ts). */
  relay: string;
  cid: Uint8Array;
  key: Uint8Array;
}

function hasPrefix(text: string, prefix: string): boolean {
  return typeof text === 'string' && text.trim().slice(0, prefix.length).toLowerCase() === prefix;
}

export function isShortLink(text: string): boolean {
  return hasPrefix(text, SHORT_LINK_PREFIX);
}

export function isShortRoomLink(text: string): boolean {
  return hasPrefix(text, SHORT_ROOM_LINK_PREFIX);
}

export function shortLinkToText(l: ShortLink): string {
  return SHORT_LINK_PREFIX + encodeShort(l);
}

export function shortRoomLinkToText(l: ShortLink): string {
  return SHORT_ROOM_LINK_PREFIX + encodeShort(l);
}

/** DecodeError unless `text` is a well-formed short link (surrounding whitespace and the scheme's case aside). */
export function parseShortLink(text: string): ShortLink {
  return decodeShort(text, SHORT_LINK_PREFIX, 'short link');
}

/** DecodeError unless `text` is a well-formed short room link (`parus:r/`). */
export function parseShortRoomLink(text: string): ShortLink {
  return decodeShort(text, SHORT_ROOM_LINK_PREFIX, 'short room link');
}

function encodeShort(l: ShortLink): string {
  if (l.cid?.length !== CARD_RECORD_ID_BYTES) throw new UsageError('card record id must be 16 bytes');
  if (l.key?.length !== SHORT_LINK_KEY_BYTES) throw new UsageError('short link key must be 32 bytes');
  const a = parseRelayAddress(l.relay);
  const host = utf8(a.host);
  const out = new Uint8Array(FIXED + host.length);
  let at = 0;
  out[at++] = LINK_VERSION;
  out.set(a.fingerprint, at);
  at += FINGERPRINT_BYTES;
  out.set(l.cid, at);
  at += CARD_RECORD_ID_BYTES;
  out.set(l.key, at);
  at += SHORT_LINK_KEY_BYTES;
  out[at++] = a.port >>> 8;
  out[at++] = a.port & 0xff;
  out[at++] = a.transport === 'wss' ? 1 : 0;
  out.set(host, at);
  return toBase64Url(out);
}

function decodeShort(text: string, prefix: string, what: string): ShortLink {
  if (typeof text !== 'string') throw new DecodeError(`${what} must be text`);
  if (text.length > MAX_SHORT_LINK_CHARS) throw new DecodeError(`${what} too long`);
  if (!hasPrefix(text, prefix)) throw new DecodeError(`not a parus: ${what}`);
  const bytes = fromBase64Url(text.trim().slice(prefix.length));
  if (bytes.length <= FIXED) throw new DecodeError('short link truncated');
  if (bytes[0] !== LINK_VERSION) throw new DecodeError('unknown short link version');
  let at = 1;
  const fingerprint = bytes.slice(at, (at += FINGERPRINT_BYTES));
  const cid = bytes.slice(at, (at += CARD_RECORD_ID_BYTES));
  const key = bytes.slice(at, (at += SHORT_LINK_KEY_BYTES));
  const port = (bytes[at]! << 8) | bytes[at + 1]!;
  const transport = bytes[at + 2];
  at += 3;
  if (transport !== 0 && transport !== 1) throw new DecodeError('unknown relay transport in short link');
  let host: string;
  try {
    host = new TextDecoder('utf-8', { fatal: true }).decode(bytes.slice(at));
  } catch {
    throw new DecodeError('short link host is not UTF-8');
  }
  // Parsed back through the one address syntax: a host or port it refuses is refused here too.
  const relay = formatRelayAddress(
    parseRelayAddress(
      formatRelayAddress({ fingerprint, host, port, transport: transport === 1 ? 'wss' : 'ws' }),
    ),
  );
  return { relay, cid, key };
}

/** The record a relay keeps for a short link: the card sealed under the link's key. */
export function sealCardRecord(card: RendezvousCard, key: Uint8Array, rng: Random): Uint8Array {
  if (key?.length !== SHORT_LINK_KEY_BYTES) throw new UsageError('short link key must be 32 bytes');
  const nonce = rng.bytes(AEAD_NONCE_BYTES);
  return concatBytes(nonce, seal(key, nonce, encodeCard(card), SEAL_CONTEXT));
}

/**
 * Opens a fetched record: VerificationError when it was not sealed with the link's key (another
 * card, tampered bytes), then the card's own checks (decodeCard). Expiry is checkCardUsable's.
 */
export function openCardRecord(data: Uint8Array, key: Uint8Array): RendezvousCard {
  if (!(data instanceof Uint8Array) || data.length > MAX_CARD_RECORD_BYTES)
    throw new DecodeError('card record too large');
  if (data.length < AEAD_NONCE_BYTES + AEAD_TAG) throw new DecodeError('card record truncated');
  const plain = open(key, data.subarray(0, AEAD_NONCE_BYTES), data.subarray(AEAD_NONCE_BYTES), SEAL_CONTEXT);
  return decodeCard(plain);
}

/**
 * The record a relay keeps for a short room link: the signed room link (its CBOR, without the
 * text prefix) sealed under the link's key. UsageError when it would not fit a card record (a
 * door card near the largest size): the room then keeps its long link only.
 */
export function sealRoomRecord(roomLink: string, key: Uint8Array, rng: Random): Uint8Array {
  if (key?.length !== SHORT_LINK_KEY_BYTES) throw new UsageError('short link key must be 32 bytes');
  parseRoomLink(roomLink);
  const body = fromBase64Url(roomLink.trim().slice(ROOM_LINK_PREFIX.length));
  if (AEAD_NONCE_BYTES + body.length + AEAD_TAG > MAX_CARD_RECORD_BYTES)
    throw new UsageError('room link too large for a short link');
  const nonce = rng.bytes(AEAD_NONCE_BYTES);
  return concatBytes(nonce, seal(key, nonce, body, ROOM_SEAL_CONTEXT));
}

/**
 * Opens a fetched room record into the room link's text: VerificationError when it was not
 * sealed with the link's key (a card's record, tampered bytes), then the room link's own checks
 * (parseRoomLink: DecodeError, VerificationError for a forged signature).
 */
export function openRoomRecord(data: Uint8Array, key: Uint8Array): string {
  if (!(data instanceof Uint8Array) || data.length > MAX_CARD_RECORD_BYTES)
    throw new DecodeError('room record too large');
  if (data.length < AEAD_NONCE_BYTES + AEAD_TAG) throw new DecodeError('room record truncated');
  const plain = open(
    key,
    data.subarray(0, AEAD_NONCE_BYTES),
    data.subarray(AEAD_NONCE_BYTES),
    ROOM_SEAL_CONTEXT,
  );
  const link = ROOM_LINK_PREFIX + toBase64Url(plain);
  parseRoomLink(link);
  return link;
}

// ---- Card record frames (client ↔ relay) ---------------------------------------------------

export interface CardPutFrame {
  t: 'cput';
  id: number;
  /** The owner's X25519 key: authenticates this frame and later `cdel`. */
  ck: Uint8Array;
  data: Uint8Array;
  /** When the relay may forget it (ms since the epoch); the relay may keep it for less. */
  exp: number;
  auth: Uint8Array;
}
export interface CardGetFrame {
  t: 'cget';
  id: number;
  cid: Uint8Array;
}
export interface CardDeleteFrame {
  t: 'cdel';
  id: number;
  cid: Uint8Array;
  auth: Uint8Array;
}
export type CardCommand = CardPutFrame | CardGetFrame | CardDeleteFrame;

export interface CardRecordFrame {
  t: 'crec';
  id: number;
  cid: Uint8Array;
  exp: number;
  /** Only in the answer to `cget`. */
  data?: Uint8Array;
}

export function isCardCommandType(t: string): t is CardCommand['t'] {
  return t === 'cput' || t === 'cget' || t === 'cdel';
}

const cid16 = { len: CARD_RECORD_ID_BYTES };

/** Decodes a card record command (`t` already read; `id` read by the caller). */
export function decodeCardCommand(t: CardCommand['t'], m: CardMapLike, id: number): CardCommand {
  const keys = Object.keys(m).sort().join(',');
  switch (t) {
    case 'cput':
      if (keys !== 'auth,ck,data,exp,id,t') throw new DecodeError('cput has unexpected fields');
      return {
        t,
        id,
        ck: asBytes(m.ck, 'ck', { len: 32 }),
        data: asBytes(m.data, 'data', { max: MAX_CARD_RECORD_BYTES }),
        exp: asUint(m.exp, 'exp'),
        auth: asBytes(m.auth, 'auth', { len: 32 }),
      };
    case 'cget':
      if (keys !== 'cid,id,t') throw new DecodeError('cget has unexpected fields');
      return { t, id, cid: asBytes(m.cid, 'cid', cid16) };
    case 'cdel':
      if (keys !== 'auth,cid,id,t') throw new DecodeError('cdel has unexpected fields');
      return { t, id, cid: asBytes(m.cid, 'cid', cid16), auth: asBytes(m.auth, 'auth', { len: 32 }) };
  }
}

type CardMapLike = CborMap;

export function decodeCardRecordFrame(m: CborMap, id: number): CardRecordFrame {
  const f: CardRecordFrame = {
    t: 'crec',
    id,
    cid: asBytes(m.cid, 'cid', cid16),
    exp: asUint(m.exp, 'exp'),
  };
  if (m.data !== undefined) f.data = asBytes(m.data, 'data', { max: MAX_CARD_RECORD_BYTES });
  return f;
}
