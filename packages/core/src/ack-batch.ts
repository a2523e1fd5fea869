/**
 * Batched acks (docs/decisions/0016): one `ack` frame for several messages of one queue.
 *
 *   ack {id, rid, mid, auth}    one message (the form of protocol version 2, still accepted)
 *   ack {id, rid, mids, auth}   mids: n × 16-byte message ids, 1 ≤ n ≤ MAX_ACK_BATCH, no id twice
 *
 * Authenticated with the queue's `rk` like the single form: one authenticator, one frame
 * and one answer for up to MAX_ACK_BATCH deliveries. The ids travel as one byte string of
 * fixed-size records, as fan-out entries do (fanout-frames.ts). The relay deletes all of
 * them or, when one is not in the queue, none (NotFoundError), as an `fadd` batch is all
 * or nothing.
 */
import { toHex } from './bytes.ts';
import { DecodeError, UsageError } from './errors.ts';

/** Most message ids one `ack` carries: the relay's default delivery window per queue. */
export const MAX_ACK_BATCH = 128;
const MID_BYTES = 16;

/** Concatenates 1 to MAX_ACK_BATCH distinct message ids for an `ack` frame's `mids`. */
export function packAckIds(mids: readonly Uint8Array[]): Uint8Array {
  if (mids.length < 1 || mids.length > MAX_ACK_BATCH)
    throw new UsageError(`an ack carries 1 to ${MAX_ACK_BATCH} message ids`);
  const out = new Uint8Array(mids.length * MID_BYTES);
  mids.forEach((mid, i) => {
    if (mid.length !== MID_BYTES) throw new UsageError('a message id is 16 bytes');
    out.set(mid, i * MID_BYTES);
  });
  splitAckIds(out); // the duplicate check
  return out;
}

/** The ids of an `ack` frame's `mids`; DecodeError unless 1 to MAX_ACK_BATCH distinct 16-byte ids. */
export function splitAckIds(packed: Uint8Array): Uint8Array[] {
  if (packed.length === 0 || packed.length % MID_BYTES !== 0)
    throw new DecodeError('mids must be whole 16-byte message ids');
  const n = packed.length / MID_BYTES;
  if (n > MAX_ACK_BATCH) throw new DecodeError(`an ack carries at most ${MAX_ACK_BATCH} message ids`);
  // One id (most acks of a fan-out's copies) cannot repeat itself.
  if (n === 1) return [packed];
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (let at = 0; at < packed.length; at += MID_BYTES) {
    const mid = packed.subarray(at, at + MID_BYTES);
    const key = toHex(mid);
    if (seen.has(key)) throw new DecodeError('the same message id twice in one ack');
    seen.add(key);
    out.push(mid);
  }
  return out;
}
