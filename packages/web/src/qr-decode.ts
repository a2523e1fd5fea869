/**
 * Reading a QR code from pixels, for adding a friend from an image file or the camera. The
 * decoder (jsQR, pure JavaScript, Apache-2.0; docs/dependencies.md) is imported on first
 * use only, so it costs the first screen nothing.
 */
export interface Pixels {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/** Large photos are scaled down first: decoding time grows with the pixel count. */
const MAX_SIDE = 1600;

export async function decodeQr(pixels: Pixels): Promise<string | undefined> {
  const { default: jsQR } = await import('jsqr');
  const found = jsQR(pixels.data, pixels.width, pixels.height, { inversionAttempts: 'attemptBoth' });
  return found?.data || undefined;
}

function pixelsOf(source: CanvasImageSource, width: number, height: number): Pixels {
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new Error('no 2d canvas');
  // A white ground: transparent pixels of a PNG read as black otherwise.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, w, h);
  ctx.drawImage(source, 0, 0, w, h);
  return ctx.getImageData(0, 0, w, h);
}

/** The pixels of an image file (PNG, JPEG, …); throws if the browser cannot read it. */
export async function pixelsFromFile(file: Blob): Promise<Pixels> {
  const bitmap = await createImageBitmap(file);
  try {
    return pixelsOf(bitmap, bitmap.width, bitmap.height);
  } finally {
    bitmap.close();
  }
}

/** The current frame of a playing video (the camera). */
export function pixelsFromVideo(video: HTMLVideoElement): Pixels | undefined {
  if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA || video.videoWidth === 0) return undefined;
  return pixelsOf(video, video.videoWidth, video.videoHeight);
}
