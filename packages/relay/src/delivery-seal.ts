/**
 * The relay's per-queue seal of a delivery, on libsodium's native build (sodium-native).
 *
 * Every copy a relay hands out is sealed under its queue's key, so that the copies of one
 * upload, and an upload and its deliveries, share no bytes on the wire (DESIGN.md "Relays";
 * core relay-protocol.ts sealDelivery). The construction is core's, byte for byte:
 *
 *     nonce ‖ XChaCha20-Poly1305-IETF(key, plaintext, ad = mid)
 *
 * (libsodium `crypto_aead_xchacha20poly1305_ietf_encrypt`; draft-irtf-cfrg-xchacha). Core
 * runs libsodium as WebAssembly so that the same code runs in browsers; there, each call
 * copies its inputs into the module's heap and its output out again, and at 100,000 copies
 * a second those copies and the short-lived buffers they leave behind were a fifth of the
 * relay's fan-out time (docs/BENCHMARKS.md "Group fan-out"). The relay runs on Node only,
 * so its hot path calls the same libsodium compiled natively and writes the ciphertext
 * straight into its output. Tests check the bytes against core's seal and open them with
 * core's openDelivery.
 *
 * This is the relay's only other import of libsodium; everything else goes through core.
 */
import sodium from 'sodium-native';
import { UsageError } from '@parus/core';
import { deliverySlab } from './byte-slab.ts';

export const DELIVERY_NONCE_BYTES = 24;
const KEY_BYTES = 32;
const TAG_BYTES = 16;

/**
 * nonce ‖ XChaCha20-Poly1305(key, plaintext, ad = mid), as core sealDeliveryPlaintext makes
 * it, in an array of the relay's slab (byte-slab.ts): every byte of it is written here.
 */
export function sealDeliveryNative(
  key: Uint8Array,
  nonce: Uint8Array,
  mid: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  if (key.length !== KEY_BYTES) throw new UsageError('delivery key must be 32 bytes');
  if (nonce.length !== DELIVERY_NONCE_BYTES) throw new UsageError('nonce must be 24 bytes');
  const out = deliverySlab.take(DELIVERY_NONCE_BYTES + plaintext.length + TAG_BYTES);
  out.set(nonce, 0);
  const written = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
    out.subarray(DELIVERY_NONCE_BYTES),
    plaintext,
    mid,
    null,
    nonce,
    key,
  );
  if (written !== plaintext.length + TAG_BYTES) throw new UsageError('seal wrote an unexpected length');
  return out;
}
