/**
 * Photos sent from the terminal (docs/decisions/0043): the MIME type from the file's first
 * bytes (the extension only when they say nothing), its width and height from its header,
 * and the preview the web client shows in the bubble (DESIGN.md "Files and media": at most
 * 16 KB, as packages/web/src/compose/thumbnail.ts makes it in a browser). Without a native
 * image library: JPEG and PNG are decoded in JavaScript (jpeg-js, pngjs), scaled down by
 * averaging, and written as JPEG; other formats (GIF, WebP, HEIC…) go without a preview.
 */
import { MAX_THUMBNAIL_BYTES, PROFILE_AVATAR_BOUNDS, type AvatarBounds } from '@parus/core';

/** The type that the first bytes of a file announce, if they are one Parus knows. */
export function sniffMime(b: Uint8Array): string | undefined {
  const ascii = (from: number, to: number): string => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 8 && b[0] === 0x89 && ascii(1, 4) === 'PNG' && b[4] === 0x0d && b[5] === 0x0a)
    return 'image/png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b.length >= 6 && (ascii(0, 6) === 'GIF87a' || ascii(0, 6) === 'GIF89a')) return 'image/gif';
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'image/webp';
  if (b.length >= 12 && ascii(4, 8) === 'ftyp') {
    const brand = ascii(8, 12);
    if (brand === 'avif' || brand === 'avis') return 'image/avif';
    if (['heic', 'heix', 'hevc', 'heim', 'heis', 'mif1'].includes(brand)) return 'image/heic';
    if (brand === 'qt  ') return 'video/quicktime';
    return 'video/mp4';
  }
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d && b.length >= 26) return 'image/bmp';
  if (b.length >= 5 && ascii(0, 5) === '%PDF-') return 'application/pdf';
  if (b.length >= 4 && b[0] === 0x50 && b[1] === 0x4b && b[2] === 0x03 && b[3] === 0x04)
    return 'application/zip';
  return undefined;
}

/** Width and height from a PNG, JPEG, GIF or WebP header; undefined when it cannot be read. */
export function imageSize(b: Uint8Array, mime: string): { width: number; height: number } | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  try {
    if (mime === 'image/png' && b.length >= 24)
      return { width: view.getUint32(16), height: view.getUint32(20) };
    if (mime === 'image/gif' && b.length >= 10)
      return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
    if (mime === 'image/webp' && b.length >= 30) {
      const chunk = String.fromCharCode(...b.subarray(12, 16));
      if (chunk === 'VP8 ')
        return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
      if (chunk === 'VP8L') {
        const bits = view.getUint32(21, true);
        return { width: (bits & 0x3fff) + 1, height: ((bits >> 14) & 0x3fff) + 1 };
      }
      if (chunk === 'VP8X')
        return {
          width: 1 + (b[24]! | (b[25]! << 8) | (b[26]! << 16)),
          height: 1 + (b[27]! | (b[28]! << 8) | (b[29]! << 16)),
        };
    }
    if (mime === 'image/jpeg') {
      // The first start-of-frame marker (SOF0–SOF15 but DHT, JPG, DAC) holds the size.
      for (let i = 2; i + 9 < b.length; ) {
        if (b[i] !== 0xff) return undefined;
        const marker = b[i + 1]!;
        if (marker === 0xff) {
          i++;
          continue;
        }
        const length = view.getUint16(i + 2);
        if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc)
          return { width: view.getUint16(i + 7), height: view.getUint16(i + 5) };
        i += 2 + length;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Images larger than this many pixels are sent without a preview (decoding them takes too long). */
const MAX_DECODE_PIXELS = 50_000_000;
/** Longest side first tried, then smaller ones, and the JPEG qualities: as the web client. */
const SIDES = [320, 240, 160, 96];
const QUALITIES = [80, 60, 40];

/** RGBA pixels of a JPEG or PNG, or undefined when it is neither or cannot be decoded. */
async function decode(
  bytes: Uint8Array,
  mime: string,
): Promise<{ width: number; height: number; data: Uint8Array } | undefined> {
  const size = imageSize(bytes, mime);
  if (!size || size.width * size.height > MAX_DECODE_PIXELS || size.width === 0 || size.height === 0)
    return undefined;
  try {
    if (mime === 'image/jpeg') {
      const jpeg = await import('jpeg-js');
      return jpeg.decode(bytes, { useTArray: true, maxResolutionInMP: 50, maxMemoryUsageInMB: 512 });
    }
    if (mime === 'image/png') {
      const { PNG } = await import('pngjs');
      return PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Scales RGBA pixels down to width × height by averaging, over white (JPEG has no alpha). */
function shrink(
  src: { width: number; height: number; data: Uint8Array },
  width: number,
  height: number,
): Uint8Array {
  const sums = new Float64Array(width * height * 3);
  const counts = new Uint32Array(width * height);
  for (let y = 0; y < src.height; y++) {
    const ty = Math.min(height - 1, Math.floor((y * height) / src.height));
    for (let x = 0; x < src.width; x++) {
      const tx = Math.min(width - 1, Math.floor((x * width) / src.width));
      const s = (y * src.width + x) * 4;
      const t = ty * width + tx;
      const a = src.data[s + 3]! / 255;
      const white = 255 * (1 - a);
      for (let c = 0; c < 3; c++) sums[t * 3 + c] = sums[t * 3 + c]! + src.data[s + c]! * a + white;
      counts[t]!++;
    }
  }
  const out = new Uint8Array(width * height * 4);
  for (let t = 0; t < width * height; t++) {
    const n = Math.max(1, counts[t]!);
    out[t * 4] = Math.round(sums[t * 3]! / n);
    out[t * 4 + 1] = Math.round(sums[t * 3 + 1]! / n);
    out[t * 4 + 2] = Math.round(sums[t * 3 + 2]! / n);
    out[t * 4 + 3] = 255;
  }
  return out;
}

/** The width and height that fit `side` while keeping the aspect ratio (never enlarged). */
export function fitWithin(width: number, height: number, side: number): { width: number; height: number } {
  const scale = Math.min(1, side / Math.max(width, height, 1));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/** The image as a JPEG within the first of `sides` (and quality) that fits `maxBytes`. */
async function smallJpeg(
  image: { width: number; height: number; data: Uint8Array },
  sides: readonly number[],
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const jpeg = await import('jpeg-js');
  for (const side of sides) {
    const size = fitWithin(image.width, image.height, side);
    const data = shrink(image, size.width, size.height);
    for (const quality of QUALITIES) {
      const encoded = jpeg.encode({ width: size.width, height: size.height, data }, quality).data;
      if (encoded.length <= maxBytes) return new Uint8Array(encoded);
    }
  }
  return undefined;
}

/** A JPEG preview of at most 16 KB for a JPEG or PNG photo; undefined for anything else. */
export async function makeThumbnail(bytes: Uint8Array, mime: string): Promise<Uint8Array | undefined> {
  const image = await decode(bytes, mime);
  if (!image) return undefined;
  return smallJpeg(image, SIDES, MAX_THUMBNAIL_BYTES);
}

/**
 * An avatar from a JPEG or PNG file: a JPEG within the bounds, a profile's by default (decision
 * 0056: 256 px, 48 KiB), a group's when given (decision 0066: 128 px, 6 KiB); smaller sides are
 * tried when the largest does not fit. Undefined when the file is not a JPEG or PNG that decodes.
 */
export async function makeAvatar(
  bytes: Uint8Array,
  bounds: AvatarBounds = PROFILE_AVATAR_BOUNDS,
): Promise<Uint8Array | undefined> {
  const mime = sniffMime(bytes);
  if (mime !== 'image/jpeg' && mime !== 'image/png') return undefined;
  const image = await decode(bytes, mime);
  if (!image) return undefined;
  const side = bounds.maxSide;
  return smallJpeg(image, [side, (side * 3) >> 2, side >> 1, (side * 3) >> 3], bounds.maxBytes);
}
