// Photos from the terminal: the type from the bytes, the size from the header, the preview.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { GROUP_AVATAR_BOUNDS, avatarInfo } from '@parus/core';
import { imageSize, makeAvatar, makeThumbnail, sniffMime } from '../src/image.ts';

function rgba(width: number, height: number, alpha = 255): Buffer {
  const data = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    data[i * 4] = (i * 13) % 256;
    data[i * 4 + 1] = (i * 7) % 256;
    data[i * 4 + 2] = (i * 3) % 256;
    data[i * 4 + 3] = alpha;
  }
  return data;
}

const png = (w: number, h: number, alpha = 255): Uint8Array => {
  const image = new PNG({ width: w, height: h });
  image.data = rgba(w, h, alpha);
  return new Uint8Array(PNG.sync.write(image));
};
const jpg = (w: number, h: number): Uint8Array =>
  new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba(w, h) }, 90).data);
const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('sniffMime and imageSize', () => {
  it('names the common types by their first bytes, and nothing for plain bytes', () => {
    expect(sniffMime(png(3, 2))).toBe('image/png');
    expect(sniffMime(jpg(3, 2))).toBe('image/jpeg');
    expect(sniffMime(ascii('GIF89a\x05\x00\x03\x00'))).toBe('image/gif');
    expect(sniffMime(ascii('RIFF\x00\x00\x00\x00WEBPVP8 '))).toBe('image/webp');
    expect(sniffMime(ascii('\x00\x00\x00\x18ftypheic\x00\x00'))).toBe('image/heic');
    expect(sniffMime(ascii('%PDF-1.7\n'))).toBe('application/pdf');
    expect(sniffMime(ascii('hello, world'))).toBeUndefined();
    expect(sniffMime(new Uint8Array(0))).toBeUndefined();
  });

  it('reads width and height from PNG, JPEG and GIF headers; undefined for a cut header', () => {
    expect(imageSize(png(640, 480), 'image/png')).toEqual({ width: 640, height: 480 });
    expect(imageSize(jpg(33, 17), 'image/jpeg')).toEqual({ width: 33, height: 17 });
    expect(imageSize(ascii('GIF89a\x05\x00\x03\x00'), 'image/gif')).toEqual({ width: 5, height: 3 });
    expect(imageSize(jpg(33, 17).subarray(0, 20), 'image/jpeg')).toBeUndefined();
  });
});

describe('makeThumbnail', () => {
  it('makes a JPEG of at most 16 KB and 320 px with the photo’s shape, from a JPEG or a PNG', async () => {
    for (const [bytes, mime] of [
      [jpg(900, 300), 'image/jpeg'],
      [png(300, 600, 128), 'image/png'],
    ] as const) {
      const thumb = await makeThumbnail(bytes, mime);
      expect(thumb).toBeDefined();
      expect(thumb!.length).toBeLessThanOrEqual(16 * 1024);
      const { width, height } = jpeg.decode(thumb!);
      expect(Math.max(width, height)).toBeLessThanOrEqual(320);
      expect(Math.round((width / height) * 10) / 10).toBe(mime === 'image/jpeg' ? 3 : 0.5);
    }
  });

  it('makes none for a type it cannot decode or bytes that are not what they claim', async () => {
    expect(await makeThumbnail(ascii('GIF89a\x05\x00\x03\x00'), 'image/gif')).toBeUndefined();
    expect(await makeThumbnail(ascii('not a png at all, not at all'), 'image/png')).toBeUndefined();
    const cut = jpg(64, 64).subarray(0, 300);
    expect(await makeThumbnail(cut, 'image/jpeg')).toBeUndefined();
  });
});

describe('makeAvatar', () => {
  it('makes a JPEG or PNG an avatar the engine takes (≤ 256 px, ≤ 48 KiB); nothing for other files', async () => {
    for (const source of [png(900, 600), jpg(300, 1200), png(20, 10)]) {
      const avatar = (await makeAvatar(source))!;
      const info = avatarInfo(avatar);
      expect(info.type).toBe('jpeg');
      expect(Math.max(info.width, info.height)).toBeLessThanOrEqual(256);
    }
    expect(avatarInfo((await makeAvatar(png(900, 600)))!)).toMatchObject({ width: 256, height: 171 });
    expect(await makeAvatar(ascii('GIF89a not really'))).toBeUndefined();
    expect(await makeAvatar(ascii('plain text'))).toBeUndefined();
  });

  it('makes a group picture within the group bounds (≤ 128 px, ≤ 6 KiB, decision 0066), even from a noisy photo', async () => {
    for (const source of [png(900, 600), jpg(300, 1200), png(20, 10)]) {
      const avatar = (await makeAvatar(source, GROUP_AVATAR_BOUNDS))!;
      expect(avatar.length).toBeLessThanOrEqual(6 * 1024);
      const info = avatarInfo(avatar, GROUP_AVATAR_BOUNDS);
      expect(Math.max(info.width, info.height)).toBeLessThanOrEqual(128);
    }
    expect(avatarInfo((await makeAvatar(jpg(1200, 800), GROUP_AVATAR_BOUNDS))!).width).toBeLessThanOrEqual(
      128,
    );
    expect(await makeAvatar(ascii('GIF89a not really'), GROUP_AVATAR_BOUNDS)).toBeUndefined();
  });
});
