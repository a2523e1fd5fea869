/**
 * The one place libsodium is imported. Every other module uses these named operations,
 * so the primitives Parus relies on are listed here and nowhere else:
 *
 * - Ed25519 signatures (RFC 8032)            sign / verify
 * - X25519 Diffie-Hellman (RFC 7748)          dh
 * - XChaCha20-Poly1305 AEAD (draft-irtf-cfrg-xchacha)  seal / open
 * - BLAKE2b (RFC 7693)                         hash
 * - HMAC-SHA-256 (RFC 2104) and HKDF (RFC 5869) built on it   hmacSha256 / hkdf
 * - Argon2id (RFC 9106)                        argon2id
 * - X-Wing hybrid KEM (draft-connolly-cfrg-xwing-kem), ML-KEM-768 (FIPS 203)
 * - libsodium's secretstream (XChaCha20-Poly1305 in chunks)  openSecretStream / secretStreamPush / secretStreamPull
 * - BLAKE2b over a stream of pieces                           createHasher
 * - libsodium's sealed box (X25519 + XSalsa20-Poly1305)       sealToPublicKey / openSealedBox
 *
 * Call `initCrypto()` once (it awaits libsodium's WebAssembly) before anything else.
 * Randomness is never taken implicitly: functions that need it receive a `Random`.
 */
import sodium from 'libsodium-wrappers-sumo';
import type { StateAddress } from 'libsodium-wrappers-sumo';
import { InternalError, UsageError, VerificationError } from './errors.ts';
import { assertLength } from './bytes.ts';

let ready = false;

export async function initCrypto(): Promise<void> {
  if (ready) return;
  await sodium.ready;
  ready = true;
}

function lib(): typeof sodium {
  if (!ready) throw new InternalError('initCrypto() must be awaited before using crypto');
  return sodium;
}

/** A source of random bytes. Injected everywhere so tests can script it. */
export interface Random {
  bytes(length: number): Uint8Array;
}

/**
 * The operating system's CSPRNG through the Web Crypto API (Node 20 and browsers), the same
 * source libsodium's WebAssembly build draws from, without its 4-bytes-per-call bridge
 * (which made a ratchet step 2.5 times slower). Only the I/O edge should hand this in.
 */
export const systemRandom: Random = {
  bytes(length: number): Uint8Array {
    if (!Number.isInteger(length) || length < 0) throw new UsageError('random length must be a whole number');
    const out = new Uint8Array(length);
    for (let offset = 0; offset < length; offset += 65536) {
      globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + 65536)));
    }
    return out;
  },
};

export const SIGN_PUBLIC_BYTES = 32;
export const SIGN_SECRET_BYTES = 64;
export const SIGNATURE_BYTES = 64;
export const DH_BYTES = 32;
export const AEAD_KEY_BYTES = 32;
export const AEAD_NONCE_BYTES = 24;
export const AEAD_TAG_BYTES = 16;
export const SEED_BYTES = 32;
export const XWING_PUBLIC_BYTES = 1216;
export const XWING_SECRET_BYTES = 32;
export const XWING_CIPHERTEXT_BYTES = 1120;
export const XWING_ENC_SEED_BYTES = 64;
export const KEM_SHARED_BYTES = 32;

export interface SignKeyPair {
  publicKey: Uint8Array; // 32 bytes
  secretKey: Uint8Array; // 64 bytes (seed || public key), libsodium's layout
}

export interface DhKeyPair {
  publicKey: Uint8Array; // 32 bytes
  secretKey: Uint8Array; // 32 bytes
}

export interface KemKeyPair {
  publicKey: Uint8Array; // 1216 bytes
  secretKey: Uint8Array; // 32 bytes: the X-Wing seed
}

// ---- Ed25519 -------------------------------------------------------------------------

export function signKeyPairFromSeed(seed: Uint8Array): SignKeyPair {
  assertLength(seed, SEED_BYTES, 'Ed25519 seed');
  const kp = lib().crypto_sign_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function generateSignKeyPair(rng: Random): SignKeyPair {
  const seed = rng.bytes(SEED_BYTES);
  try {
    return signKeyPairFromSeed(seed);
  } finally {
    wipe(seed);
  }
}

export function sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  assertLength(secretKey, SIGN_SECRET_BYTES, 'Ed25519 secret key');
  return lib().crypto_sign_detached(message, secretKey);
}

/** Returns false (never throws) for a bad signature or a malformed key/signature. */
export function verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== SIGN_PUBLIC_BYTES || signature.length !== SIGNATURE_BYTES) return false;
  try {
    return lib().crypto_sign_verify_detached(signature, message, publicKey);
  } catch {
    return false;
  }
}

/** Like `verify` but throws VerificationError naming `what`. */
export function assertSignature(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
  what: string,
): void {
  if (!verify(publicKey, message, signature)) throw new VerificationError(`bad signature on ${what}`);
}

/** Birationally maps an Ed25519 public key to X25519 (RFC 7748 §4.1), as libsodium does. */
export function signPublicToDh(publicKey: Uint8Array): Uint8Array {
  assertLength(publicKey, SIGN_PUBLIC_BYTES, 'Ed25519 public key');
  try {
    return lib().crypto_sign_ed25519_pk_to_curve25519(publicKey);
  } catch (cause) {
    throw new VerificationError('Ed25519 public key is not a valid point', { cause });
  }
}

export function signSecretToDh(secretKey: Uint8Array): Uint8Array {
  assertLength(secretKey, SIGN_SECRET_BYTES, 'Ed25519 secret key');
  return lib().crypto_sign_ed25519_sk_to_curve25519(secretKey);
}

// ---- X25519 --------------------------------------------------------------------------

export function dhKeyPairFromSecret(secretKey: Uint8Array): DhKeyPair {
  assertLength(secretKey, DH_BYTES, 'X25519 secret key');
  return { publicKey: lib().crypto_scalarmult_base(secretKey), secretKey };
}

export function generateDhKeyPair(rng: Random): DhKeyPair {
  return dhKeyPairFromSecret(rng.bytes(DH_BYTES));
}

/**
 * X25519(secret, public). Rejects an all-zero output (a low-order peer key, RFC 7748 §6.1):
 * libsodium already returns an error for it, which we surface as VerificationError.
 */
export function dh(secretKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  assertLength(secretKey, DH_BYTES, 'X25519 secret key');
  if (publicKey.length !== DH_BYTES) throw new VerificationError('X25519 public key must be 32 bytes');
  try {
    return lib().crypto_scalarmult(secretKey, publicKey);
  } catch (cause) {
    throw new VerificationError('X25519 public key is of low order', { cause });
  }
}

// ---- AEAD ----------------------------------------------------------------------------

export function seal(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad?: Uint8Array): Uint8Array {
  assertLength(key, AEAD_KEY_BYTES, 'AEAD key');
  assertLength(nonce, AEAD_NONCE_BYTES, 'AEAD nonce');
  return lib().crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad ?? null, null, nonce, key);
}

/** Throws VerificationError when the tag does not check (wrong key, tampered data or AD). */
export function open(
  key: Uint8Array,
  nonce: Uint8Array,
  ciphertext: Uint8Array,
  ad?: Uint8Array,
): Uint8Array {
  assertLength(key, AEAD_KEY_BYTES, 'AEAD key');
  assertLength(nonce, AEAD_NONCE_BYTES, 'AEAD nonce');
  if (ciphertext.length < AEAD_TAG_BYTES) throw new VerificationError('ciphertext shorter than its tag');
  try {
    return lib().crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad ?? null, nonce, key);
  } catch (cause) {
    throw new VerificationError('authenticated decryption failed', { cause });
  }
}

/** seal() with a fresh random nonce, returned as nonce || ciphertext. */
export function sealWithNonce(
  rng: Random,
  key: Uint8Array,
  plaintext: Uint8Array,
  ad?: Uint8Array,
): Uint8Array {
  const nonce = rng.bytes(AEAD_NONCE_BYTES);
  const ct = seal(key, nonce, plaintext, ad);
  const out = new Uint8Array(nonce.length + ct.length);
  out.set(nonce, 0);
  out.set(ct, nonce.length);
  return out;
}

export function openWithNonce(key: Uint8Array, box: Uint8Array, ad?: Uint8Array): Uint8Array {
  if (box.length < AEAD_NONCE_BYTES + AEAD_TAG_BYTES) throw new VerificationError('sealed box too short');
  return open(key, box.subarray(0, AEAD_NONCE_BYTES), box.subarray(AEAD_NONCE_BYTES), ad);
}

// ---- Sealed boxes ---------------------------------------------------------------------

/** An X25519 public key's sealed-box overhead: the ephemeral key and the Poly1305 tag. */
export const SEALED_BOX_OVERHEAD = DH_BYTES + AEAD_TAG_BYTES;

/**
 * libsodium's sealed box (crypto_box_seal, https://doc.libsodium.org/public-key_cryptography/sealed_boxes):
 * an ephemeral X25519 key, nonce = BLAKE2b-192(ephemeral public ‖ recipient public), crypto_box
 * (X25519, XSalsa20-Poly1305), output ephemeral public ‖ box. Built from its parts only so that
 * the ephemeral key comes from `rng` (core takes no randomness implicitly); the output is what
 * crypto_box_seal writes, and `openSealedBox` is crypto_box_seal_open.
 */
export function sealToPublicKey(rng: Random, recipient: Uint8Array, plaintext: Uint8Array): Uint8Array {
  if (recipient.length !== DH_BYTES) throw new UsageError('sealed box recipient must be an X25519 key');
  const eph = generateDhKeyPair(rng);
  try {
    const nonce = lib().crypto_generichash(24, concat(eph.publicKey, recipient), null);
    const box = lib().crypto_box_easy(plaintext, nonce, recipient, eph.secretKey);
    return concat(eph.publicKey, box);
  } catch (cause) {
    throw new VerificationError('sealed box recipient is not a valid key', { cause });
  } finally {
    wipe(eph.secretKey);
  }
}

/** Opens a sealed box for `recipient` (crypto_box_seal_open); VerificationError when it does not open. */
export function openSealedBox(recipient: DhKeyPair, box: Uint8Array): Uint8Array {
  if (box.length < SEALED_BOX_OVERHEAD) throw new VerificationError('sealed box too short');
  try {
    return lib().crypto_box_seal_open(box, recipient.publicKey, recipient.secretKey);
  } catch (cause) {
    throw new VerificationError('sealed box does not open', { cause });
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

// ---- Hashing and key derivation ------------------------------------------------------

/** BLAKE2b with `length` bytes of output (16..64), optionally keyed (RFC 7693). */
export function hash(data: Uint8Array, length = 32, key?: Uint8Array): Uint8Array {
  if (!Number.isInteger(length) || length < 16 || length > 64)
    throw new UsageError('hash length out of range');
  return lib().crypto_generichash(length, data, key ?? null);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  const s = lib();
  const state = s.crypto_auth_hmacsha256_init(key);
  s.crypto_auth_hmacsha256_update(state, data);
  return s.crypto_auth_hmacsha256_final(state);
}

/** HKDF-SHA-256, RFC 5869 §2.2 (extract) and §2.3 (expand). */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 1 || length > 255 * 32)
    throw new UsageError('HKDF length out of range');
  const prk = hmacSha256(salt.length > 0 ? salt : new Uint8Array(32), ikm);
  const out = new Uint8Array(length);
  let previous: Uint8Array = new Uint8Array(0);
  let offset = 0;
  for (let i = 1; offset < length; i++) {
    const input = new Uint8Array(previous.length + info.length + 1);
    input.set(previous, 0);
    input.set(info, previous.length);
    input[input.length - 1] = i;
    previous = hmacSha256(prk, input);
    out.set(previous.subarray(0, Math.min(32, length - offset)), offset);
    offset += 32;
  }
  wipe(prk);
  return out;
}

export interface Argon2idCost {
  opsLimit: number;
  memLimit: number; // bytes
}

/** Whether COST is whole numbers within MIN and MAX on both axes (a peer's cost must not make us allocate gigabytes). */
export function argon2idCostWithin(cost: Argon2idCost, min: Argon2idCost, max: Argon2idCost): boolean {
  const { opsLimit, memLimit } = cost;
  return (
    Number.isSafeInteger(opsLimit) &&
    Number.isSafeInteger(memLimit) &&
    opsLimit >= min.opsLimit &&
    opsLimit <= max.opsLimit &&
    memLimit >= min.memLimit &&
    memLimit <= max.memLimit
  );
}

/**
 * Argon2id profiles (docs/decisions/0027). Real accounts on Node (the CLI): libsodium's
 * "moderate", 3 passes over 256 MiB.
 */
export const ARGON2ID_MODERATE: Argon2idCost = { opsLimit: 3, memLimit: 256 * 1024 * 1024 };
/**
 * Real accounts in a browser (libsodium's WebAssembly, on phones too): 3 passes over 128 MiB,
 * the measured choice of decision 0027.
 */
export const ARGON2ID_BROWSER: Argon2idCost = { opsLimit: 3, memLimit: 128 * 1024 * 1024 };
/**
 * The light profile, for tests only: 2 passes, 64 MiB (libsodium "interactive"). An account
 * stored with it is raised to the profile its client asks for when next opened.
 */
export const ARGON2ID_INTERACTIVE: Argon2idCost = { opsLimit: 2, memLimit: 64 * 1024 * 1024 };
export const ARGON2ID_SALT_BYTES = 16;

export function argon2id(
  password: Uint8Array,
  salt: Uint8Array,
  cost: Argon2idCost,
  length = 32,
): Uint8Array {
  assertLength(salt, ARGON2ID_SALT_BYTES, 'Argon2id salt');
  const s = lib();
  return s.crypto_pwhash(
    length,
    password,
    salt,
    cost.opsLimit,
    cost.memLimit,
    s.crypto_pwhash_ALG_ARGON2ID13,
  );
}

// ---- KEMs ----------------------------------------------------------------------------

export function xwingKeyPairFromSeed(seed: Uint8Array): KemKeyPair {
  assertLength(seed, XWING_SECRET_BYTES, 'X-Wing seed');
  const kp = lib().crypto_kem_xwing_seed_keypair(seed);
  return { publicKey: kp.publicKey, secretKey: kp.privateKey };
}

export function generateXwingKeyPair(rng: Random): KemKeyPair {
  return xwingKeyPairFromSeed(rng.bytes(XWING_SECRET_BYTES));
}

export interface Encapsulation {
  ciphertext: Uint8Array;
  sharedSecret: Uint8Array;
}

export function xwingEncapsulate(rng: Random, publicKey: Uint8Array): Encapsulation {
  return xwingEncapsulateDeterministic(publicKey, rng.bytes(XWING_ENC_SEED_BYTES));
}

export function xwingEncapsulateDeterministic(publicKey: Uint8Array, seed: Uint8Array): Encapsulation {
  if (publicKey.length !== XWING_PUBLIC_BYTES)
    throw new VerificationError('X-Wing public key has the wrong size');
  assertLength(seed, XWING_ENC_SEED_BYTES, 'X-Wing encapsulation seed');
  try {
    return lib().crypto_kem_xwing_enc_deterministic(publicKey, seed);
  } catch (cause) {
    throw new VerificationError('X-Wing public key rejected', { cause });
  }
}

export function xwingDecapsulate(secretKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  assertLength(secretKey, XWING_SECRET_BYTES, 'X-Wing secret key');
  if (ciphertext.length !== XWING_CIPHERTEXT_BYTES)
    throw new VerificationError('X-Wing ciphertext has the wrong size');
  try {
    return lib().crypto_kem_xwing_dec(ciphertext, secretKey);
  } catch (cause) {
    throw new VerificationError('X-Wing decapsulation failed', { cause });
  }
}

/** ML-KEM-768 (FIPS 203), exposed for known-answer tests of the KEM under X-Wing. */
export const mlkem768 = {
  keyPairFromSeed(seed: Uint8Array): KemKeyPair {
    assertLength(seed, 64, 'ML-KEM-768 seed (d || z)');
    const kp = lib().crypto_kem_mlkem768_seed_keypair(seed);
    return { publicKey: kp.publicKey, secretKey: kp.privateKey };
  },
  encapsulateDeterministic(publicKey: Uint8Array, m: Uint8Array): Encapsulation {
    return lib().crypto_kem_mlkem768_enc_deterministic(publicKey, m);
  },
  decapsulate(secretKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
    return lib().crypto_kem_mlkem768_dec(ciphertext, secretKey);
  },
};

// ---- Secret streams -----------------------------------------------------------------
//
// libsodium's crypto_secretstream_xchacha20poly1305 (documented at
// https://doc.libsodium.org/secret-key_cryptography/secretstream): a key and a 24-byte
// header start a stream; the state key is HChaCha20(key, header[0..16]) and the nonce a
// 32-bit counter (1 at the start) with header[16..24]. Each message is ChaCha20-Poly1305
// encrypted with a one-byte tag, and the MAC is folded into the next nonce, so messages can
// be neither reordered, dropped nor truncated without the reader noticing (the FINAL tag
// marks the end). Files are cut into such messages (file-stream.ts).
//
// init_push would draw the header from libsodium's own generator. We take the header as a
// parameter instead (randomness is injected), and start both directions with init_pull:
// for a given key and header, init_push and init_pull set up the same state, so the writer
// is deterministic and can be re-run from the start to resume an interrupted upload.

export const SECRETSTREAM_KEY_BYTES = 32;
export const SECRETSTREAM_HEADER_BYTES = 24;
/** Bytes a secretstream message grows by: the tag byte and the 16-byte MAC. */
export const SECRETSTREAM_ABYTES = 17;

/**
 * An open secretstream state (inside libsodium's memory); use it in one direction only.
 * libsodium-wrappers offers no way to free or wipe it: its 52 bytes stay in the WebAssembly
 * heap (a small leak per file, and key material `wipe` cannot reach).
 */
export interface SecretStream {
  readonly kind: 'secretstream';
  readonly state: StateAddress;
}

export function openSecretStream(key: Uint8Array, header: Uint8Array): SecretStream {
  assertLength(key, SECRETSTREAM_KEY_BYTES, 'secretstream key');
  assertLength(header, SECRETSTREAM_HEADER_BYTES, 'secretstream header');
  return { kind: 'secretstream', state: lib().crypto_secretstream_xchacha20poly1305_init_pull(header, key) };
}

/** Encrypts the next message of the stream; `final` marks the last one (TAG_FINAL). */
export function secretStreamPush(stream: SecretStream, message: Uint8Array, final: boolean): Uint8Array {
  const s = lib();
  const tag = final ? s.crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
  return s.crypto_secretstream_xchacha20poly1305_push(stream.state, message, null, tag);
}

/**
 * Decrypts the next message of the stream. Throws VerificationError when it does not
 * authenticate (wrong key, tampered, reordered or from another stream).
 */
export function secretStreamPull(
  stream: SecretStream,
  ciphertext: Uint8Array,
): { message: Uint8Array; final: boolean } {
  if (ciphertext.length < SECRETSTREAM_ABYTES) throw new VerificationError('secretstream message too short');
  const s = lib();
  let out: { message: Uint8Array; tag: number } | false;
  try {
    out = s.crypto_secretstream_xchacha20poly1305_pull(stream.state, ciphertext, null);
  } catch (cause) {
    throw new VerificationError('secretstream message does not authenticate', { cause });
  }
  if (!out) throw new VerificationError('secretstream message does not authenticate');
  const final = out.tag === s.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  if (!final && out.tag !== 0) throw new VerificationError('secretstream message has an unexpected tag');
  return { message: out.message, final };
}

/** BLAKE2b (RFC 7693) over data given in pieces: the same digest as `hash` of their concatenation. */
export interface Hasher {
  update(data: Uint8Array): void;
  digest(): Uint8Array;
}

export function createHasher(length = 32): Hasher {
  if (!Number.isInteger(length) || length < 16 || length > 64)
    throw new UsageError('hash length out of range');
  const s = lib();
  const state = s.crypto_generichash_init(null, length);
  let done = false;
  return {
    update(data) {
      if (done) throw new UsageError('hasher already finished');
      s.crypto_generichash_update(state, data);
    },
    digest() {
      if (done) throw new UsageError('hasher already finished');
      done = true;
      return s.crypto_generichash_final(state, length);
    },
  };
}

// ---- Secret hygiene ------------------------------------------------------------------

/** Constant-time equality for secrets and MACs (sodium_memcmp). */
export function equalSecret(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  return lib().memcmp(a, b);
}

/** Overwrites key material with zeros (sodium_memzero). */
export function wipe(...buffers: Array<Uint8Array | undefined>): void {
  for (const b of buffers) if (b && b.length > 0) lib().memzero(b);
}
