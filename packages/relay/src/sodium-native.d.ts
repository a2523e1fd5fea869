/** The part of sodium-native (libsodium's native Node build) the relay uses: delivery-seal.ts, command-auth.ts. */
declare module 'sodium-native' {
  interface SodiumNative {
    /** Writes ciphertext ‖ tag into `c`; returns the bytes written. */
    crypto_aead_xchacha20poly1305_ietf_encrypt(
      c: Uint8Array,
      m: Uint8Array,
      ad: Uint8Array | null,
      nsec: null,
      npub: Uint8Array,
      k: Uint8Array,
    ): number;
    /** Bytes of a SHA-256 state (crypto_hash_sha256_state). */
    crypto_hash_sha256_STATEBYTES: number;
    crypto_hash_sha256_init(state: Uint8Array): void;
    crypto_hash_sha256_update(state: Uint8Array, input: Uint8Array): void;
    crypto_hash_sha256_final(state: Uint8Array, out: Uint8Array): void;
    /** Constant-time equality of two arrays of the same length. */
    sodium_memcmp(a: Uint8Array, b: Uint8Array): boolean;
  }
  const sodium: SodiumNative;
  export default sodium;
}
