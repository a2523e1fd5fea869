/**
 * The body of a `profile` envelope (docs/decisions/0056): the display name and avatar a person
 * shows to their contacts, sent end to end in each contact's 1:1 session and to their own
 * devices. Never a message of the conversation, never shown as chat text.
 *
 *   profile  {name, avatar?: bytes}    name: the one name rule (display-text.ts), 1..64
 *                                      avatar: a JPEG or PNG, at most 48 KiB and 256×256
 *
 * The avatar is checked by its magic bytes and the dimensions in its header (PNG IHDR, JPEG
 * SOFn); nothing else of the image is decoded here (no I/O, no image library in core). UIs draw
 * it with the platform's decoder, which sees at most 48 KiB from a contact.
 */
import { asBytes, asMap, asText, type CborMap, type CborValue } from './cbor.ts';
import { nameFault } from './display-text.ts';
import { DecodeError, QuotaError, UsageError } from './errors.ts';

export const MAX_PROFILE_NAME_CHARS = 64;
export const MAX_AVATAR_BYTES = 48 * 1024;
/** The largest width and height of an avatar, in pixels. */
export const MAX_AVATAR_SIDE = 256;

export interface ProfileBody {
  name: string;
  /** A JPEG or PNG image (see avatarInfo). */
  avatar?: Uint8Array;
}

export interface ImageInfo {
  type: 'jpeg' | 'png';
  mime: 'image/jpeg' | 'image/png';
  width: number;
  height: number;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

function u16(b: Uint8Array, i: number): number {
  return (b[i]! << 8) | b[i + 1]!;
}
function u32(b: Uint8Array, i: number): number {
  return ((b[i]! << 24) >>> 0) + (b[i + 1]! << 16) + (b[i + 2]! << 8) + b[i + 3]!;
}

function pngInfo(b: Uint8Array): ImageInfo | undefined {
  if (b.length < 33 || !PNG_MAGIC.every((x, i) => b[i] === x)) return undefined;
  // The first chunk is IHDR, 13 bytes: width, height (big-endian), then depth and so on.
  if (u32(b, 8) !== 13 || String.fromCharCode(b[12]!, b[13]!, b[14]!, b[15]!) !== 'IHDR') return undefined;
  return { type: 'png', mime: 'image/png', width: u32(b, 16), height: u32(b, 20) };
}

/** The start-of-frame markers (SOF0..SOF15 without DHT C4, JPG C8 and DAC CC) hold the size. */
function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

function jpegInfo(b: Uint8Array): ImageInfo | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let i = 2;
  while (i + 3 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const m = b[i + 1]!;
    if (m === 0xff) {
      i++; // fill byte
      continue;
    }
    if (m === 0x01 || (m >= 0xd0 && m <= 0xd7)) {
      i += 2; // markers without a length
      continue;
    }
    if (m === 0xd9 || m === 0xda) return undefined; // end or scan before any frame header
    const len = u16(b, i + 2);
    if (len < 2) return undefined;
    if (isSof(m)) {
      if (len < 7 || i + 9 > b.length) return undefined;
      return { type: 'jpeg', mime: 'image/jpeg', height: u16(b, i + 5), width: u16(b, i + 7) };
    }
    i += 2 + len;
  }
  return undefined;
}

/** The type and size of a JPEG or PNG image from its header, or undefined when it is neither. */
export function imageInfo(bytes: Uint8Array): ImageInfo | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined;
  return pngInfo(bytes) ?? jpegInfo(bytes);
}

/** The bounds of one kind of avatar: a person's (here) or a group's (group-event.ts, decision 0066). */
export interface AvatarBounds {
  maxBytes: number;
  maxSide: number;
}

export const PROFILE_AVATAR_BOUNDS: AvatarBounds = Object.freeze({
  maxBytes: MAX_AVATAR_BYTES,
  maxSide: MAX_AVATAR_SIDE,
});

/**
 * Checks an avatar: DecodeError when it is not a JPEG or PNG (or its header is broken),
 * QuotaError when it is larger than the bounds' bytes or pixels a side (by default a profile's:
 * MAX_AVATAR_BYTES, MAX_AVATAR_SIDE). The one check of both kinds of avatar.
 */
export function avatarInfo(bytes: Uint8Array, bounds: AvatarBounds = PROFILE_AVATAR_BOUNDS): ImageInfo {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('avatar must be bytes');
  if (bytes.length > bounds.maxBytes) throw new QuotaError(`avatar larger than ${bounds.maxBytes} bytes`);
  const info = imageInfo(bytes);
  if (!info || info.width < 1 || info.height < 1) throw new DecodeError('avatar is not a JPEG or PNG image');
  if (info.width > bounds.maxSide || info.height > bounds.maxSide)
    throw new QuotaError(`avatar larger than ${bounds.maxSide}×${bounds.maxSide} pixels`);
  return info;
}

/** UsageError for a bad name; avatarInfo's errors for a bad avatar. */
export function encodeProfileBody(b: ProfileBody): CborMap {
  const fault = nameFault(b.name, MAX_PROFILE_NAME_CHARS);
  if (fault !== undefined) throw new UsageError(`name ${fault}`);
  if (b.name.trim() !== b.name) throw new UsageError('name has spaces at the ends');
  const m: CborMap = { name: b.name };
  if (b.avatar !== undefined) {
    avatarInfo(b.avatar);
    m.avatar = b.avatar;
  }
  return m;
}

/** Strict: known fields only, a name by the one name rule, an avatar as avatarInfo checks it. */
export function decodeProfileBody(body: CborValue): ProfileBody {
  const m = asMap(body, 'profile body');
  for (const k of Object.keys(m))
    if (k !== 'name' && k !== 'avatar') throw new DecodeError('profile body has unknown fields');
  const name = asText(m.name, 'name', MAX_PROFILE_NAME_CHARS * 2);
  const fault = nameFault(name, MAX_PROFILE_NAME_CHARS);
  if (fault !== undefined || name.trim() !== name) throw new DecodeError('profile name is malformed');
  const out: ProfileBody = { name };
  if (m.avatar !== undefined) {
    const avatar = asBytes(m.avatar, 'avatar', { max: MAX_AVATAR_BYTES });
    avatarInfo(avatar);
    out.avatar = avatar;
  }
  return out;
}
