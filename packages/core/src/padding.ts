/**
 * Size buckets for encrypted messages (DESIGN.md "Messages": "padded to size buckets"), so
 * a relay or an observer learns a message's size class, not its length. ISO/IEC 7816-4
 * padding: one 0x80 byte, then zeros up to the smallest bucket that holds the content
 * plus that marker byte. The client pads the encoded envelope before ratchet encryption,
 * so the padding is authenticated and unpad needs no constant-time care.
 */
import { DecodeError, QuotaError, UsageError } from './errors.ts';

/** 256 B, 512 B, 1 KiB ... 128 KiB. */
export const PAD_BUCKETS: readonly number[] = Array.from({ length: 10 }, (_, i) => 256 << i);
export const MAX_PADDED_BYTES = 128 * 1024;
/** The largest content that can be padded: one byte goes to the 0x80 marker. */
export const MAX_UNPADDED_BYTES = MAX_PADDED_BYTES - 1;

const MARKER = 0x80;

export function padToBucket(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new UsageError('padToBucket needs bytes');
  const bucket = PAD_BUCKETS.find((size) => size > bytes.length);
  if (bucket === undefined) throw new QuotaError(`message larger than ${MAX_UNPADDED_BYTES} bytes`);
  const out = new Uint8Array(bucket);
  out.set(bytes, 0);
  out[bytes.length] = MARKER;
  return out;
}

/**
 * Strips the padding. The length must be one of the buckets (not necessarily the smallest
 * that fits, so a sender may pad further); then zeros back to a 0x80 marker.
 */
export function unpad(bytes: Uint8Array): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('padded message must be bytes');
  if (!PAD_BUCKETS.includes(bytes.length)) throw new DecodeError('padded message is not a bucket size');
  let i = bytes.length - 1;
  while (i >= 0 && bytes[i] === 0) i--;
  if (i < 0 || bytes[i] !== MARKER) throw new DecodeError('bad padding');
  return bytes.slice(0, i);
}
