// Batched acks (ack-batch.ts): the ids' byte string round trip, and every malformed form
// refused with a typed error, alone and inside an `ack` frame.
import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  MAX_ACK_BATCH,
  UsageError,
  decodeClientFrame,
  encodeCbor,
  encodeFrame,
  packAckIds,
  splitAckIds,
  systemRandom,
} from '../src/index.ts';
import type { AckFrame } from '../src/index.ts';

const ids = (n: number): Uint8Array[] => Array.from({ length: n }, () => systemRandom.bytes(16));

describe('batched ack ids', () => {
  it('round-trips 1 to MAX_ACK_BATCH ids, alone and in an ack frame', () => {
    for (const n of [1, 2, MAX_ACK_BATCH]) {
      const mids = ids(n);
      const packed = packAckIds(mids);
      expect(packed.length).toBe(16 * n);
      expect(splitAckIds(packed)).toEqual(mids);
      const frame: AckFrame = {
        t: 'ack',
        id: 9,
        rid: systemRandom.bytes(24),
        mids: packed,
        auth: new Uint8Array(32),
      };
      expect(decodeClientFrame(encodeFrame(frame))).toEqual(frame);
    }
    const single: AckFrame = {
      t: 'ack',
      id: 1,
      rid: systemRandom.bytes(24),
      mid: ids(1)[0]!,
      auth: new Uint8Array(32),
    };
    expect(decodeClientFrame(encodeFrame(single))).toEqual(single);
  });

  it('refuses no ids, too many, a truncated id and an id twice', () => {
    expect(() => packAckIds([])).toThrow(UsageError);
    expect(() => packAckIds(ids(MAX_ACK_BATCH + 1))).toThrow(UsageError);
    expect(() => packAckIds([new Uint8Array(15)])).toThrow(UsageError);
    const [a] = ids(1);
    expect(() => packAckIds([a!, a!])).toThrow(DecodeError);
    expect(() => splitAckIds(new Uint8Array(0))).toThrow(DecodeError);
    expect(() => splitAckIds(new Uint8Array(17))).toThrow(DecodeError);
    const tooMany = new Uint8Array(16 * (MAX_ACK_BATCH + 1));
    tooMany.forEach((_, i) => (tooMany[i] = (i * 7) & 0xff));
    expect(() => splitAckIds(tooMany)).toThrow(DecodeError);
  });

  it('refuses an ack frame with both forms, neither, or mangled ids', () => {
    const base = { t: 'ack', id: 3, rid: systemRandom.bytes(24), auth: new Uint8Array(32) };
    const mids = packAckIds(ids(3));
    expect(() => decodeClientFrame(encodeCbor({ ...base, mid: ids(1)[0]!, mids }))).toThrow(DecodeError);
    expect(() => decodeClientFrame(encodeCbor(base))).toThrow(DecodeError);
    expect(() => decodeClientFrame(encodeCbor({ ...base, mids: mids.subarray(0, 40) }))).toThrow(DecodeError);
    const twice = new Uint8Array(32);
    twice.set(mids.subarray(0, 16), 0);
    twice.set(mids.subarray(0, 16), 16);
    expect(() => decodeClientFrame(encodeCbor({ ...base, mids: twice }))).toThrow(DecodeError);
    expect(() =>
      decodeClientFrame(encodeCbor({ ...base, mids: new Uint8Array(16 * (MAX_ACK_BATCH + 1)) })),
    ).toThrow(DecodeError);
    expect(() => decodeClientFrame(encodeCbor({ ...base, mids: 'x' }))).toThrow(DecodeError);
  });
});
