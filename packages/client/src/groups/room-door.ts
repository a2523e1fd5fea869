/**
 * The door of a public room (docs/decisions/0013): what a join request carries inside the
 * contact request that answers the door card, and the checks the door keeper runs on it before
 * anything is made for the joiner (no queue, no session, no event).
 *
 *   room: { m: bytes 32     the joiner's fresh member key (a short-term key pair, seed 004)
 *           proof: bytes 32 BLAKE2b MAC under the room secret (core room-link.ts)
 *           sig: bytes 64   Ed25519 by m over the group bind message of this session
 *                           (group-wire.ts bindMessage): the joiner holds m, and m speaks here }
 */
import {
  DecodeError,
  ProtocolError,
  VerificationError,
  asBytes,
  asMap,
  checkRoomJoinProof,
  roomJoinProof,
  sign,
  toHex,
  verify,
  type CborMap,
  type CborValue,
  type GroupState,
  type SignKeyPair,
} from '@parus/core';
import { bindMessage } from './group-wire.ts';
import { refusing } from './room-refusal.ts';

export interface RoomJoinRequest {
  m: Uint8Array;
  proof: Uint8Array;
  sig: Uint8Array;
}

/** The joiner's side: the request for member key `member` on the session `conv`. */
export function roomJoinRequest(
  secret: Uint8Array,
  group: Uint8Array,
  member: SignKeyPair,
  conv: Uint8Array,
): CborMap {
  return {
    m: member.publicKey,
    proof: roomJoinProof(secret, group, member.publicKey, conv),
    sig: sign(member.secretKey, bindMessage(group, conv)),
  };
}

export function decodeRoomJoinRequest(v: CborValue | undefined): RoomJoinRequest {
  if (v === undefined) throw new ProtocolError('a room door takes only room join requests');
  const m = asMap(v, 'room join request');
  if (Object.keys(m).sort().join(',') !== 'm,proof,sig')
    throw new DecodeError('room join request has unexpected fields');
  return {
    m: asBytes(m.m, 'member', { len: 32 }),
    proof: asBytes(m.proof, 'proof', { len: 32 }),
    sig: asBytes(m.sig, 'sig', { len: 64 }),
  };
}

/**
 * The door keeper's checks, in this order: the proof (access control: nothing else is looked
 * at without it), the key's signature, that the group is a public room, that the key is not
 * banned and not already a member. Throws VerificationError or ProtocolError, tagged with the
 * refusal the joiner is told (room-refusal.ts).
 */
export function checkRoomAdmission(o: {
  state: GroupState;
  secret: Uint8Array;
  conv: Uint8Array;
  request: RoomJoinRequest;
}): void {
  const { state, request } = o;
  try {
    checkRoomJoinProof(o.secret, state.group, request.m, o.conv, request.proof);
  } catch (e) {
    // A proof under another secret: most likely a link from before the last rotation.
    throw refusing('link-invalid', e);
  }
  const denied = (e: Error): Error => refusing('not-allowed', e);
  if (!verify(request.m, bindMessage(state.group, o.conv), request.sig))
    throw denied(new VerificationError('room join request is not signed by its member key'));
  if (!state.settings.public) throw denied(new ProtocolError('the group is not a public room'));
  if (state.banned.has(toHex(request.m))) throw denied(new ProtocolError('this key is banned from the room'));
  if (state.members.has(toHex(request.m))) throw denied(new ProtocolError('this key is already a member'));
}
