/**
 * The preview that travels inside a photo message (DESIGN.md "Files and media": at most
 * 16 KB, made by the sender's UI so that the friend sees something before downloading).
 * Drawn on a canvas at a shrinking size and quality until it fits: WebP where the browser
 * encodes it, JPEG otherwise. Returns undefined for an image the browser cannot decode,
 * so the photo is still sent, only without a preview.
 */
export const THUMBNAIL_MAX_BYTES = 16 * 1024;

/** Longest side first tried, then smaller ones. */
const SIDES = [320, 240, 160, 96];
const QUALITIES = [0.8, 0.6, 0.4];

export function isImage(mime: string): boolean {
  return /^image\/(png|jpeg|gif|webp|avif|bmp)$/.test(mime);
}

/** The width and height that fit `side` while keeping the aspect ratio (never enlarged). */
export function fitWithin(width: number, height: number, side: number): { width: number; height: number } {
  const scale = Math.min(1, side / Math.max(width, height, 1));
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

function encode(canvas: HTMLCanvasElement, type: string, quality: number): Promise<Blob | null> {
  return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
}

export async function makeThumbnail(file: Blob): Promise<Uint8Array | undefined> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return undefined;
  }
  try {
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d');
    if (!ctx) return undefined;
    for (const side of SIDES) {
      const size = fitWithin(bitmap.width, bitmap.height, side);
      canvas.width = size.width;
      canvas.height = size.height;
      // JPEG has no transparency: a white ground, as the bubble is light in most themes.
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, size.width, size.height);
      ctx.drawImage(bitmap, 0, 0, size.width, size.height);
      for (const quality of QUALITIES) {
        for (const type of ['image/webp', 'image/jpeg']) {
          const blob = await encode(canvas, type, quality);
          // toBlob falls back to PNG for a type it cannot write: only take what was asked.
          if (blob && blob.type === type && blob.size <= THUMBNAIL_MAX_BYTES)
            return new Uint8Array(await blob.arrayBuffer());
        }
      }
    }
    return undefined;
  } finally {
    bitmap.close();
  }
}

/** "1.2 MB", "340 KB", "12 B": sizes as file managers show them. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
