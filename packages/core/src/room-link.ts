/**
 * Public rooms (seed 004, DESIGN.md "Public rooms"): the room link, and the proof a join
 * request carries. docs/decisions/0013-public-rooms.md explains the flow.
 *
 * A room link is `parus:room/` + base64url(CBOR map {
 *     v: 1,
 *     g: bytes 16         the group id
 *     n: text (<= 64)     the room's name, as the door keeper knew it
 *     k: bytes 32         the door keeper's member key (Ed25519)
 *     c: bytes            the door: a long-lived rendez-vous card of the keeper (rendezvous-card.ts)
 *     s: bytes 32         the room secret of this door
 *     sig: bytes 64       Ed25519 by k over "parus-room-link-v1" || CBOR(map without sig)
 * })
 *
 * The secret is the access control seed 004 speaks of ("encryption is used as a form of
 * spam/access control"): a join request must carry
 *
 *   proof = BLAKE2b-256 keyed with s (RFC 7693 keyed mode, a MAC)
 *           over "parus-room-join-v1" || g || member key || conversation id
 *
 * which the door keeper checks in constant time. It binds the request to the fresh member key
 * and to the one session it arrives on, so it cannot be replayed for another key or session.
 * Anyone holding the link can join; a rotated door (new card and secret) refuses old links.
 */
import { concatBytes, fromBase64Url, toBase64Url, utf8 } from './bytes.ts';
import { asBytes, asMap, asText, asUint, decodeCbor, encodeCbor, type CborMap } from './cbor.ts';
import {
  SIGNATURE_BYTES,
  SIGN_PUBLIC_BYTES,
  SIGN_SECRET_BYTES,
  assertSignature,
  equalSecret,
  hash,
  sign,
} from './crypto.ts';
import { DecodeError, UsageError, VerificationError } from './errors.ts';
import { GROUP_ID_BYTES, MAX_GROUP_NAME_CHARS } from './group-event.ts';
import { MAX_CARD_BYTES, decodeCard, type RendezvousCard } from './rendezvous-card.ts';

export const ROOM_LINK_PREFIX = 'parus:room/';
export const ROOM_SECRET_BYTES = 32;
export const ROOM_PROOF_BYTES = 32;
/** Longest room link text accepted (a full card, base64url, plus the rest). */
export const MAX_ROOM_LINK_CHARS = 16 * 1024;
const LINK_CONTEXT = utf8('parus-room-link-v1');
const PROOF_CONTEXT = utf8('parus-room-join-v1');

export interface RoomLink {
  group: Uint8Array;
  name: string;
  /** The door keeper's member key. */
  keeper: Uint8Array;
  /** The door card, encoded (decode with decodeCard). */
  card: Uint8Array;
  secret: Uint8Array;
}

function contents(l: RoomLink): CborMap {
  return { v: 1, g: l.group, n: l.name, k: l.keeper, c: l.card, s: l.secret };
}

/** Encodes and signs a room link with the keeper's member key. */
export function createRoomLink(
  l: RoomLink,
  keeper: { publicKey: Uint8Array; secretKey: Uint8Array },
): string {
  if (keeper?.publicKey?.length !== SIGN_PUBLIC_BYTES || keeper.secretKey?.length !== SIGN_SECRET_BYTES)
    throw new UsageError('room link needs the keeper’s signing key pair');
  if (l.group?.length !== GROUP_ID_BYTES) throw new UsageError('room link needs a group id');
  if (l.secret?.length !== ROOM_SECRET_BYTES) throw new UsageError('room secret must be 32 bytes');
  if (typeof l.name !== 'string' || [...l.name].length > MAX_GROUP_NAME_CHARS)
    throw new UsageError('room name too long');
  decodeCard(l.card);
  const body = contents({ ...l, keeper: keeper.publicKey });
  const sig = sign(keeper.secretKey, concatBytes(LINK_CONTEXT, encodeCbor(body)));
  return ROOM_LINK_PREFIX + toBase64Url(encodeCbor({ ...body, sig }));
}

export function isRoomLink(text: string): boolean {
  return (
    typeof text === 'string' &&
    text.trim().slice(0, ROOM_LINK_PREFIX.length).toLowerCase() === ROOM_LINK_PREFIX
  );
}

/** Decodes and verifies a room link: DecodeError if malformed, VerificationError if the signature fails. */
export function parseRoomLink(text: string): RoomLink & { door: RendezvousCard } {
  if (typeof text !== 'string') throw new DecodeError('room link must be text');
  if (text.length > MAX_ROOM_LINK_CHARS) throw new DecodeError('room link too long');
  if (!isRoomLink(text)) throw new DecodeError('not a parus: room link');
  const m = asMap(decodeCbor(fromBase64Url(text.trim().slice(ROOM_LINK_PREFIX.length))), 'room link');
  const got = Object.keys(m).sort().join(',');
  if (got !== 'c,g,k,n,s,sig,v') throw new DecodeError('room link has unexpected fields');
  if (asUint(m.v, 'room link version') !== 1) throw new DecodeError('unknown room link version');
  const l: RoomLink = {
    group: asBytes(m.g, 'group id', { len: GROUP_ID_BYTES }),
    name: asText(m.n, 'room name', MAX_GROUP_NAME_CHARS * 2),
    keeper: asBytes(m.k, 'keeper', { len: SIGN_PUBLIC_BYTES }),
    card: asBytes(m.c, 'door card', { max: MAX_CARD_BYTES }),
    secret: asBytes(m.s, 'room secret', { len: ROOM_SECRET_BYTES }),
  };
  const sig = asBytes(m.sig, 'signature', { len: SIGNATURE_BYTES });
  assertSignature(l.keeper, concatBytes(LINK_CONTEXT, encodeCbor(contents(l))), sig, 'room link');
  const door = decodeCard(l.card);
  if (door.oneTime) throw new DecodeError('a room door is a long-lived card');
  return { ...l, door };
}

function proofInput(group: Uint8Array, member: Uint8Array, conv: Uint8Array): Uint8Array {
  return concatBytes(PROOF_CONTEXT, group, member, conv);
}

/** The MAC a join request carries (see the file comment). */
export function roomJoinProof(
  secret: Uint8Array,
  group: Uint8Array,
  member: Uint8Array,
  conv: Uint8Array,
): Uint8Array {
  if (secret?.length !== ROOM_SECRET_BYTES) throw new UsageError('room secret must be 32 bytes');
  return hash(proofInput(group, member, conv), ROOM_PROOF_BYTES, secret);
}

/** VerificationError unless `proof` is the MAC of this request under `secret` (constant time). */
export function checkRoomJoinProof(
  secret: Uint8Array,
  group: Uint8Array,
  member: Uint8Array,
  conv: Uint8Array,
  proof: Uint8Array,
): void {
  const expected = roomJoinProof(secret, group, member, conv);
  if (!equalSecret(expected, proof)) throw new VerificationError('room join proof does not verify');
}
