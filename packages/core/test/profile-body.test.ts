import { describe, expect, it } from 'vitest';
import {
  DecodeError,
  MAX_AVATAR_BYTES,
  QuotaError,
  UsageError,
  avatarInfo,
  decodeProfileBody,
  encodeProfileBody,
  imageInfo,
} from '../src/index.ts';

/** A PNG's signature and IHDR chunk (what the header check reads), then `extra` bytes. */
function png(width: number, height: number, extra = 16): Uint8Array {
  const b = new Uint8Array(33 + extra);
  b.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]);
  const v = new DataView(b.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  b.set([8, 6, 0, 0, 0], 24);
  return b;
}

/** A JPEG's SOI, an APP0 segment, then a baseline frame header (SOF0) of that size. */
function jpeg(width: number, height: number): Uint8Array {
  const app0 = [0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0];
  const sof = [0xff, 0xc0, 0x00, 0x11, 8, height >> 8, height & 255, width >> 8, width & 255, 3];
  return new Uint8Array([0xff, 0xd8, ...app0, 0xff, ...sof, ...new Array<number>(9).fill(1), 0xff, 0xd9]);
}

describe('profile body', () => {
  it('round-trips a name alone, and a name with a PNG or JPEG avatar', () => {
    expect(decodeProfileBody(encodeProfileBody({ name: '陳小明' }))).toEqual({ name: '陳小明' });
    for (const avatar of [png(256, 200), jpeg(120, 256)]) {
      const back = decodeProfileBody(encodeProfileBody({ name: 'Alice', avatar }));
      expect(back.name).toBe('Alice');
      expect(back.avatar).toEqual(avatar);
    }
    expect(imageInfo(png(3, 4))).toMatchObject({ type: 'png', width: 3, height: 4 });
    expect(imageInfo(jpeg(30, 40))).toMatchObject({ type: 'jpeg', width: 30, height: 40 });
  });

  it('refuses a bad name with UsageError when sending and DecodeError when receiving', () => {
    for (const name of ['', '   ', 'a\u202Eb', 'x\u0007', 'n'.repeat(65), ' Alice']) {
      expect(() => encodeProfileBody({ name })).toThrow(UsageError);
      expect(() => decodeProfileBody({ name })).toThrow(DecodeError);
    }
  });

  it('refuses an avatar that is not an image, or a broken header (DecodeError)', () => {
    const gif = new TextEncoder().encode('GIF89a\x01\x00\x01\x00');
    const truncatedJpeg = jpeg(10, 10).slice(0, 22);
    const scanFirst = new Uint8Array([0xff, 0xd8, 0xff, 0xda, 0, 4, 0, 0]);
    for (const avatar of [gif, new Uint8Array(100), truncatedJpeg, scanFirst, png(0, 10)]) {
      expect(() => avatarInfo(avatar)).toThrow(DecodeError);
      expect(() => encodeProfileBody({ name: 'Alice', avatar })).toThrow(DecodeError);
      expect(() => decodeProfileBody({ name: 'Alice', avatar })).toThrow(DecodeError);
    }
  });

  it('refuses an avatar too large in bytes or pixels (QuotaError), and unknown fields', () => {
    const heavy = png(64, 64, MAX_AVATAR_BYTES);
    expect(() => encodeProfileBody({ name: 'Alice', avatar: heavy })).toThrow(QuotaError);
    expect(() => decodeProfileBody({ name: 'Alice', avatar: heavy })).toThrow(DecodeError);
    for (const avatar of [png(257, 10), jpeg(10, 257), png(100_000, 100_000)]) {
      expect(() => encodeProfileBody({ name: 'Alice', avatar })).toThrow(QuotaError);
      expect(() => decodeProfileBody({ name: 'Alice', avatar })).toThrow(QuotaError);
    }
    expect(() => decodeProfileBody({ name: 'Alice', text: 'hi' })).toThrow(DecodeError);
    expect(() => decodeProfileBody({ name: 7 })).toThrow(DecodeError);
  });
});
