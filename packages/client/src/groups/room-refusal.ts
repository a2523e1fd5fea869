/**
 * A room door's answer to a join it refuses (docs/decisions/0017). The keeper has just run the
 * contact handshake of the join request (PQXDH and the first Double Ratchet message), so it
 * answers in that very session, in the first message of the keeper's side: only the holder of
 * the door card's keys can make it, and only the joiner can read it (no relay learns why).
 *
 *   envelope kind 'group', body { t: 'refuse', g: bytes 16  the room
 *                                 c: uint                   1 link no longer valid,
 *                                                           2 not allowed, 3 too many joins }
 *
 * The code says no more than the joiner needs: not which check failed, nor anything of the room.
 * A door answers at most its join rate in refusals per window (room-limits.ts), so a request
 * never gets more than one small message back, and a flood gets no more answers than joins.
 */
import {
  DecodeError,
  asBytes,
  asMap,
  asText,
  asUint,
  createEnvelope,
  encodeEnvelope,
  padToBucket,
  ratchetEncrypt,
  type CborMap,
  type CborValue,
  type RatchetState,
  type Random,
  type SignKeyPair,
} from '@parus/core';

export const ROOM_REFUSALS = ['link-invalid', 'not-allowed', 'too-many-joins'] as const;
/** Why a door refused a join: the link is no longer valid, the key may not join, or try later. */
export type RoomRefusal = (typeof ROOM_REFUSALS)[number];

export interface RoomRefusalPayload {
  g: Uint8Array;
  refusal: RoomRefusal;
}

export function encodeRoomRefusal(p: RoomRefusalPayload): CborMap {
  return { t: 'refuse', g: p.g, c: ROOM_REFUSALS.indexOf(p.refusal) + 1 };
}

export function decodeRoomRefusal(body: CborValue): RoomRefusalPayload {
  const m = asMap(body, 'room refusal');
  if (Object.keys(m).sort().join(',') !== 'c,g,t' || asText(m.t, 'type', 8) !== 'refuse')
    throw new DecodeError('room refusal has unexpected fields');
  const refusal = ROOM_REFUSALS[asUint(m.c, 'refusal code') - 1];
  if (!refusal) throw new DecodeError('unknown room refusal code');
  return { g: asBytes(m.g, 'group id', { len: 16 }), refusal };
}

/**
 * The door keeper's checks tag the errors a joiner is told about with the refusal they stand
 * for; other errors (a request that is not a join request at all) get no answer.
 */
const tags = new WeakMap<object, RoomRefusal>();

export function refusing<E>(refusal: RoomRefusal, error: E): E {
  if (typeof error === 'object' && error !== null) tags.set(error, refusal);
  return error;
}

export function refusalOf(error: unknown): RoomRefusal | undefined {
  return typeof error === 'object' && error !== null ? tags.get(error) : undefined;
}

/**
 * The refusal as the keeper's first Double Ratchet message in the session the join request
 * opened (Double Ratchet §3.4, RatchetEncrypt), padded like every message: the wire bytes for
 * the joiner's queue.
 */
export function sealRoomRefusal(o: {
  session: RatchetState;
  ad: Uint8Array;
  device: SignKeyPair;
  conv: Uint8Array;
  now: number;
  rng: Random;
  refusal: RoomRefusalPayload;
}): Uint8Array {
  const env = createEnvelope({
    device: o.device,
    conv: o.conv,
    parents: [],
    lamport: 0,
    ts: o.now,
    kind: 'group',
    body: encodeRoomRefusal(o.refusal),
  });
  return ratchetEncrypt(o.session, padToBucket(encodeEnvelope(env)), o.ad, o.rng).message;
}
