/** The part of sodium-native (libsodium's native Node build) the relay uses: delivery-seal.ts. */
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
  }
  const sodium: SodiumNative;
  export default sodium;
}
