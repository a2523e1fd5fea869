/**
 * Pre-rotation of member keys (docs/decisions/0040; decision 0030 "Revocation" step 3). Each
 * member key commits, in my join (or the create), to the next one; the next key's seed is kept
 * sealed to the account key's X25519 half, so any of my devices can keep it but only someone who
 * types the passphrase can open it. After a device of mine is revoked, the revoking device opens
 * it and signs a `rekey` (core group-event.ts): members accept the new key only if it is the one
 * committed to, which a thief holding the old member key cannot produce.
 *
 *   sealed = ephemeral X25519 public (32) ‖ XChaCha20-Poly1305(key, nonce 0, seed)
 *   key    = BLAKE2b-256(context ‖ X25519(ephemeral, account key as X25519) ‖ ephemeral ‖ recipient)
 *
 * A fresh ephemeral key per seal makes the all-zero nonce safe (one message per key).
 */
import {
  VerificationError,
  concatBytes,
  dh,
  generateDhKeyPair,
  hash,
  open,
  seal,
  signPublicToDh,
  signSecretToDh,
  utf8,
  wipe,
  type Random,
  type SignKeyPair,
} from '@parus/core';

const CONTEXT = utf8('parus-group-next-member-seal-v1');
const NONCE = new Uint8Array(24);
export const SEALED_MEMBER_SEED_BYTES = 32 + 32 + 16;

function sealKey(shared: Uint8Array, ephemeral: Uint8Array, recipient: Uint8Array): Uint8Array {
  return hash(concatBytes(CONTEXT, shared, ephemeral, recipient), 32);
}

/** Seals a next member key's 32-byte seed to the account key (Ed25519 public, from the device log). */
export function sealMemberSeed(rng: Random, accountKey: Uint8Array, seed: Uint8Array): Uint8Array {
  const recipient = signPublicToDh(accountKey);
  const e = generateDhKeyPair(rng);
  const shared = dh(e.secretKey, recipient);
  const key = sealKey(shared, e.publicKey, recipient);
  try {
    return concatBytes(e.publicKey, seal(key, NONCE, seed));
  } finally {
    wipe(shared, key, e.secretKey);
  }
}

/** Opens a sealed seed with the account key pair (derived from the passphrase); VerificationError if not. */
export function openMemberSeed(accountKey: SignKeyPair, sealed: Uint8Array): Uint8Array {
  if (sealed.length !== SEALED_MEMBER_SEED_BYTES)
    throw new VerificationError('sealed member key has the wrong size');
  const recipient = signPublicToDh(accountKey.publicKey);
  const secret = signSecretToDh(accountKey.secretKey);
  const ephemeral = sealed.subarray(0, 32);
  const shared = dh(secret, ephemeral);
  const key = sealKey(shared, ephemeral, recipient);
  try {
    return open(key, NONCE, sealed.subarray(32));
  } finally {
    wipe(shared, key, secret);
  }
}
