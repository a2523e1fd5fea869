/**
 * Coalesced answers (docs/decisions/0064): one relay frame for the plain `ok`s of several
 * commands of one connection, answered in the same event-loop turn.
 *
 *   ok  {id}          one command (every client understands it)
 *   oks {ids}         ids: n × 4-byte big-endian request ids, 2 ≤ n ≤ MAX_OK_BATCH, strictly ascending
 *
 * Only for a client whose `hello` asked for it (`oks: 1`): a client that does not know the
 * frame would drop it and time out every command it answers, and so would an old browser
 * bundle still in a cache. A request id of 2^32 or more is answered by a plain `ok`. The ids
 * travel as one byte string of fixed-size records, as batched acks do (ack-batch.ts); strictly
 * ascending makes the one encoding of a set of ids, with no id twice.
 */
import { DecodeError, UsageError } from './errors.ts';

/** Most ids one `oks` carries; a relay with more answers for a turn sends several. */
export const MAX_OK_BATCH = 256;
const ID_BYTES = 4;
/** Request ids an `oks` can carry: below 2^32. */
export const MAX_OK_BATCH_ID = 0xffffffff;

/** The `ids` of an `oks` frame: 2 to MAX_OK_BATCH strictly ascending request ids below 2^32. */
export function packOkIds(ids: readonly number[]): Uint8Array {
  if (ids.length < 2 || ids.length > MAX_OK_BATCH)
    throw new UsageError(`an oks carries 2 to ${MAX_OK_BATCH} request ids`);
  const out = new Uint8Array(ids.length * ID_BYTES);
  writeOkIds(ids, out, 0);
  return out;
}

/**
 * Writes `ids` (checked as packOkIds does, apart from their count) into `out` from `at`:
 * the relay lays an `oks` frame out directly.
 */
export function writeOkIds(ids: readonly number[], out: Uint8Array, at: number): void {
  let previous = -1;
  for (const id of ids) {
    if (!Number.isInteger(id) || id <= previous || id > MAX_OK_BATCH_ID)
      throw new UsageError('oks ids must be strictly ascending integers below 2^32');
    out[at] = id >>> 24;
    out[at + 1] = (id >>> 16) & 0xff;
    out[at + 2] = (id >>> 8) & 0xff;
    out[at + 3] = id & 0xff;
    at += ID_BYTES;
    previous = id;
  }
}

/** The request ids of an `oks` frame's `ids`; DecodeError unless as packOkIds makes them. */
export function splitOkIds(packed: Uint8Array): number[] {
  if (packed.length % ID_BYTES !== 0) throw new DecodeError('oks ids must be whole 4-byte request ids');
  const n = packed.length / ID_BYTES;
  if (n < 2 || n > MAX_OK_BATCH) throw new DecodeError(`an oks carries 2 to ${MAX_OK_BATCH} request ids`);
  const out: number[] = [];
  let previous = -1;
  for (let at = 0; at < packed.length; at += ID_BYTES) {
    const id = packed[at]! * 0x1000000 + ((packed[at + 1]! << 16) | (packed[at + 2]! << 8) | packed[at + 3]!);
    if (id <= previous) throw new DecodeError('oks ids must be strictly ascending');
    out.push(id);
    previous = id;
  }
  return out;
}
