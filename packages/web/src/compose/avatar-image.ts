/**
 * A picture made into an avatar, the one piece of code for a person's (settings → 個人資料,
 * decision 0056) and a group's (the group's panel, decision 0066): drawn on a canvas at most
 * `maxSide` px a side and written as a JPEG of at most `maxBytes` (smaller sides and qualities
 * until it fits). The engine still checks the result (core avatarInfo with the same bounds).
 */
import { fitWithin } from './thumbnail.ts';

export interface AvatarBounds {
  maxBytes: number;
  maxSide: number;
}

/** A person's avatar: core MAX_AVATAR_BYTES, MAX_AVATAR_SIDE. */
export const PROFILE_AVATAR: AvatarBounds = { maxBytes: 48 * 1024, maxSide: 256 };
/** A group's picture, inside its signed state event: core GROUP_AVATAR_BOUNDS. */
export const GROUP_AVATAR: AvatarBounds = { maxBytes: 6 * 1024, maxSide: 128 };

const QUALITIES = [0.85, 0.7, 0.5];

/** The picture as a JPEG avatar: 'not-image' when the browser cannot decode it, 'too-large' when it never fits. */
export async function makeAvatar(
  file: Blob,
  bounds: AvatarBounds = PROFILE_AVATAR,
): Promise<Uint8Array | 'not-image' | 'too-large'> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    return 'not-image';
  }
  try {
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d');
    if (!ctx) return 'not-image';
    const s = bounds.maxSide;
    for (const side of [s, (s * 3) >> 2, s >> 1, (s * 3) >> 3]) {
      const size = fitWithin(bitmap.width, bitmap.height, side);
      canvas.width = size.width;
      canvas.height = size.height;
      ctx.fillStyle = '#fff';
      ctx.fillRect(0, 0, size.width, size.height);
      ctx.drawImage(bitmap, 0, 0, size.width, size.height);
      for (const quality of QUALITIES) {
        const blob = await new Promise<Blob | null>((r) => canvas.toBlob(r, 'image/jpeg', quality));
        if (blob && blob.type === 'image/jpeg' && blob.size <= bounds.maxBytes)
          return new Uint8Array(await blob.arrayBuffer());
      }
    }
    return 'too-large';
  } finally {
    bitmap.close();
  }
}

/** An object URL for avatar bytes (PNG by its magic byte, else JPEG); the caller revokes it. */
export function avatarObjectUrl(bytes: Uint8Array): string {
  const type = bytes[0] === 0x89 ? 'image/png' : 'image/jpeg';
  return URL.createObjectURL(new Blob([new Uint8Array(bytes)], { type }));
}
