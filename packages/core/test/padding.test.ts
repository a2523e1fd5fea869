import { describe, expect, it } from 'vitest';
import { equalBytes } from '../src/bytes.ts';
import { DecodeError, QuotaError } from '../src/errors.ts';
import { MAX_PADDED_BYTES, MAX_UNPADDED_BYTES, PAD_BUCKETS, padToBucket, unpad } from '../src/padding.ts';

function content(length: number): Uint8Array {
  // Ends in 0x80 and zeros where it can, the worst case for an unpadder.
  const out = new Uint8Array(length).map((_, i) => (i * 7 + 1) & 0xff);
  if (length >= 2) {
    out[length - 2] = 0x80;
    out[length - 1] = 0;
  }
  return out;
}

describe('padding', () => {
  it('has the ten buckets from 256 B to 128 KiB', () => {
    expect(PAD_BUCKETS).toEqual([256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]);
    expect(MAX_PADDED_BYTES).toBe(131072);
  });

  it('pads to the smallest bucket that holds content + marker, at every boundary', () => {
    expect(padToBucket(new Uint8Array(0))).toHaveLength(256);
    let previous = 0;
    for (const bucket of PAD_BUCKETS) {
      for (const length of [previous, previous + 1, bucket - 2, bucket - 1]) {
        if (length < 0 || length > MAX_UNPADDED_BYTES) continue;
        const data = content(length);
        const padded = padToBucket(data);
        expect(padded.length, `length ${length}`).toBe(bucket);
        expect(padded[length]).toBe(0x80);
        expect(equalBytes(unpad(padded), data)).toBe(true);
      }
      // Exactly a bucket's size no longer fits with its marker: next bucket (or too big).
      if (bucket < MAX_PADDED_BYTES) expect(padToBucket(content(bucket))).toHaveLength(bucket * 2);
      previous = bucket;
    }
  });

  it('refuses content over 128 KiB - 1 with QuotaError', () => {
    expect(padToBucket(new Uint8Array(MAX_UNPADDED_BYTES))).toHaveLength(MAX_PADDED_BYTES);
    expect(() => padToBucket(new Uint8Array(MAX_PADDED_BYTES))).toThrow(QuotaError);
    expect(() => padToBucket(new Uint8Array(MAX_PADDED_BYTES * 2))).toThrow(QuotaError);
  });

  it('accepts padding to a larger bucket than needed', () => {
    const padded = new Uint8Array(1024);
    padded.set([1, 2, 3, 0x80]);
    expect(unpad(padded)).toEqual(new Uint8Array([1, 2, 3]));
  });

  it('refuses bad padding with DecodeError', () => {
    const good = padToBucket(new Uint8Array([1, 2, 3]));
    const noMarker = good.slice();
    noMarker[3] = 0;
    const wrongMarker = good.slice();
    wrongMarker[3] = 0x81;
    const junkAfter = good.slice();
    junkAfter[200] = 1;
    for (const bad of [
      new Uint8Array(0),
      new Uint8Array(256),
      noMarker,
      wrongMarker,
      good.subarray(0, 255),
      new Uint8Array([...good, 0]),
      new Uint8Array(300),
      new Uint8Array(MAX_PADDED_BYTES * 2),
    ]) {
      expect(() => unpad(bad)).toThrow(DecodeError);
    }
    // A trailing non-zero byte is not padding at all unless it is the marker.
    expect(() => unpad(junkAfter)).toThrow(DecodeError);
    expect(() => unpad(new Uint8Array(256).fill(7))).toThrow(DecodeError);
  });
});
