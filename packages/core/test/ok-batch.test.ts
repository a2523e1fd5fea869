// Coalesced answers (ok-batch.ts, decision 0064): the `oks` frame's ids round trip, the frame laid
// out byte for byte as the generic encoder would, the hello's opt-in, and every malformed form
// refused with a typed error.
import { describe, expect, it } from 'vitest';
import {
  CHALLENGE_BYTES,
  DecodeError,
  MAX_OK_BATCH,
  RELAY_PROTOCOL_VERSION,
  UsageError,
  decodeClientFrame,
  decodeRelayFrame,
  encodeCbor,
  encodeFrame,
  fitsOks,
  packOkIds,
  splitOkIds,
  toHex,
} from '../src/index.ts';

const ascending = (n: number, from = 0, step = 1): number[] =>
  Array.from({ length: n }, (_, i) => from + i * step);

describe('coalesced oks', () => {
  it('round-trips 2 to MAX_OK_BATCH ids of every size, laid out as encodeCbor lays them out', () => {
    const sets = [
      [0, 1],
      [23, 24, 255, 256, 65_535, 65_536, 0xffffffff],
      ascending(5, 1_000, 3), // a byte string of 20: the one-byte head
      ascending(6), // 24 bytes: the first length with its own byte
      ascending(64), // 256 bytes: a two-byte length
      ascending(MAX_OK_BATCH, 7, 11),
    ];
    for (const ids of sets) {
      const packed = packOkIds(ids);
      expect(splitOkIds(packed)).toEqual(ids);
      const bytes = encodeFrame({ t: 'oks', ids });
      expect(toHex(bytes)).toBe(toHex(encodeCbor({ t: 'oks', ids: packed })));
      expect(decodeRelayFrame(bytes)).toEqual({ t: 'oks', ids });
    }
  });

  it('refuses fewer than two ids, too many, ids out of order or twice, and ids of 2^32 or more', () => {
    expect(() => packOkIds([])).toThrow(UsageError);
    expect(() => packOkIds([5])).toThrow(UsageError);
    expect(() => packOkIds(ascending(MAX_OK_BATCH + 1))).toThrow(UsageError);
    expect(() => packOkIds([3, 2])).toThrow(UsageError);
    expect(() => packOkIds([3, 3])).toThrow(UsageError);
    expect(() => packOkIds([1, 2 ** 32])).toThrow(UsageError);
    expect(() => packOkIds([-1, 2])).toThrow(UsageError);
    expect(() => packOkIds([1, 2.5])).toThrow(UsageError);
    expect(() => encodeFrame({ t: 'oks', ids: [1] })).toThrow(UsageError);
    expect(() => encodeFrame({ t: 'oks', ids: [2, 1] })).toThrow(UsageError);
    expect(fitsOks(0xffffffff)).toBe(true);
    expect(fitsOks(2 ** 32)).toBe(false);
    expect(fitsOks(-1)).toBe(false);

    const ok = packOkIds([1, 2, 3]);
    expect(() => splitOkIds(new Uint8Array(0))).toThrow(DecodeError);
    expect(() => splitOkIds(ok.subarray(0, 4))).toThrow(DecodeError); // one id: that is an ok
    expect(() => splitOkIds(ok.subarray(0, 7))).toThrow(DecodeError);
    expect(() => splitOkIds(Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 1))).toThrow(DecodeError);
    expect(() => splitOkIds(Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 2))).toThrow(DecodeError);
    const tooMany = new Uint8Array(4 * (MAX_OK_BATCH + 1));
    for (let i = 0; i <= MAX_OK_BATCH; i++) tooMany[4 * i + 3] = i;
    expect(() => splitOkIds(tooMany)).toThrow(DecodeError);
  });

  it('refuses an oks frame with ids missing, of another type, too long or mangled', () => {
    expect(() => decodeRelayFrame(encodeCbor({ t: 'oks' }))).toThrow(DecodeError);
    expect(() => decodeRelayFrame(encodeCbor({ t: 'oks', ids: [1, 2] }))).toThrow(DecodeError);
    expect(() => decodeRelayFrame(encodeCbor({ t: 'oks', ids: 'x' }))).toThrow(DecodeError);
    expect(() =>
      decodeRelayFrame(encodeCbor({ t: 'oks', ids: new Uint8Array(4 * MAX_OK_BATCH + 4) })),
    ).toThrow(DecodeError);
    expect(() => decodeRelayFrame(encodeCbor({ t: 'oks', ids: Uint8Array.of(0, 0, 0, 1, 0, 0) }))).toThrow(
      DecodeError,
    );
    // Cut anywhere, the laid-out frame no longer decodes.
    const bytes = encodeFrame({ t: 'oks', ids: [1, 2, 3] });
    for (let cut = 0; cut < bytes.length; cut++)
      expect(() => decodeRelayFrame(bytes.subarray(0, cut))).toThrow(DecodeError);
  });

  it('carries the opt-in in hello: 1 or 0 round-trips, anything else is refused, absent stays absent', () => {
    const challenge = new Uint8Array(CHALLENGE_BYTES).fill(7);
    const plain = { t: 'hello' as const, v: RELAY_PROTOCOL_VERSION, challenge };
    expect(decodeClientFrame(encodeFrame(plain))).toEqual(plain);
    for (const oks of [0, 1])
      expect(decodeClientFrame(encodeFrame({ ...plain, oks }))).toEqual({ ...plain, oks });
    expect(() => decodeClientFrame(encodeCbor({ ...plain, oks: 2 }))).toThrow(DecodeError);
    expect(() => decodeClientFrame(encodeCbor({ ...plain, oks: 'yes' }))).toThrow(DecodeError);
  });
});
