/**
 * Safety numbers (DESIGN.md "Fingerprints / safety numbers"), built the way Signal's are
 * (libsignal "NumericFingerprintGenerator"), with BLAKE2b-512 in place of SHA-512:
 *
 *   fingerprint(key) = H^5200 where H_0 = version (2 bytes) || key || stable id and
 *                      H_i = BLAKE2b-512(H_{i-1} || key); the iterations make finding a
 *                      key with a colliding number expensive.
 *   half(key)        = the first 30 bytes of fingerprint(key) as six 5-byte big-endian
 *                      numbers, each mod 100000 and written as 5 digits.
 *   safety number    = both halves, the lexicographically smaller identity key's first,
 *                      so both sides see the same 60 digits.
 *
 * The identity is the per-contact Ckp itself: there is no separate stable id (Signal's
 * phone number or ACI), so a fixed label takes its place and keeps these fingerprints
 * apart from any other iterated hash of the same key.
 *
 * The QR form carries more of each fingerprint (32 bytes) in the scanner's order: a
 * version byte, then the shower's fingerprint, then the scanner's.
 */
import { compareBytes, concatBytes, equalBytes, utf8 } from './bytes.ts';
import { SIGN_PUBLIC_BYTES, hash } from './crypto.ts';
import { DecodeError, ProtocolError, UsageError } from './errors.ts';

const FINGERPRINT_VERSION = new Uint8Array([0, 0]);
const STABLE_ID = utf8('parus-contact-identity');
const ITERATIONS = 5200;
const CHUNKS = 6;
const CHUNK_BYTES = 5;
const QR_FINGERPRINT_BYTES = 32;

export const SAFETY_NUMBER_DIGITS = 60;
export const SAFETY_QR_VERSION = 1;
export const SAFETY_QR_BYTES = 1 + 2 * QR_FINGERPRINT_BYTES;

function checkKey(key: Uint8Array, what: string): void {
  if (!(key instanceof Uint8Array) || key.length !== SIGN_PUBLIC_BYTES) {
    throw new UsageError(`${what} must be a ${SIGN_PUBLIC_BYTES}-byte Ed25519 public key`);
  }
}

function fingerprint(identityKey: Uint8Array): Uint8Array {
  let h = concatBytes(FINGERPRINT_VERSION, identityKey, STABLE_ID);
  for (let i = 0; i < ITERATIONS; i++) h = hash(concatBytes(h, identityKey), 64);
  return h;
}

function digits(fp: Uint8Array): string {
  let out = '';
  for (let c = 0; c < CHUNKS; c++) {
    let n = 0;
    for (let b = 0; b < CHUNK_BYTES; b++) n = n * 256 + fp[c * CHUNK_BYTES + b]!; // < 2^40, exact
    out += String(n % 100000).padStart(5, '0');
  }
  return out;
}

/** 60 digits, the same on both sides of the conversation. */
export function safetyNumber(ourIdentityKey: Uint8Array, theirIdentityKey: Uint8Array): string {
  checkKey(ourIdentityKey, 'our identity key');
  checkKey(theirIdentityKey, 'their identity key');
  const ours = digits(fingerprint(ourIdentityKey));
  const theirs = digits(fingerprint(theirIdentityKey));
  return compareBytes(ourIdentityKey, theirIdentityKey) <= 0 ? ours + theirs : theirs + ours;
}

/** "12345 67890 ..." : twelve groups of five digits. */
export function formatSafetyNumber(number: string): string {
  if (typeof number !== 'string' || !/^[0-9]{60}$/.test(number))
    throw new UsageError('a safety number is 60 digits');
  return number.match(/[0-9]{5}/g)!.join(' ');
}

/** What our QR code shows: version || our fingerprint || their fingerprint. */
export function safetyNumberQrPayload(ourKey: Uint8Array, theirKey: Uint8Array): Uint8Array {
  checkKey(ourKey, 'our identity key');
  checkKey(theirKey, 'their identity key');
  return concatBytes(
    new Uint8Array([SAFETY_QR_VERSION]),
    fingerprint(ourKey).subarray(0, QR_FINGERPRINT_BYTES),
    fingerprint(theirKey).subarray(0, QR_FINGERPRINT_BYTES),
  );
}

/**
 * Checks the peer's scanned QR payload: it must name their key then ours. False means the
 * keys differ (a warning for the user); DecodeError means it is not a safety-number QR
 * payload, ProtocolError that it comes from another version.
 */
export function compareSafetyNumberQr(
  scanned: Uint8Array,
  ourKey: Uint8Array,
  theirKey: Uint8Array,
): boolean {
  if (!(scanned instanceof Uint8Array) || scanned.length !== SAFETY_QR_BYTES) {
    throw new DecodeError(`a safety number QR payload is ${SAFETY_QR_BYTES} bytes`);
  }
  if (scanned[0] !== SAFETY_QR_VERSION) throw new ProtocolError('unknown safety number QR version');
  // The payload is public: a plain comparison is fine.
  return equalBytes(scanned, safetyNumberQrPayload(theirKey, ourKey));
}
